import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, runJob, type Lake } from '../../core/index.ts';
import { resetJobBookmark } from '../../core/bookmark/index.ts';
import { tableRelation } from '../../core/catalog/index.ts';
import { manifestFiles, tableHistory, type TableManifest } from '../../core/table/index.ts';
import { readRunRecords, restoreTable, runJobs, vacuumLake } from '../../core/runner/index.ts';
import { DuckDbEngine } from '../../core/engine/index.ts';
import { LocalMetricsSink } from '../../core/metrics/index.ts';
import { DynamoDbStateStore } from '../../core/state/dynamodb-state-store.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { S3Storage } from '../../core/storage/s3-storage.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { loopbackClientConfig, startDynamoDbLocal, startS3rver, type LocalServer } from '../support/local-aws.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { startFaultyProxy } from '../support/faulty-proxy.ts';

const tempDir = useTempDirs();
let s3Server: LocalServer;
let dynamoServer: LocalServer;
let s3: S3Client;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  [s3Server, dynamoServer] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  s3 = new S3Client({ ...loopbackClientConfig(s3Server.endpoint), forcePathStyle: true });
  dynamo = new DynamoDBClient(loopbackClientConfig(dynamoServer.endpoint));
});
afterAll(async () => {
  s3.destroy();
  dynamo.destroy();
  await Promise.all([s3Server.close(), dynamoServer.close()]);
});

/** A lake as the job container runs it: landing and bronze in one bucket, the rest in another, state in DynamoDB. */
async function awsLake(): Promise<Lake> {
  const [raw, refined] = [`raw-${randomUUID().slice(0, 8)}`, `lake-${randomUUID().slice(0, 8)}`];
  for (const bucket of [raw, refined]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const table = `state-${randomUUID()}`;
  await DynamoDbStateStore.createTable(dynamo, table);
  const scratch = await tempDir('aws-lake');
  return {
    storage: new S3Storage(s3, { locations: { landing: `s3://${raw}/`, bronze: `s3://${raw}/`, default: `s3://${refined}/prod/` }, tempDirectory: scratch }),
    state: new DynamoDbStateStore(dynamo, table),
    // No catalog here: the tables are read back through the state store, as a query would.
    catalog: { publish: async () => undefined },
    metrics: new LocalMetricsSink(path.join(scratch, '_metrics')),
    createEngine: () => DuckDbEngine.create({ threads: 2, tempDirectory: path.join(scratch, 'duckdb') }),
  };
}

describe('the pipeline on S3 and DynamoDB (s3rver and DynamoDB Local on loopback)', () => {
  it('gives the same tables as the folder lake from the same landing objects, and a bookmarked rerun finds nothing new', async () => {
    const localDir = await tempDir('local');
    await generateLanding(new LocalStorage(localDir), { seed: 5, days: 2, users: 15, tasksPerDay: 25, faultRate: 0.03 });
    const local = openLocalLake(localDir, { threads: 2 });
    const aws = await awsLake();
    const landed = await collect(local.storage.list('landing/'));
    for (const object of landed) await aws.storage.put(object.key, await readFile(new LocalStorage(localDir).pathOf(object.key)));

    await runJobs(local, PIPELINE_JOBS);
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    const first = await runJobs(aws, PIPELINE_JOBS, enable);
    expect(first.map((result) => result.job).sort()).toEqual(PIPELINE_JOBS.map((job) => job.name).sort());

    expect(await tableContents(aws)).toEqual(await tableContents(local));
    const again = await runJobs(aws, PIPELINE_JOBS, enable);
    expect(again.every((result) => result.nothingNew)).toBe(true);
    // Run records live in DynamoDB like on the folder lake: one per run.
    const records = await aws.state.listRecords<{ JobRunState: string }>('runs/silver.tasks');
    expect(records.map((record) => record.JobRunState)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('on S3 too: a rewound bookmark reads nothing twice, a lost or cut file is named and rebuilt by a full refresh, a restore goes back and catches up', async () => {
    const localDir = await tempDir('local');
    await generateLanding(new LocalStorage(localDir), { seed: 6, days: 2, users: 10, tasksPerDay: 20, faultRate: 0.03 });
    const local = openLocalLake(localDir, { threads: 2 });
    const aws = await awsLake();
    const landed = await collect(local.storage.list('landing/'));
    const land = async (objects: typeof landed) => {
      for (const object of objects) await aws.storage.put(object.key, await readFile(new LocalStorage(localDir).pathOf(object.key)));
    };
    await runJobs(local, PIPELINE_JOBS);
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    // Night one reads the first day; night two the rest.
    await land(landed.filter((object) => object.key.includes('/2025/11/01/')));
    const [first] = await runJobs(aws, PIPELINE_JOBS.filter((job) => job.name === 'bronze.tasks_cdc'), enable);
    await land(landed.filter((object) => !object.key.includes('/2025/11/01/')));
    await runJobs(aws, PIPELINE_JOBS, enable);

    // Rewound to its first run, bronze reads the second night's objects again and holds each record once.
    await resetJobBookmark(aws.state, 'bronze.tasks_cdc', first!.runId);
    const [again] = await runJobs(aws, PIPELINE_JOBS.filter((job) => job.name === 'bronze.tasks_cdc'), enable);
    expect(again!.recordsRead).toBeGreaterThan(0);
    expect(again!.recordsAlreadyHeld).toBe(again!.recordsRead);
    expect(await tableContents(aws)).toEqual(await tableContents(local));

    // A file of gold removed, one of silver overwritten short: each reader names the table, version and file.
    const root = await aws.state.readRoot();
    const fileOf = async (table: string) => {
      const manifest = await aws.state.getDocument<TableManifest>(root.tables[table]!.manifest);
      return { version: manifest.version, key: manifestFiles(manifest)[0]!.key };
    };
    const gold = await fileOf('gold.daily_task_kpis');
    await aws.storage.delete([gold.key]);
    const silver = await fileOf('silver.task_events');
    await aws.storage.put(silver.key, 'PAR1');
    const job = (name: string) => PIPELINE_JOBS.find((candidate) => candidate.name === name)!;
    await expect(runJob(aws, job('gold.daily_task_kpis'), { fullRefresh: true })).rejects.toMatchObject({
      code: 'DATA_FILE_DAMAGED', message: expect.stringContaining(`table silver.task_events (version ${silver.version}) cannot be read: data file ${silver.key}`),
    });
    const engine = await aws.createEngine();
    try {
      await expect(tableRelation(engine, aws.storage, await aws.state.getDocument<TableManifest>(root.tables['gold.daily_task_kpis']!.manifest))).rejects.toMatchObject({
        code: 'DATA_FILE_MISSING', message: expect.stringContaining(gold.key), hint: expect.stringContaining('medallion run gold.daily_task_kpis --full-refresh'),
      });
    } finally {
      engine.close();
    }
    await runJob(aws, job('silver.tasks'), { fullRefresh: true, bookmark: { option: 'job-bookmark-enable' } });
    await runJob(aws, job('gold.daily_task_kpis'), { fullRefresh: true, bookmark: { option: 'job-bookmark-enable' } });
    expect(await tableContents(aws)).toEqual(await tableContents(local));

    // Restore on S3 and DynamoDB: bronze back to its first version, its bookmark with it; the next runs catch up once.
    const history = await tableHistory(aws.state, 'bronze.tasks_cdc');
    const restored = await restoreTable(aws, PIPELINE_JOBS, 'bronze.tasks_cdc', 1);
    expect(restored).toMatchObject({ newVersion: history[0]!.version + 1, bookmark: { job: 'bronze.tasks_cdc', to: first!.runId } });
    expect((await tableHistory(aws.state, 'bronze.tasks_cdc', { limit: 1 }))[0]).toMatchObject({ operation: 'restore', restoredFrom: 1, rows: history.at(-1)!.rows });
    await runJobs(aws, PIPELINE_JOBS, enable);
    expect(await tableContents(aws)).toEqual(await tableContents(local));
  });

  it('vacuums on S3 and DynamoDB: the files and manifests of replaced versions go, the current tables stay whole', async () => {
    const localDir = await tempDir('local');
    await generateLanding(new LocalStorage(localDir), { seed: 7, days: 2, users: 10, tasksPerDay: 20, faultRate: 0.02 });
    const local = openLocalLake(localDir, { threads: 2 });
    const aws = await awsLake();
    for (const object of await collect(local.storage.list('landing/'))) await aws.storage.put(object.key, await readFile(new LocalStorage(localDir).pathOf(object.key)));
    await runJobs(local, PIPELINE_JOBS);
    // Twice with bookmarks disabled: every table rewritten, the first run's files replaced.
    await runJobs(aws, PIPELINE_JOBS);
    await runJobs(aws, PIPELINE_JOBS);
    const objects = async () => (await Promise.all(['bronze/', 'silver/', 'gold/', 'quarantine/', 'quality/'].map((prefix) => collect(aws.storage.list(prefix))))).flat().length;
    const before = await objects();
    const result = await vacuumLake(aws, PIPELINE_JOBS, { retainMs: 3_600_000, now: () => new Date(Date.now() + 48 * 3_600_000) });
    expect(result.filesRemoved).toBeGreaterThan(0);
    expect(result.manifestsRemoved).toBeGreaterThan(0);
    expect(await objects()).toBe(before - result.filesRemoved);
    expect(await tableContents(aws)).toEqual(await tableContents(local));
    const [current, replaced] = await tableHistory(aws.state, 'silver.tasks', { limit: 2 });
    expect(current!.removed).toBeUndefined();
    expect(replaced!.removed).toBe(true);
  });

  it('succeeds with identical tables while 10% of S3 requests fail transiently, and fails fast on a missing bucket', async () => {
    const localDir = await tempDir('local');
    await generateLanding(new LocalStorage(localDir), { seed: 8, days: 3, users: 20, tasksPerDay: 30, faultRate: 0.02 });
    const local = openLocalLake(localDir, { threads: 2 });
    await runJobs(local, PIPELINE_JOBS);
    const clean = await awsLake();
    for (const object of await collect(local.storage.list('landing/'))) {
      await clean.storage.put(object.key, await readFile(new LocalStorage(localDir).pathOf(object.key)));
    }

    const proxy = await startFaultyProxy(s3Server.endpoint, { rate: 0.1, seed: 11 });
    try {
      // The same buckets and state, reached through the proxy; the SDK retries a failed request, the
      // runner retries a run that still failed (a body cut off after the SDK handed it over, say).
      const flaky = new S3Client({ ...loopbackClientConfig(proxy.endpoint), forcePathStyle: true, maxAttempts: 5 });
      const storage = clean.storage as S3Storage;
      const lake: Lake = { ...clean, storage: storage.withClient(flaky) };
      const results = await runJobs(lake, PIPELINE_JOBS, { settingsFor: () => ({ maxRetries: 3 }), retryBaseDelayMs: 10, retryMaxDelayMs: 50 });
      expect(results).toHaveLength(PIPELINE_JOBS.length);
      expect(Object.values(proxy.injected).reduce((sum, count) => sum + count, 0)).toBeGreaterThan(10);
      for (const kind of ['internal-error', 'slow-down', 'connection-reset', 'truncated-body'] as const) expect(proxy.injected[kind], kind).toBeGreaterThan(0);
      const [got, want] = [await tableContents(lake), await tableContents(local)];
      for (const table of Object.keys(want)) expect(got[table], table).toEqual(want[table]);
      flaky.destroy();
    } finally {
      await proxy.close();
    }

    // Fast: a missing bucket is not transient, so no request is sent again (the SDK's retries, and the run's three
    // retries, would back off) and no run is tried.
    const direct = new S3Client({ ...loopbackClientConfig(s3Server.endpoint), forcePathStyle: true });
    const sent: string[] = [];
    direct.middlewareStack.add((next, context) => async (args) => {
      const input = args.input as { Bucket?: string; Prefix?: string; Key?: string; ContinuationToken?: string };
      sent.push(`${context.commandName} ${input.Bucket}/${input.Prefix ?? input.Key ?? ''} ${input.ContinuationToken ?? ''}`);
      return next(args);
    }, { step: 'deserialize', name: 'recordAttempts' });
    const missing: Lake = { ...clean, storage: new S3Storage(direct, { locations: { default: 's3://no-such-lake-bucket/' } }) };
    const started = Date.now();
    const error = await runJobs(missing, PIPELINE_JOBS.filter((job) => job.name === 'bronze.tasks_cdc'), { settingsFor: () => ({ maxRetries: 3 }) })
      .catch((caught: unknown) => caught);
    expect(String((error as Error).message)).toContain('s3://no-such-lake-bucket/');
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent).size, sent.join('\n')).toBe(sent.length);
    const attempts = (await readRunRecords(missing.state, 'bronze.tasks_cdc')).records.filter((record) => Date.parse(record.StartedOn) >= started);
    expect(attempts.filter((record) => record.JobRunState !== 'FAILED')).toEqual([]);
    expect(attempts.length).toBeLessThanOrEqual(1);
    direct.destroy();
  });
});
