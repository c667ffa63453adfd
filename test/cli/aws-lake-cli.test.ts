import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LockRelease } from '../../core/runner/index.ts';
import { DynamoDbStateStore } from '../../core/state/dynamodb-state-store.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { invoke } from '../../cli/invoke.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { loopbackClientConfig, startDynamoDbLocal, startS3rver, type LocalServer } from '../support/local-aws.ts';
import { boxTableRecords } from './cli-output.ts';

const tempDir = useTempDirs();
let s3Server: LocalServer;
let dynamoServer: LocalServer;

beforeAll(async () => {
  [s3Server, dynamoServer] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
});
afterAll(async () => {
  await Promise.all([s3Server.close(), dynamoServer.close()]);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

async function cli(args: string[], env: NodeJS.ProcessEnv) {
  let stdout = '';
  let stderr = '';
  const code = await invoke(args, { io: { out: (text: string) => void (stdout += text), err: (text: string) => void (stderr += text) }, env });
  return { code, stdout, stderr };
}

describe('medallion on a lake in S3', () => {
  it('runs every job and queries the tables with --lake s3://..., --lake-location and --state, as the job container does', async () => {
    const s3 = new S3Client({ ...loopbackClientConfig(s3Server.endpoint), forcePathStyle: true });
    const dynamo = new DynamoDBClient(loopbackClientConfig(dynamoServer.endpoint));
    const [raw, refined, table] = [`raw-${randomUUID().slice(0, 8)}`, `lake-${randomUUID().slice(0, 8)}`, `state-${randomUUID()}`];
    for (const bucket of [raw, refined]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await DynamoDbStateStore.createTable(dynamo, table);
    const localDir = await tempDir('landing');
    await generateLanding(new LocalStorage(localDir), { seed: 4, days: 1, users: 8, tasksPerDay: 15 });
    const objects = await collect(new LocalStorage(localDir).list('landing/'));
    const { S3Storage } = await import('../../core/storage/s3-storage.ts');
    const landing = new S3Storage(s3, { locations: { default: `s3://${raw}/` } });
    for (const object of objects) await landing.put(object.key, await readFile(new LocalStorage(localDir).pathOf(object.key)));

    // The SDK finds each service's loopback endpoint and the fixed test credentials in the process environment,
    // as it finds the task role's in the container.
    const sdkEnv = {
      AWS_ENDPOINT_URL_S3: s3Server.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoServer.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    for (const [name, value] of Object.entries(sdkEnv)) vi.stubEnv(name, value);
    const env: NodeJS.ProcessEnv = { ...sdkEnv, MEDALLION_STATE_TABLE: table };
    // As the job container is configured: MEDALLION_LAKE_<FOLDER> for a folder's own bucket; and as a person
    // types it: --lake-location.
    Object.assign(env, { MEDALLION_LAKE_BRONZE: `s3://${raw}/` });
    const lakeArgs = ['--lake', `s3://${refined}/prod`, '--lake-location', `landing=s3://${raw}/`];
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const ran = await cli([...lakeArgs, 'run', '--all', '--job-bookmark-option', 'job-bookmark-enable'], env);
    stdout.mockRestore();
    // Which lake, and where its state is, and nothing else.
    expect(ran.stderr).toBe(`lake: s3://${refined}/prod/ (state dynamodb://${table})\n`);
    expect(ran.code).toBe(0);
    // bronze/ went to the raw bucket (MEDALLION_LAKE_BRONZE), silver/ under the lake's prefix.
    expect((await collect(landing.list('bronze/tasks_cdc/'))).length).toBeGreaterThan(0);
    expect((await collect(new S3Storage(s3, { locations: { default: `s3://${refined}/prod/` } }).list('silver/tasks/'))).length).toBeGreaterThan(0);
    const storageArgs = ['--storage', `s3://${refined}/prod`, '--lake-location', `landing=s3://${raw}/`];
    const queried = await cli([...storageArgs, 'query', 'SELECT count(*) AS n FROM bronze.tasks_cdc', '--format', 'csv'], env);
    expect(queried.code).toBe(0);
    expect(Number(queried.stdout.trim().split('\n')[1])).toBeGreaterThan(0);
    // Run metrics went out on the process's stdout as CloudWatch Embedded Metric Format lines.
    const emf = written.join('').split('\n').filter((line) => line.startsWith('{"_aws"')).map((line) => JSON.parse(line));
    const recordsRead = emf.find((line) => line['glue.driver.aggregate.recordsRead'] !== undefined && line.JobName === 'silver.tasks');
    expect(recordsRead._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Medallion', Dimensions: [['JobName', 'Type'], ['JobName']] });
    // The run id is a property of the line, for Logs Insights, not a dimension (a new metric series every run).
    expect(recordsRead.JobRunId).toMatch(/^jr_/);

    // The report step: the report and its summary in the reports location (as the stack puts it in the operations
    // bucket), where the summary says it is.
    const reported = await cli([...lakeArgs, '--lake-location', `reports=s3://${raw}/ops/`, 'report'], env);
    expect(reported.code, reported.stderr).toBe(0);
    const ops = new S3Storage(s3, { locations: { default: `s3://${raw}/ops/` } });
    const summary = JSON.parse((await ops.get('reports/latest-summary.json')).toString('utf8')) as { report: string; message: string };
    expect(summary.report).toMatch(new RegExp(`^s3://${raw}/ops/reports/medallion-report-\\d{4}-\\d{2}-\\d{2}\\.html$`));
    expect(summary.message).toBe(reported.stdout);
    expect((await ops.get(summary.report.slice(`s3://${raw}/ops/`.length))).toString('utf8').startsWith('<!doctype html>')).toBe(true);
    s3.destroy();
    dynamo.destroy();
  });

  it('refuses an S3 lake without a state table, naming what to pass', async () => {
    const result = await cli(['--lake', 's3://example-lake/', '--lake-location', 'landing', 'tables'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('AWS_LAKE_CONFIG_INVALID');
    expect(result.stderr).toContain('--state dynamodb://TABLE');
    expect(result.stderr).toContain('lake location "landing" is not folder=s3://bucket[/prefix]');
    const folder = await cli(['--storage', './lake', 'tables'], {});
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('must be s3://bucket[/prefix]');
  });

  it('medallion lock on DynamoDB state: shows the holder, refuses a live lease without --force, releases it with, and the old holder is fenced out', async () => {
    const s3 = new S3Client({ ...loopbackClientConfig(s3Server.endpoint), forcePathStyle: true });
    const dynamo = new DynamoDBClient(loopbackClientConfig(dynamoServer.endpoint));
    const [bucket, table] = [`lake-${randomUUID().slice(0, 8)}`, `state-${randomUUID()}`];
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await DynamoDbStateStore.createTable(dynamo, table);
    const state = new DynamoDbStateStore(dynamo, table);
    // A holder with a lease a day long, whose task is gone.
    const bogus = await state.acquireLock('job-silver.tasks', 'jr_gone', 24 * 3_600_000, Date.now());
    expect(bogus).toBeDefined();

    const env = {
      AWS_ENDPOINT_URL_S3: s3Server.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoServer.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const lockCli = async (...args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await invoke(['--lake', `s3://${bucket}/`, '--state', `dynamodb://${table}`, ...args], {
        io: { out: (text: string) => void (stdout += text), err: (text: string) => void (stderr += text) },
        env,
      });
      return { code, stdout, stderr };
    };

    const status = await lockCli('lock', 'status', 'silver.tasks', 'gold.user_kpis');
    expect(status.code, status.stderr).toBe(0);
    expect(boxTableRecords(status.stdout)).toEqual([
      { job: 'silver.tasks', status: 'held', owner: 'jr_gone', lease_until: new Date(bogus!.expiresAtMs).toISOString() },
      { job: 'gold.user_kpis', status: 'free', owner: '', lease_until: '' },
    ]);
    const refused = await lockCli('lock', 'release', 'silver.tasks');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/LOCK_HELD: job silver\.tasks is held by run jr_gone/);
    expect((await state.readLock('job-silver.tasks'))?.owner).toBe('jr_gone');

    const released = await lockCli('lock', 'release', 'silver.tasks', '--force');
    expect(released.code, released.stderr).toBe(0);
    expect((await state.readLock('job-silver.tasks'))?.released).toBe(true);
    // The old holder can neither renew nor commit: its fenced swap is refused.
    await expect(state.renewLock(bogus!, 60_000, Date.now())).rejects.toThrow(/lock/i);
    const root = await state.readRoot();
    await expect(state.swapRoot({ ...root, seq: root.seq + 1, runId: 'jr_gone', commitId: 'jr_gone#1' }, bogus!)).rejects.toMatchObject({ code: 'LOCK_LOST' });
    const [record] = await state.listRecords<LockRelease>('lock-releases');
    expect(record).toMatchObject({ lock: 'job-silver.tasks', forced: true, holder: { owner: 'jr_gone' } });
    s3.destroy();
    dynamo.destroy();
  }, 60_000);
});
