import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { invoke } from '../../cli/invoke.ts';
import type { LockRelease } from '../../core/runner/index.ts';
import { DynamoDbStateStore } from '../../core/state/index.ts';
import { loopbackClientConfig, startDynamoDbLocal, startS3rver, type LocalServer } from '../support/local-aws.ts';
import { boxTableRecords } from './cli-output.ts';

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

describe('medallion lock on a lake whose state is in DynamoDB', () => {
  it('shows the holder, refuses a live lease without --force, releases it with, and the old holder is fenced out', async () => {
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
    const cli = async (...args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await invoke(['--lake', `s3://${bucket}/`, '--state', `dynamodb://${table}`, ...args], {
        io: { out: (text: string) => void (stdout += text), err: (text: string) => void (stderr += text) },
        env,
      });
      return { code, stdout, stderr };
    };

    const status = await cli('lock', 'status', 'silver.tasks', 'gold.user_kpis');
    expect(status.code, status.stderr).toBe(0);
    expect(boxTableRecords(status.stdout)).toEqual([
      { job: 'silver.tasks', status: 'held', owner: 'jr_gone', lease_until: new Date(bogus!.expiresAtMs).toISOString() },
      { job: 'gold.user_kpis', status: 'free', owner: '', lease_until: '' },
    ]);
    const refused = await cli('lock', 'release', 'silver.tasks');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/LOCK_HELD: job silver\.tasks is held by run jr_gone/);
    expect((await state.readLock('job-silver.tasks'))?.owner).toBe('jr_gone');

    const released = await cli('lock', 'release', 'silver.tasks', '--force');
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
