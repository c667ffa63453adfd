import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CreateTableCommandInput, PartitionInput, TableInput } from '@aws-sdk/client-glue';
import { describe, expect, it, vi } from 'vitest';
import { defineTable, type TableSpec } from '../../../core/index.ts';
import { GLUE_BATCH_LIMITS, GlueCatalog, glueTableInput, gluePartitionInput, s3LakeLayout } from '../../../core/catalog/index.ts';
import { symlinkFolder, tablePrefix } from '../../../core/layout/index.ts';
import { FileStateStore, type LakeRoot } from '../../../core/state/index.ts';
import { LocalStorage } from '../../../core/storage/index.ts';
import { commitTables, partitionKey, type PartitionEntry } from '../../../core/table/index.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';
import { useTempDirs } from '../test-resources.ts';
import { capturingGlue } from './glue-capture.ts';

const layout = s3LakeLayout({ default: 's3://example-lake-bucket/lake', gold: 's3://example-gold-bucket' });

const eventsTable = defineTable({
  name: 'bronze.example_events',
  description: 'Example events, one partition per day.',
  columns: [
    { name: 'event_id', type: 'VARCHAR', description: "The event's id." },
    { name: 'payload', type: 'STRUCT(user_id VARCHAR, tags VARCHAR[], amount DECIMAL(12,2))', description: 'What happened.' },
    { name: 'ingest_date', type: 'DATE', description: 'UTC day the event landed.' },
  ],
  partitionBy: ['ingest_date'],
  writeMode: 'replace_partitions',
});

const totalsTable = defineTable({
  name: 'gold.example_totals',
  description: 'Totals, not partitioned.',
  columns: [{ name: 'total', type: 'BIGINT', description: 'Events in all.' }],
  partitionBy: [],
  writeMode: 'replace_partitions',
});

function day(index: number): string {
  return new Date(Date.UTC(2025, 0, 1) + index * 86_400_000).toISOString().slice(0, 10);
}

function partitions(spec: TableSpec, runId: string, days: readonly number[]): Record<string, PartitionEntry> {
  const out: Record<string, PartitionEntry> = {};
  for (const index of days) {
    const values = { ingest_date: day(index) };
    const folder = `${tablePrefix(spec.name)}${runId}/ingest_date=${day(index)}`;
    out[partitionKey(spec.partitionBy, values)] = {
      values,
      files: [
        { key: `${folder}/data_0.parquet`, rows: 10, sizeBytes: 100 },
        { key: `${folder}/data_1.parquet`, rows: 5, sizeBytes: 50 },
      ],
    };
  }
  return out;
}

async function setUp(tempDir: () => Promise<string>) {
  const dir = await tempDir();
  const storage = new LocalStorage(dir);
  const state = new FileStateStore(path.join(dir, '_state'));
  const capture = capturingGlue();
  const catalog = new GlueCatalog({ glue: capture.glue, storage, state, layout, databasePrefix: 'example', tables: [eventsTable, totalsTable] });
  return { dir, storage, state, catalog, ...capture };
}

describe('Glue TableInput and PartitionInput', () => {
  it('type-check against the SDK and carry every member CreateTable needs', () => {
    for (const spec of PIPELINE_TABLES) {
      const input: TableInput = glueTableInput(spec, { layout, version: 3 });
      const request: CreateTableCommandInput = { DatabaseName: 'example_gold', TableInput: input };
      expect(request.TableInput?.Name).toBe(spec.name.split('.')[1]);
      expect(input.TableType).toBe('EXTERNAL_TABLE');
      expect(input.Parameters).toMatchObject({ classification: 'parquet', EXTERNAL: 'TRUE', 'medallion.version': '3' });
      expect(input.PartitionKeys?.map((key) => key.Name)).toEqual(spec.partitionBy);
      const columns = input.StorageDescriptor?.Columns ?? [];
      expect(columns.map((column) => column.Name)).toEqual(spec.columns.filter((column) => !spec.partitionBy.includes(column.name)).map((column) => column.name));
      for (const column of [...columns, ...(input.PartitionKeys ?? [])]) {
        expect(column.Type).toMatch(/^[a-z]/);
        expect((column.Comment ?? '').length).toBeGreaterThan(0);
        expect((column.Comment ?? '').length).toBeLessThanOrEqual(255);
      }
      expect(input.StorageDescriptor).toMatchObject({
        InputFormat: 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat',
        OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
        SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      });
      const location = input.StorageDescriptor?.Location ?? '';
      if (spec.partitionBy.length > 0) expect(location).toMatch(/\/_symlink\/[a-z_]+\/$/);
      else expect(location).toMatch(/\/_symlink\/[a-z_]+\/v3\/$/);
    }
  });

  it('locate a partition at its symlink folder with its values in partition-key order', () => {
    const entry = Object.values(partitions(eventsTable, 'run-1', [0]))[0] as PartitionEntry;
    const input: PartitionInput = gluePartitionInput(eventsTable, entry, { layout, symlinkFolderKey: symlinkFolder(eventsTable.name, 7, 'ingest_date=2025-01-01'), digest: 'abc' });
    expect(input.Values).toEqual(['2025-01-01']);
    expect(input.StorageDescriptor?.Location).toBe('s3://example-lake-bucket/lake/bronze/_symlink/example_events/v7/ingest_date=2025-01-01/');
    expect(input.StorageDescriptor?.Columns?.map((column) => `${column.Name} ${column.Type}`)).toEqual([
      'event_id string', 'payload struct<user_id:string,tags:array<string>,amount:decimal(12,2)>',
    ]);
  });
});

describe('GlueCatalog', () => {
  const tempDir = useTempDirs();

  it("touches only the tables a commit wrote when told which (a job's role may reach only its own)", async () => {
    const lake = await setUp(tempDir);
    const { root } = await commitTables(lake.state, {
      runId: 'run-1', basedOn: await lake.state.readRoot(),
      writes: [
        { spec: eventsTable, kind: 'replace_all', partitions: partitions(eventsTable, 'run-1', [0, 1]) },
        { spec: totalsTable, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: 'gold/example_totals/run-1/data_0.parquet', rows: 1, sizeBytes: 10 }] } } },
      ],
    });
    await lake.catalog.publish(root, { tables: ['gold.example_totals'] });
    expect(lake.requests.length).toBeGreaterThan(0);
    for (const request of lake.requests) {
      expect(JSON.stringify(request.body), request.operation).not.toContain('example_bronze');
      expect(JSON.stringify(request.body), request.operation).not.toContain('example_events');
    }
    expect(lake.writes().map((request) => request.operation)).toEqual(['CreateDatabase', 'CreateTable']);
  });

  it('creates databases, tables and partitions through the SDK, then sends no writes for the same root', async () => {
    const lake = await setUp(tempDir);
    const first = await commitTables(lake.state, {
      runId: 'run-1', basedOn: await lake.state.readRoot(),
      writes: [
        { spec: eventsTable, kind: 'replace_all', partitions: partitions(eventsTable, 'run-1', Array.from({ length: 150 }, (_, index) => index)) },
        { spec: totalsTable, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: 'gold/example_totals/run-1/data_0.parquet', rows: 1, sizeBytes: 10 }] } } },
      ],
    });
    const root: LakeRoot = first.root;
    await lake.catalog.publish(root);

    // Every request went to the loopback endpoint as AWS JSON 1.1, named by its X-Amz-Target.
    for (const request of lake.requests) {
      expect(request.url).toBe('http://127.0.0.1/');
      expect(request.contentType).toBe('application/x-amz-json-1.1');
      expect(request.target).toBe(`AWSGlue.${request.operation}`);
    }
    const writes = lake.writes();
    expect(writes.map((request) => request.operation)).toEqual([
      'CreateDatabase', 'CreateDatabase', 'CreateTable', 'BatchCreatePartition', 'BatchCreatePartition', 'CreateTable',
    ]);
    expect(writes.filter((request) => request.operation === 'CreateDatabase').map((request) => request.body.DatabaseInput.Name)).toEqual(['example_bronze', 'example_gold']);
    const createEvents = writes.find((request) => request.operation === 'CreateTable' && request.body.TableInput.Name === 'example_events');
    expect(createEvents?.body).toMatchObject({
      DatabaseName: 'example_bronze',
      TableInput: {
        Name: 'example_events', TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'ingest_date', Type: 'date', Comment: 'UTC day the event landed.' }],
        StorageDescriptor: { Location: 's3://example-lake-bucket/lake/bronze/_symlink/example_events/' },
      },
    });
    const batches = writes.filter((request) => request.operation === 'BatchCreatePartition');
    expect(batches.map((request) => request.body.PartitionInputList.length)).toEqual([100, 50]);
    for (const batch of batches) {
      expect(batch.body).toMatchObject({ DatabaseName: 'example_bronze', TableName: 'example_events' });
      for (const input of batch.body.PartitionInputList) {
        expect(input.Values).toHaveLength(1);
        expect(input.StorageDescriptor.Location).toBe(`s3://example-lake-bucket/lake/bronze/_symlink/example_events/v1/ingest_date=${input.Values[0]}/`);
      }
    }
    const createTotals = writes.find((request) => request.operation === 'CreateTable' && request.body.TableInput.Name === 'example_totals');
    expect(createTotals?.body.TableInput.StorageDescriptor.Location).toBe('s3://example-gold-bucket/gold/_symlink/example_totals/v1/');

    // The symlink manifests list exactly the committed files, as s3:// URIs.
    const manifestText = await readFile(path.join(lake.dir, 'bronze/_symlink/example_events/v1/ingest_date=2025-01-02/manifest'), 'utf8');
    expect(manifestText).toBe(
      's3://example-lake-bucket/lake/bronze/example_events/run-1/ingest_date=2025-01-02/data_0.parquet\n' +
        's3://example-lake-bucket/lake/bronze/example_events/run-1/ingest_date=2025-01-02/data_1.parquet\n',
    );
    expect(await readFile(path.join(lake.dir, 'gold/_symlink/example_totals/v1/manifest'), 'utf8')).toBe('s3://example-gold-bucket/gold/example_totals/run-1/data_0.parquet\n');

    // Publishing the same root again only reads, in Glue and in storage.
    const before = lake.requests.length;
    const put = vi.spyOn(lake.storage, 'put');
    await lake.catalog.publish(root);
    expect(lake.requests.slice(before).map((request) => request.operation).filter((operation) => !operation.startsWith('Get'))).toEqual([]);
    expect(lake.requests.slice(before).some((request) => request.operation === 'GetPartitions' && request.body.NextToken)).toBe(true);
    expect(put).not.toHaveBeenCalled();
  });

  it('after a commit that replaces partitions, updates changed ones, creates new ones and deletes dropped ones', async () => {
    const lake = await setUp(tempDir);
    const first = await commitTables(lake.state, {
      runId: 'run-1', basedOn: await lake.state.readRoot(),
      writes: [{ spec: eventsTable, kind: 'replace_all', partitions: partitions(eventsTable, 'run-1', Array.from({ length: 60 }, (_, index) => index)) }],
    });
    await lake.catalog.publish(first.root);
    const before = lake.requests.length;

    // Days 0-19 unchanged, 20-29 rewritten by run-2, 30-59 dropped (30 > one delete batch), 60-64 new.
    const kept = partitions(eventsTable, 'run-1', Array.from({ length: 20 }, (_, index) => index));
    const rewritten = partitions(eventsTable, 'run-2', [...Array.from({ length: 10 }, (_, index) => 20 + index), 60, 61, 62, 63, 64]);
    const second = await commitTables(lake.state, {
      runId: 'run-2', basedOn: first.root,
      writes: [{ spec: eventsTable, kind: 'replace_all', partitions: { ...kept, ...rewritten } }],
    });
    await lake.catalog.publish(second.root);
    const writes = lake.requests.slice(before).filter((request) => !request.operation.startsWith('Get'));
    expect(writes.map((request) => request.operation)).toEqual(['UpdateTable', 'BatchCreatePartition', 'BatchUpdatePartition', 'BatchDeletePartition', 'BatchDeletePartition']);
    expect(writes[0]?.body).toMatchObject({ DatabaseName: 'example_bronze', SkipArchive: true, TableInput: { Parameters: { 'medallion.version': '2' } } });
    expect(writes[1]?.body.PartitionInputList.map((input: PartitionInput) => input.Values?.[0])).toEqual([day(60), day(61), day(62), day(63), day(64)]);
    const updates = writes[2]?.body.Entries as { PartitionValueList: string[]; PartitionInput: PartitionInput }[];
    expect(updates.map((entry) => entry.PartitionValueList[0])).toEqual(Array.from({ length: 10 }, (_, index) => day(20 + index)));
    for (const entry of updates) expect(entry.PartitionInput.StorageDescriptor?.Location).toContain('/_symlink/example_events/v2/');
    const deleted = writes.slice(3).map((request) => request.body.PartitionsToDelete.length);
    expect(deleted).toEqual([GLUE_BATCH_LIMITS.delete, 5]);

    // Glue now shows exactly the committed partitions; unchanged ones still read their v1 manifests.
    const glued = lake.partitions.get('example_bronze.example_events') as Map<string, Record<string, any>>;
    expect([...glued.keys()].map((id) => JSON.parse(id)[0]).sort()).toEqual(Object.values({ ...kept, ...rewritten }).map((entry) => entry.values.ingest_date).sort());
    expect(glued.get(JSON.stringify([day(0)]))?.StorageDescriptor.Location).toContain('/v1/');
    const rewrittenText = await readFile(path.join(lake.dir, `bronze/_symlink/example_events/v2/ingest_date=${day(25)}/manifest`), 'utf8');
    expect(rewrittenText.trim().split('\n')).toEqual([
      `s3://example-lake-bucket/lake/bronze/example_events/run-2/ingest_date=${day(25)}/data_0.parquet`,
      `s3://example-lake-bucket/lake/bronze/example_events/run-2/ingest_date=${day(25)}/data_1.parquet`,
    ]);
  });

  it('publishes the newest root even when asked for an older one', async () => {
    const lake = await setUp(tempDir);
    const first = await commitTables(lake.state, {
      runId: 'run-1', basedOn: await lake.state.readRoot(),
      writes: [{ spec: totalsTable, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: 'gold/example_totals/run-1/a.parquet', rows: 1, sizeBytes: 1 }] } } }],
    });
    await commitTables(lake.state, {
      runId: 'run-2', basedOn: first.root,
      writes: [{ spec: totalsTable, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: 'gold/example_totals/run-2/b.parquet', rows: 1, sizeBytes: 1 }] } } }],
    });
    await lake.catalog.publish(first.root);
    expect(lake.tables.get('example_gold.example_totals')?.StorageDescriptor.Location).toBe('s3://example-gold-bucket/gold/_symlink/example_totals/v2/');
    expect(await readFile(path.join(lake.dir, 'gold/_symlink/example_totals/v2/manifest'), 'utf8')).toBe('s3://example-gold-bucket/gold/example_totals/run-2/b.parquet\n');
  });

  it('refuses a committed table it has no spec for, naming it', async () => {
    const lake = await setUp(tempDir);
    const other = defineTable({ ...totalsTable, name: 'gold.unknown_totals' });
    const commit = await commitTables(lake.state, {
      runId: 'run-1', basedOn: await lake.state.readRoot(),
      writes: [{ spec: other, kind: 'replace_all', partitions: { '': { values: {}, files: [] } } }],
    });
    await expect(lake.catalog.publish(commit.root)).rejects.toThrow(/GLUE|gold\.unknown_totals/);
  });
});
