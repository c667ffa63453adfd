import { describe, expect, it } from 'vitest';
import type { TableSpec } from '../../core/index.ts';
import { GlueTypeMappingError, glueTableShape } from '../../infra/index.ts';

const spec = (columns: [string, string][], partitionBy: string[] = []): TableSpec => ({
  name: 'silver.example',
  description: 'an example',
  columns: columns.map(([name, type]) => ({ name, type, description: `${name} column` })),
  partitionBy,
  writeMode: 'replace_partitions',
});

describe('glueTableShape', () => {
  it('maps every DuckDB type the jobs use to its Glue type, keeping column order', () => {
    const shape = glueTableShape(
      spec([
        ['a', 'VARCHAR'],
        ['b', 'BIGINT'],
        ['c', 'INTEGER'],
        ['d', 'DOUBLE'],
        ['e', 'BOOLEAN'],
        ['f', 'DATE'],
        ['g', 'TIMESTAMP'],
        ['h', 'JSON'],
        ['i', 'VARCHAR[]'],
        ['j', 'HUGEINT'],
      ]),
    );
    expect(shape.columns.map((column) => [column.name, column.type])).toEqual([
      ['a', 'string'],
      ['b', 'bigint'],
      ['c', 'int'],
      ['d', 'double'],
      ['e', 'boolean'],
      ['f', 'date'],
      ['g', 'timestamp'],
      ['h', 'string'],
      ['i', 'array<string>'],
      ['j', 'decimal(38,0)'],
    ]);
    expect(shape.partitionKeys).toEqual([]);
  });

  it('moves partition columns out of the data columns, in partition order', () => {
    const shape = glueTableShape(spec([['event_date', 'DATE'], ['id', 'VARCHAR'], ['job', 'VARCHAR']], ['job', 'event_date']));
    expect(shape.columns.map((column) => column.name)).toEqual(['id']);
    expect(shape.partitionKeys).toEqual([
      { name: 'job', type: 'string', comment: 'job column' },
      { name: 'event_date', type: 'date', comment: 'event_date column' },
    ]);
  });

  it('names every column whose type has no Glue mapping in one error', () => {
    const unmappable = spec([['a', 'INTERVAL'], ['b', 'VARCHAR'], ['c', 'STRUCT(x INTEGER)']]);
    expect(() => glueTableShape(unmappable)).toThrow(GlueTypeMappingError);
    expect(() => glueTableShape(unmappable)).toThrow(/silver\.example\.a: INTERVAL\nsilver\.example\.c: STRUCT\(x INTEGER\)/);
  });
});
