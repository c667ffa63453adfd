import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../core/index.ts';
import { glueTableInput, s3LakeLayout } from '../../../core/catalog/index.ts';
import { withEvolvedColumns } from '../../../core/catalog/glue-catalog.ts';
import { emptyManifest, type TableManifest } from '../../../core/table/index.ts';

const layout = s3LakeLayout({ default: 's3://example-lake-bucket/lake' });
const spec = defineTable({
  name: 'silver.notes', description: 'Notes.', writeMode: 'replace_partitions', partitionBy: ['day'],
  columns: [{ name: 'id', type: 'VARCHAR', description: 'Id.' }, { name: 'day', type: 'DATE', description: 'Partition.' }],
});

describe('columns added by schema evolution in the Glue catalog', () => {
  it('publishes the committed columns: declared ones, then evolved ones typed for Glue, partition keys apart', () => {
    const manifest: TableManifest = {
      ...emptyManifest('silver.notes', [], ['day']),
      columns: [
        { name: 'id', type: 'VARCHAR' },
        { name: 'flags', type: 'BOOLEAN', origin: 'dynamodb:BOOL:flags' },
        { name: 'avatar', type: 'BLOB', origin: 'dynamodb:B:avatar' },
        { name: 'tags', type: 'VARCHAR[]', origin: 'dynamodb:SS:tags' },
        { name: 'day', type: 'DATE' },
      ],
    };
    const input = glueTableInput(withEvolvedColumns(spec, manifest), { layout, version: 1 });
    expect(input.StorageDescriptor?.Columns?.map((column) => [column.Name, column.Type])).toEqual([
      ['id', 'string'], ['flags', 'boolean'], ['avatar', 'binary'], ['tags', 'array<string>'],
    ]);
    expect(input.StorageDescriptor?.Columns?.[1]?.Comment).toBe('Added by schema evolution (dynamodb:BOOL:flags).');
    expect(input.PartitionKeys?.map((column) => column.Name)).toEqual(['day']);
    // Nothing evolved: the spec as declared.
    expect(withEvolvedColumns(spec, { ...manifest, columns: [{ name: 'id', type: 'VARCHAR' }, { name: 'day', type: 'DATE' }] })).toBe(spec);
  });
});
