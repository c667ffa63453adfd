import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, openLocalLake, runJob, tableSource, type Lake } from '../../../core/index.ts';
import { attachTables } from '../../../core/catalog/index.ts';
import { fileSchema, tableVersionSql, filesHoldManifestColumns, manifestFiles, type TableManifest } from '../../../core/table/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

const seed = defineTable({ name: 'bronze.seed', description: 'Seed.', writeMode: 'append', partitionBy: [], columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }] });
const seedJob = defineJob({
  name: 'bronze.seed', description: 'Seed rows.', sources: { none: { kind: 'landing', prefix: 'landing/none/' } }, outputs: [seed],
  transform: () => ({ outputs: { 'bronze.seed': 'SELECT range::BIGINT AS id FROM range(3)' } }),
});
const itemsV1 = defineTable({
  name: 'silver.items', description: 'Items, first version.', writeMode: 'append', partitionBy: ['day'],
  columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }, { name: 'day', type: 'DATE', description: 'Partition.' }],
});
/** The same table with a column added, as a new release of the job declares it. */
const itemsV2 = defineTable({
  ...itemsV1,
  description: 'Items, with a note.',
  columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }, { name: 'note', type: 'VARCHAR', description: 'Added later.' }, { name: 'day', type: 'DATE', description: 'Partition.' }],
});
const v1 = defineJob({
  name: 'silver.items', description: 'v1', sources: { seed: tableSource('bronze.seed') }, outputs: [itemsV1],
  transform: ({ input }) => ({ outputs: { 'silver.items': `SELECT id, DATE '2025-11-01' + id::INTEGER AS day FROM ${input('seed')}` } }),
});
/** Reads its own table as last committed (before the column existed) and adds a row. */
const v2 = defineJob({
  name: 'silver.items', description: 'v2', sources: { seed: tableSource('bronze.seed') }, outputs: [itemsV2],
  transform: ({ previous }) => ({
    outputs: {
      'silver.items': `SELECT id, note, day FROM ${previous('silver.items')}
                       UNION ALL SELECT id + 10 AS id, coalesce(note, 'was NULL') AS note, day FROM ${previous('silver.items')}`,
    },
  }),
});

async function query(lake: Lake, sql: string) {
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
  try {
    return (await engine.query(sql)).rows;
  } finally {
    await attached.release();
    engine.close();
  }
}

describe('a column added to a table', () => {
  it('reads as NULL from files written before it existed, in the job that adds it and in queries after', async () => {
    const lake = openLocalLake(await tempDir('added-columns'), { threads: 1 });
    await runJob(lake, seedJob);
    await runJob(lake, v1);
    await runJob(lake, v2);
    expect(await query(lake, 'SELECT id, note, day::VARCHAR AS day FROM silver.items ORDER BY id')).toEqual([
      { id: 0, note: null, day: '2025-11-01' },
      { id: 1, note: null, day: '2025-11-02' },
      { id: 2, note: null, day: '2025-11-03' },
      { id: 10, note: 'was NULL', day: '2025-11-01' },
      { id: 11, note: 'was NULL', day: '2025-11-02' },
      { id: 12, note: 'was NULL', day: '2025-11-03' },
    ]);
    expect((await lake.state.readRoot()).tables['silver.items']?.version).toBe(2);
  });

  it('is told apart by the schema each file records: files that all hold the table\'s columns bind from one footer', async () => {
    const lake = openLocalLake(await tempDir('file-schemas'), { threads: 1 });
    await runJob(lake, seedJob);
    await runJob(lake, v1);
    const root = await lake.state.readRoot();
    const manifest = await lake.state.getDocument<TableManifest>(root.tables['silver.items']?.manifest as string);
    const files = manifestFiles(manifest);
    expect(files.length).toBe(3);
    // Partition columns are not in the files, so they are not in the fingerprint.
    expect(files.every((file) => file.schema === fileSchema([{ name: 'id', type: 'BIGINT' }], []))).toBe(true);
    expect(filesHoldManifestColumns(manifest)).toBe(true);
    const paths = new Map(files.map((file) => [file.key, `/lake/${file.key}`]));
    expect(tableVersionSql(manifest, paths)).toContain('union_by_name = false');
    // The table as v2 declares it: the files lack the new column, so their footers decide.
    const declaredLater = { ...manifest, columns: itemsV2.columns.map(({ name, type }) => ({ name, type })) };
    expect(filesHoldManifestColumns(declaredLater)).toBe(false);
    expect(tableVersionSql(declaredLater, paths)).toContain('union_by_name = true');
    // A file written before schemas were recorded.
    const [firstKey, firstEntry] = Object.entries(manifest.partitions)[0] as [string, TableManifest['partitions'][string]];
    const older = { ...manifest, partitions: { ...manifest.partitions, [firstKey]: { ...firstEntry, files: firstEntry.files.map(({ key, rows, sizeBytes }) => ({ key, rows, sizeBytes })) } } };
    expect(filesHoldManifestColumns(older)).toBe(false);
  });
});
