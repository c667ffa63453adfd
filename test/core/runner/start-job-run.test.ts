import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, type Lake } from '../../../core/index.ts';
import { lockName, startJobRun, type JobRunRecord } from '../../../core/runner/index.ts';
import { EngineTurns } from '../../../core/runner/engine-turns.ts';
import { runDurationMs } from '../../../core/runner/job-run-record.ts';
import type { StateStore } from '../../../core/state/index.ts';
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

  it('is WAITING while it waits for its turn to open an engine, and that wait is out of its timeout and its time', async () => {
    const { lake } = await landingLake();
    const states: string[] = [];
    let abortedWhileWaiting: boolean | undefined;
    // A turn that comes after twice the run's timeout, then fails the run: had the timeout counted the wait, the
    // signal would have aborted and the run would be TIMEOUT.
    const engineTurn = async (signal?: AbortSignal) => {
      await new Promise((resolve) => setTimeout(resolve, 600));
      abortedWhileWaiting = signal?.aborted;
      throw new Error('no turn today');
    };
    await expect(startJobRun(lake, tasksCdcJob, { timeoutMinutes: 0.005 }, { engineTurn, onRecord: (record) => states.push(record.JobRunState) })).rejects.toThrow('no turn today');
    expect(abortedWhileWaiting).toBe(false);
    expect(states).toEqual(['STARTING', 'RUNNING', 'WAITING', 'FAILED']);
    const [failed] = await runsOf(lake, tasksCdcJob.name);
    expect(failed?.WaitTimeMs).toBeGreaterThanOrEqual(600);

    // A turn that comes: RUNNING again, then SUCCEEDED, its wait recorded apart from its time.
    states.length = 0;
    let ended = 0;
    const granting = async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return () => void (ended += 1);
    };
    const result = await startJobRun(lake, tasksCdcJob, {}, { engineTurn: granting, onRecord: (record) => states.push(record.JobRunState) });
    expect(states).toEqual(['STARTING', 'RUNNING', 'WAITING', 'RUNNING', 'SUCCEEDED']);
    expect(ended).toBe(1);
    expect(result.phasesMs?.wait).toBeGreaterThanOrEqual(199);
    const succeeded = (await runsOf(lake, tasksCdcJob.name)).find((run) => run.Id === result.runId);
    expect(succeeded?.WaitTimeMs).toBeGreaterThanOrEqual(200);
    expect(runDurationMs({ ...succeeded!, CompletedOn: succeeded!.CompletedOn! })).toBe(
      Date.parse(succeeded!.CompletedOn!) - Date.parse(succeeded!.StartedOn) - succeeded!.WaitTimeMs!,
    );
  });

  it('gives its turn back when it fails while waiting for it, so the runs after it are not kept waiting', async () => {
    const { lake } = await landingLake();
    const turns = new EngineTurns();
    const held = await turns.take();
    const state: StateStore = Object.create(lake.state) as StateStore;
    state.putRecord = async (collection, id, record) => {
      if ((record as JobRunRecord).JobRunState === 'WAITING') throw new Error('the state store is down');
      return lake.state.putRecord(collection, id, record);
    };
    await expect(startJobRun({ ...lake, state }, tasksCdcJob, {}, { engineTurn: turns.take })).rejects.toThrow('the state store is down');
    held();
    // The failed run's place in the queue gets the turn and hands it on: this resolves only then.
    (await turns.take())();
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

  it('renews its lease one renewal at a time: a renewal slower than the heartbeat neither ends the run nor keeps the lock', async () => {
    const { lake } = await landingLake();
    let inFlight = 0;
    let mostInFlight = 0;
    let renewals = 0;
    const state: StateStore = Object.create(lake.state) as StateStore;
    state.renewLock = async (lease, leaseMs, nowMs) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        // Far slower than the 2 ms heartbeat: a timer-driven heartbeat would start the next renewals meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 25));
        const renewed = await lake.state.renewLock(lease, leaseMs, nowMs);
        renewals += 1;
        return renewed;
      } finally {
        inFlight -= 1;
      }
    };
    const result = await startJobRun({ ...lake, state }, tasksCdcJob, {}, { heartbeatMs: 2 });
    expect(result.state).toBe('SUCCEEDED');
    expect(renewals).toBeGreaterThan(0);
    expect(mostInFlight).toBe(1);
    // Released after the last renewal ended, so the next run starts at once.
    expect((await lake.state.readLock(lockName(tasksCdcJob)))?.released).toBe(true);
    expect((await startJobRun(lake, tasksCdcJob)).state).toBe('SUCCEEDED');
  });

  it('keeps the lock through renewals that fail for a moment (throttling), and stops when another run took it', async () => {
    const { lake } = await landingLake();
    let failures = 3;
    const flaky: StateStore = Object.create(lake.state) as StateStore;
    flaky.renewLock = async (lease, leaseMs, nowMs) => {
      if (failures > 0) {
        failures -= 1;
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
      }
      return lake.state.renewLock(lease, leaseMs, nowMs);
    };
    expect((await startJobRun({ ...lake, state: flaky }, tasksCdcJob, {}, { heartbeatMs: 2 })).state).toBe('SUCCEEDED');
    expect(failures).toBe(0);

    // Another run takes the lock over while this one works: the first renewal after that ends the run, with nothing committed.
    const before = (await lake.state.readRoot()).seq;
    const takenOver: StateStore = Object.create(lake.state) as StateStore;
    let stolen = false;
    takenOver.renewLock = async (lease, leaseMs, nowMs) => {
      if (!stolen) {
        stolen = true;
        await lake.state.releaseLock(lease);
        await lake.state.acquireLock(lease.name, 'jr_other', 60_000, nowMs);
      }
      return lake.state.renewLock(lease, leaseMs, nowMs);
    };
    await expect(startJobRun({ ...lake, state: takenOver }, slowJob, {}, { heartbeatMs: 2 })).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect((await lake.state.readRoot()).seq).toBe(before);
    expect((await lake.state.readLock(lockName(slowJob)))?.owner).toBe('jr_other');
  });
});
