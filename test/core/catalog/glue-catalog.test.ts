import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CreateTableCommandInput, PartitionInput, TableInput } from '@aws-sdk/client-glue';
import { describe, expect, it, vi } from 'vitest';
import { defineTable, type TableSpec } from '../../../core/index.ts';
import { glueTableInput, gluePartitionInput, s3LakeLayout } from '../../../core/catalog/index.ts';
import { GLUE_BATCH_LIMITS, GlueCatalog } from '../../../core/catalog/glue-catalog.ts';
import { accessAllows, jobLakeAccess, jobQuarantinePrefix, symlinkFolder, tablePrefix } from '../../../core/layout/index.ts';
import { FileStateStore, type LakeRoot } from '../../../core/state/index.ts';
import { LocalStorage } from '../../../core/storage/index.ts';
import { commitTables, partitionKey, QUARANTINE_TABLE, type PartitionEntry } from '../../../core/table/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../../jobs/index.ts';
import { useTempDirs } from '../test-resources.ts';
import { capturingGlue } from './glue-capture.ts';
import { mulberry32 } from '../../support/seeded-random.ts';

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
      else expect(location).toMatch(/\/_symlink\/[a-z_]+\/current\/$/);
    }
  });

  it('locate a partition at its symlink folder with its values in partition-key order', () => {
    const entry = Object.values(partitions(eventsTable, 'run-1', [0]))[0] as PartitionEntry;
    const input: PartitionInput = gluePartitionInput(eventsTable, entry, { layout, symlinkFolderKey: symlinkFolder(eventsTable.name, 7, 'ingest_date=2025-01-01'), digest: 'abc', version: 7 });
    expect(input.Values).toEqual(['2025-01-01']);
    expect(input.Parameters).toEqual({ 'medallion.files_sha256': 'abc', 'medallion.version': '7' });
    expect(input.StorageDescriptor?.Location).toBe('s3://example-lake-bucket/lake/bronze/_symlink/example_events/ingest_date=2025-01-01/v7/');
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
        expect(input.StorageDescriptor.Location).toBe(`s3://example-lake-bucket/lake/bronze/_symlink/example_events/ingest_date=${input.Values[0]}/v1/`);
      }
    }
    const createTotals = writes.find((request) => request.operation === 'CreateTable' && request.body.TableInput.Name === 'example_totals');
    expect(createTotals?.body.TableInput.StorageDescriptor.Location).toBe('s3://example-gold-bucket/gold/_symlink/example_totals/current/');

    // The symlink manifests list exactly the committed files, as s3:// URIs.
    const manifestText = await readFile(path.join(lake.dir, 'bronze/_symlink/example_events/ingest_date=2025-01-02/v1/manifest'), 'utf8');
    expect(manifestText).toBe(
      's3://example-lake-bucket/lake/bronze/example_events/run-1/ingest_date=2025-01-02/data_0.parquet\n' +
        's3://example-lake-bucket/lake/bronze/example_events/run-1/ingest_date=2025-01-02/data_1.parquet\n',
    );
    expect(await readFile(path.join(lake.dir, 'gold/_symlink/example_totals/current/manifest'), 'utf8')).toBe('s3://example-gold-bucket/gold/example_totals/run-1/data_0.parquet\n');

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
    for (const entry of updates) expect(entry.PartitionInput.StorageDescriptor?.Location).toMatch(/\/_symlink\/example_events\/ingest_date=[0-9-]+\/v2\/$/);
    const deleted = writes.slice(3).map((request) => request.body.PartitionsToDelete.length);
    expect(deleted).toEqual([GLUE_BATCH_LIMITS.delete, 5]);

    // Glue now shows exactly the committed partitions; unchanged ones still read their v1 manifests.
    const glued = lake.partitions.get('example_bronze.example_events') as Map<string, Record<string, any>>;
    expect([...glued.keys()].map((id) => JSON.parse(id)[0]).sort()).toEqual(Object.values({ ...kept, ...rewritten }).map((entry) => entry.values.ingest_date).sort());
    expect(glued.get(JSON.stringify([day(0)]))?.StorageDescriptor.Location).toContain('/v1/');
    const rewrittenText = await readFile(path.join(lake.dir, `bronze/_symlink/example_events/ingest_date=${day(25)}/v2/manifest`), 'utf8');
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
    expect(lake.tables.get('example_gold.example_totals')?.Parameters['medallion.version']).toBe('2');
    expect(lake.tables.get('example_gold.example_totals')?.StorageDescriptor.Location).toBe('s3://example-gold-bucket/gold/_symlink/example_totals/current/');
    expect(await readFile(path.join(lake.dir, 'gold/_symlink/example_totals/current/manifest'), 'utf8')).toBe('s3://example-gold-bucket/gold/example_totals/run-2/b.parquet\n');
  });

  it('publishes only its own partition of a table every job appends to, under the symlink folder its role may write', async () => {
    const dir = await tempDir();
    const storage = new LocalStorage(dir);
    const state = new FileStateStore(path.join(dir, '_state'));
    const capture = capturingGlue();
    const catalog = new GlueCatalog({ glue: capture.glue, storage, state, layout, databasePrefix: 'example', tables: [QUARANTINE_TABLE] });
    const written: string[] = [];
    const put = vi.spyOn(storage, 'put').mockImplementation(async (key, body) => {
      written.push(key);
      await LocalStorage.prototype.put.call(storage, key, body);
    });
    const jobPartition = (job: string, runId: string): Record<string, PartitionEntry> => ({
      [partitionKey(['job'], { job })]: { values: { job }, files: [{ key: `${jobQuarantinePrefix(job)}${runId}/job=${job}/data_0.parquet`, rows: 1, sizeBytes: 1 }] },
    });
    const first = await commitTables(state, { runId: 'run-1', basedOn: await state.readRoot(), writes: [{ spec: QUARANTINE_TABLE, kind: 'append', partitions: jobPartition('bronze.tasks_cdc', 'run-1') }] });
    const second = await commitTables(state, { runId: 'run-2', basedOn: first.root, writes: [{ spec: QUARANTINE_TABLE, kind: 'append', partitions: jobPartition('silver.tasks', 'run-2') }] });
    const silverTasks = PIPELINE_JOBS.find((job) => job.name === 'silver.tasks')!;
    // silver.tasks' commit: bronze's partition, which bronze's own publish never showed, is left for bronze.
    await catalog.publish(second.root, { tables: [QUARANTINE_TABLE.name], jobs: [silverTasks.name] });
    const shown = () => [...(capture.partitions.get('example_quarantine.records')?.keys() ?? [])].map((id) => JSON.parse(id)[0]).sort();
    expect(shown()).toEqual(['silver.tasks']);
    expect(written).toEqual(['quarantine/_symlink/records/job=silver.tasks/v2/manifest']);
    expect(written.filter((key) => !accessAllows(jobLakeAccess(silverTasks, []), 'write', key))).toEqual([]);
    // bronze's next publish shows its own, and leaves silver.tasks' as it is.
    written.length = 0;
    await catalog.publish(second.root, { tables: [QUARANTINE_TABLE.name], jobs: ['bronze.tasks_cdc'] });
    expect(shown()).toEqual(['bronze.tasks_cdc', 'silver.tasks']);
    expect(written).toEqual(['quarantine/_symlink/records/job=bronze.tasks_cdc/v2/manifest']);
    put.mockRestore();
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

describe('GlueCatalog publishers racing (several processes publishing the same tables)', () => {
  const tempDir = useTempDirs();

  /** Commit `index` of a run: each rewrites a moving window of days (dropping some, adding some) and the totals. */
  function nextCommit(index: number): TableWriteOf[] {
    const runId = `run-${index}`;
    const days = Array.from({ length: 8 }, (_, offset) => index * 3 + offset);
    return [
      { spec: eventsTable, kind: 'replace_all', partitions: partitions(eventsTable, runId, days) },
      { spec: totalsTable, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: `gold/example_totals/${runId}/data_0.parquet`, rows: index, sizeBytes: 10 }] } } },
    ];
  }
  type TableWriteOf = Parameters<typeof commitTables>[1]['writes'][number];

  /** What Glue and the symlink manifests must show for the lake's newest root, derived from its manifests alone. */
  async function expectShowsNewest(lake: Awaited<ReturnType<typeof setUp>>): Promise<void> {
    const root = await lake.state.readRoot();
    const events = await lake.state.getDocument<{ version: number; partitions: Record<string, PartitionEntry> }>(root.tables['bronze.example_events']!.manifest);
    const totals = await lake.state.getDocument<{ version: number; partitions: Record<string, PartitionEntry> }>(root.tables['gold.example_totals']!.manifest);
    expect(lake.tables.get('example_bronze.example_events')?.Parameters['medallion.version']).toBe(String(events.version));
    expect(lake.tables.get('example_gold.example_totals')?.Parameters['medallion.version']).toBe(String(totals.version));
    const glued = lake.partitions.get('example_bronze.example_events') as Map<string, Record<string, any>>;
    const wanted = Object.values(events.partitions).map((entry) => entry.values.ingest_date as string).sort();
    expect([...glued.keys()].map((id) => JSON.parse(id)[0] as string).sort()).toEqual(wanted);
    for (const entry of Object.values(events.partitions)) {
      const location = glued.get(JSON.stringify([entry.values.ingest_date]))?.StorageDescriptor.Location as string;
      const key = location.replace('s3://example-lake-bucket/lake/', '');
      const listed = (await readFile(path.join(lake.dir, key, 'manifest'), 'utf8')).trim().split('\n');
      expect(listed, entry.values.ingest_date).toEqual(entry.files.map((file) => `s3://example-lake-bucket/lake/${file.key}`).sort());
    }
    const current = await readFile(path.join(lake.dir, 'gold/_symlink/example_totals/current/manifest'), 'utf8');
    expect(current).toBe(`s3://example-gold-bucket/${Object.values(totals.partitions)[0]!.files[0]!.key}\n`);
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`ends on the newest commit whatever the interleaving, and no publisher fails (seed ${seed})`, async () => {
      const random = mulberry32(seed);
      const dir = await tempDir();
      const storage = new LocalStorage(dir);
      const state = new FileStateStore(path.join(dir, '_state'));
      // Each Glue request waits 0-4 ms before Glue acts on it: the publishers' requests interleave.
      const capture = capturingGlue({ delay: () => new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 5))) });
      const publishers = [capture.glue, capture.client()].map((glue) => new GlueCatalog({ glue, storage, state, layout, databasePrefix: 'example', tables: [eventsTable, totalsTable] }));
      const lake = { dir, storage, state, catalog: publishers[0]!, ...capture };

      // Jobs commit one after another; each commit's process publishes it without waiting for the others' publishes.
      const publishing: Promise<void>[] = [];
      let root = await state.readRoot();
      for (let index = 1; index <= 5; index += 1) {
        ({ root } = await commitTables(state, { runId: `run-${index}`, basedOn: root, writes: nextCommit(index) }));
        publishing.push(publishers[index % 2]!.publish(root));
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 6)));
      }
      const outcomes = await Promise.allSettled(publishing);
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      // (Which publisher wrote what depends on timing; the interleaving that matters most, a publisher's writes
      // landing after a newer one's, is forced in the next test.)
      await expectShowsNewest(lake);
    });
  }

  it('a publisher whose writes land after a newer publisher finished puts the newest back (its late writes are not the last word)', async () => {
    // Publisher 0's partition writes wait until publisher 1 has published in full.
    let newerDone!: () => void;
    const gate = new Promise<void>((resolve) => (newerDone = resolve));
    const dir = await tempDir();
    const storage = new LocalStorage(dir);
    const state = new FileStateStore(path.join(dir, '_state'));
    const capture = capturingGlue({ delay: (client, operation) => (client === 0 && operation.startsWith('Batch') ? gate : Promise.resolve()) });
    const [older, newer] = [capture.glue, capture.client()].map((glue) => new GlueCatalog({ glue, storage, state, layout, databasePrefix: 'example', tables: [eventsTable, totalsTable] }));
    const lake = { dir, storage, state, catalog: older!, ...capture };

    const first = await commitTables(state, { runId: 'run-1', basedOn: await state.readRoot(), writes: nextCommit(1) });
    await newer!.publish(first.root);
    const second = await commitTables(state, { runId: 'run-2', basedOn: first.root, writes: nextCommit(2) });
    // The older publisher read root 2 just before run-3 committed: it claims version 2 and plans, then stalls.
    const third = await commitTables(state, { runId: 'run-3', basedOn: second.root, writes: nextCommit(3) });
    const realRead = state.readRoot.bind(state);
    vi.spyOn(state, 'readRoot').mockImplementationOnce(async () => second.root).mockImplementation(realRead);
    const stale = older!.publish(second.root);
    while (!capture.requests.some((request) => request.client === 0 && request.operation === 'GetPartitions')) await new Promise((resolve) => setTimeout(resolve, 1));
    await newer!.publish(third.root);
    await expectShowsNewest(lake);
    newerDone();
    await stale;
    // Its version-2 writes landed after version 3's, and it then published version 3 again.
    const versionsWritten = capture.requests
      .filter((request) => request.client === 0 && request.operation === 'BatchUpdatePartition')
      .flatMap((request) => request.body.Entries.map((entry: { PartitionInput: PartitionInput }) => entry.PartitionInput.Parameters?.['medallion.version']));
    expect(versionsWritten).toContain('2');
    expect(versionsWritten).toContain('3');
    await expectShowsNewest(lake);
  });

  it('refuses to move a table back to an older version than Glue shows, unless forced (a lake whose state was replaced)', async () => {
    const lake = await setUp(tempDir);
    let root = await lake.state.readRoot();
    for (let index = 1; index <= 3; index += 1) ({ root } = await commitTables(lake.state, { runId: `run-${index}`, basedOn: root, writes: nextCommit(index) }));
    await lake.catalog.publish(root);
    // The same catalog, and a lake whose state starts over (a new state folder).
    const replaced = new FileStateStore(path.join(lake.dir, '_state_replaced'));
    const { root: older } = await commitTables(replaced, { runId: 'run-9', basedOn: await replaced.readRoot(), writes: nextCommit(9) });
    const catalog = new GlueCatalog({ glue: lake.glue, storage: lake.storage, state: replaced, layout, databasePrefix: 'example', tables: [eventsTable, totalsTable] });
    const error = await catalog.publish(older).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/newer version than the lake's newest commit/);
    expect((error as { hint?: string }).hint).toContain('medallion catalog publish --force');
    expect(lake.tables.get('example_gold.example_totals')?.Parameters['medallion.version']).toBe('3');
    await catalog.publish(older, { force: true });
    expect(lake.tables.get('example_gold.example_totals')?.Parameters['medallion.version']).toBe('1');
    const glued = lake.partitions.get('example_bronze.example_events') as Map<string, Record<string, any>>;
    expect([...glued.keys()].map((id) => JSON.parse(id)[0] as string).sort()).toEqual(Array.from({ length: 8 }, (_, offset) => day(27 + offset)));
  });
});
