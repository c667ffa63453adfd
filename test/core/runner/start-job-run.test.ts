import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, type Lake } from '../../../core/index.ts';
import { lockName, startJobRun, type JobRunRecord } from '../../../core/runner/index.ts';
import type { Storage } from '../../../core/storage/index.ts';
import { tasksCdcJob } from '../../../jobs/index.ts';
import { generateLanding } from '../../../simulator/index.ts';
import { collect, useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

async function landingLake(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('runs');
  const lake = openLocalLake(dir, { threads: 2 });
  await generateLanding(lake.storage, { seed: 4, days: 1, users: 10, tasksPerDay: 20, faultRate: 0 });
  return { dir, lake };
}

/** The lake's storage with the first `failures` reads failing as a dropped connection would. */
function flakyReads(lake: Lake, failures: number): Lake {
  let left = failures;
  const storage: Storage = Object.create(lake.storage) as Storage;
  storage.get = async (key: string) => {
    if (left > 0) {
      left -= 1;
      throw Object.assign(new Error(`read ${key}: socket hang up`), { code: 'ECONNRESET' });
    }
    return lake.storage.get(key);
  };
  return { ...lake, storage };
}

const slowTable = defineTable({
  name: 'bronze.slow',
  description: 'A table whose job takes far longer than its timeout.',
  writeMode: 'append',
  partitionBy: [],
  columns: [{ name: 'n', type: 'HUGEINT', description: 'A big sum.' }],
});
const slowJob = defineJob({
  name: 'bronze.slow',
  description: 'Sums a very long range.',
  sources: { landing: landingSource('tasks') },
  outputs: [slowTable],
  transform: () => ({ outputs: { 'bronze.slow': 'SELECT sum(a.range * b.range) AS n FROM range(200000) a, range(200000) b' } }),
});

const brokenJob = defineJob({
  name: 'bronze.broken',
  description: 'Fails on a cast every time.',
  sources: { landing: landingSource('tasks') },
  outputs: [defineTable({ ...slowTable, name: 'bronze.broken' })],
  transform: () => ({ outputs: { 'bronze.broken': "SELECT 'not a number'::HUGEINT AS n" } }),
});

const runsOf = (lake: Lake, job: string) => lake.state.listRecords<JobRunRecord>(`runs/${job}`);

describe('startJobRun', () => {
  it('records a run through STARTING and RUNNING to SUCCEEDED, with Glue metrics and a state-change event', async () => {
    const { dir, lake } = await landingLake();
    const states: string[] = [];
    const result = await startJobRun(lake, tasksCdcJob, {}, { onRecord: (record) => states.push(record.JobRunState) });
    expect(states).toEqual(['STARTING', 'RUNNING', 'SUCCEEDED']);
    const [run] = await runsOf(lake, tasksCdcJob.name);
    expect(run).toMatchObject({ Id: result.runId, Attempt: 0, JobName: 'bronze.tasks_cdc', JobRunState: 'SUCCEEDED', Timeout: 2880, MaxRetries: 0 });
    expect(run?.PreviousRunId).toBeUndefined();
    expect(run?.Metrics?.['glue.driver.aggregate.recordsRead']).toBe(result.recordsRead);
    expect(run?.CompletedOn).toBeDefined();
    const events = (await readFile(path.join(dir, '_metrics', 'events.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(events).toEqual([
      expect.objectContaining({
        'detail-type': 'Glue Job State Change',
        source: 'aws.glue',
        detail: expect.objectContaining({ jobName: 'bronze.tasks_cdc', state: 'SUCCEEDED', jobRunId: result.runId, severity: 'INFO' }),
      }),
    ]);
    // The lock is given back.
    expect((await lake.state.readLock(lockName(tasksCdcJob)))?.released).toBe(true);
  });

  it('retries a transient storage fault: a new run with Attempt 1 whose PreviousRunId names the failed one', async () => {
    const { lake } = await landingLake();
    const flaky = flakyReads(lake, 1);
    const result = await startJobRun(flaky, tasksCdcJob, { maxRetries: 2 }, { retryBaseDelayMs: 10, retryMaxDelayMs: 20 });
    const runs = await runsOf(lake, tasksCdcJob.name);
    const failed = runs.find((run) => run.JobRunState === 'FAILED');
    const succeeded = runs.find((run) => run.JobRunState === 'SUCCEEDED');
    expect(runs).toHaveLength(2);
    expect(failed).toMatchObject({ Attempt: 0 });
    expect(failed?.ErrorMessage).toMatch(/socket hang up/);
    expect(succeeded).toMatchObject({ Id: result.runId, Attempt: 1, PreviousRunId: failed?.Id });
  });

  it('fails fast on a permanent error, whatever maxRetries says, with the error in the run record', async () => {
    const { lake } = await landingLake();
    await expect(startJobRun(lake, brokenJob, { maxRetries: 3 }, { retryBaseDelayMs: 10 })).rejects.toMatchObject({ code: 'JOB_RUN_FAILED' });
    const runs = await runsOf(lake, brokenJob.name);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ JobRunState: 'FAILED', Attempt: 0 });
    expect(runs[0]?.ErrorMessage).toMatch(/not a number/);
  });

  it('ends an attempt past its timeout in TIMEOUT, commits nothing and leaves no staged files', async () => {
    const { lake } = await landingLake();
    const before = await lake.state.readRoot();
    await expect(startJobRun(lake, slowJob, { timeoutMinutes: 0.005, maxRetries: 2 })).rejects.toMatchObject({ code: 'JOB_TIMEOUT' });
    const runs = await runsOf(lake, slowJob.name);
    expect(runs.map((run) => run.JobRunState)).toEqual(['TIMEOUT']);
    expect((await lake.state.readRoot()).seq).toBe(before.seq);
    expect(await collect(lake.storage.list('bronze/slow/'))).toEqual([]);
  });

  it('refuses a second run of the same job while the first holds the lock, and queues behind it with wait', async () => {
    const { lake } = await landingLake();
    const first = startJobRun(lake, tasksCdcJob);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = startJobRun(lake, tasksCdcJob);
    const outcomes = await Promise.allSettled([first, second]);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'JOB_ALREADY_RUNNING', exitCode: 1 });

    const holder = startJobRun(lake, tasksCdcJob);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = await Promise.all([holder, startJobRun(lake, tasksCdcJob, { wait: true }, { waitPollMs: 20 })]);
    expect(queued.map((result) => result.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('takes over the lock of a run that died once its lease has ended', async () => {
    const { lake } = await landingLake();
    const deadHolder = await lake.state.acquireLock(lockName(tasksCdcJob), 'jr_dead', 1000, Date.now() - 60_000);
    expect(deadHolder).toBeDefined();
    const result = await startJobRun(lake, tasksCdcJob);
    expect(result.state).toBe('SUCCEEDED');
  });
});
