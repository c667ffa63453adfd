import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, tableSource, type Job, type Lake } from '../../../core/index.ts';
import type { MetricDatum } from '../../../core/metrics/index.ts';
import { BASELINE_MIN_RUNS, DURATION_RATIO_FLOOR_MS, jobDurationBaseline, runJobs, startJobRun, type JobRunRecord } from '../../../core/runner/index.ts';
import { tasksCdcJob } from '../../../jobs/index.ts';
import { generateLanding } from '../../../simulator/index.ts';
import { useTempDirs } from '../test-resources.ts';

/**
 * Every run emits its signals whatever state it ends in: a FAILED, a TIMEOUT and an ERROR run are counted and
 * timed like a SUCCEEDED one, so alarms and dashboards see failures, retries and success rate.
 */

const tempDir = useTempDirs();

async function landingLake(faultRate = 0): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('signals');
  const lake = openLocalLake(dir, { threads: 2 });
  await generateLanding(lake.storage, { seed: 4, days: 1, users: 10, tasksPerDay: 20, faultRate });
  return { dir, lake };
}

async function history(dir: string): Promise<MetricDatum[]> {
  const text = await readFile(path.join(dir, '_metrics', 'history.jsonl'), 'utf8').catch(() => '');
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as MetricDatum);
}

const table = defineTable({
  name: 'bronze.signal',
  description: 'A table for signal tests.',
  writeMode: 'append',
  partitionBy: [],
  columns: [{ name: 'n', type: 'HUGEINT', description: 'A number.' }],
});
const brokenJob = defineJob({
  name: 'bronze.signal',
  description: 'Fails on a cast every time.',
  sources: { landing: landingSource('tasks') },
  outputs: [table],
  transform: () => ({ outputs: { 'bronze.signal': "SELECT 'not a number'::HUGEINT AS n" } }),
});
const slowJob = defineJob({
  ...brokenJob,
  description: 'Sums a very long range.',
  transform: () => ({ outputs: { 'bronze.signal': 'SELECT sum(a.range * b.range) AS n FROM range(200000) a, range(200000) b' } }),
});

/** The datums of one metric for one job, by state when it has one. */
function named(datums: readonly MetricDatum[], name: string, job: string): MetricDatum[] {
  return datums.filter((datum) => datum.name === name && datum.dimensions.JobName === job);
}

describe('signals on every terminal state', () => {
  it('a FAILED run is counted, flagged failed and timed, and has no last success', async () => {
    const { dir, lake } = await landingLake();
    await expect(startJobRun(lake, brokenJob)).rejects.toMatchObject({ code: 'JOB_RUN_FAILED' });
    const datums = await history(dir);
    // Every final state's series, 1 for the run's own.
    expect(named(datums, 'medallion.job.runs', 'bronze.signal').map((datum) => [datum.dimensions.State, datum.value])).toEqual([['SUCCEEDED', 0], ['FAILED', 1], ['TIMEOUT', 0], ['ERROR', 0], ['STOPPED', 0]]);
    expect(named(datums, 'medallion.job.failed', 'bronze.signal').map((datum) => datum.value)).toEqual([1]);
    const [elapsed] = named(datums, 'medallion.job.elapsedTime', 'bronze.signal');
    expect(elapsed).toMatchObject({ unit: 'Milliseconds', dimensions: { JobName: 'bronze.signal', State: 'FAILED' } });
    expect(elapsed!.value).toBeGreaterThanOrEqual(0);
    expect(named(datums, 'medallion.job.lastSuccess', 'bronze.signal')).toEqual([]);
  });

  it('a TIMEOUT run is counted and flagged failed, with its state on its elapsed time', async () => {
    const { dir, lake } = await landingLake();
    await expect(startJobRun(lake, slowJob, { timeoutMinutes: 0.005 })).rejects.toMatchObject({ code: 'JOB_TIMEOUT' });
    const datums = await history(dir);
    expect(named(datums, 'medallion.job.runs', 'bronze.signal').filter((datum) => datum.value === 1).map((datum) => datum.dimensions.State)).toEqual(['TIMEOUT']);
    expect(named(datums, 'medallion.job.failed', 'bronze.signal').map((datum) => datum.value)).toEqual([1]);
    expect(named(datums, 'medallion.job.elapsedTime', 'bronze.signal')[0]?.dimensions.State).toBe('TIMEOUT');
  });

  it('a run whose process died is counted as ERROR when the next run finds it', async () => {
    const { dir, lake } = await landingLake();
    const started = new Date(Date.now() - 60_000).toISOString();
    await lake.state.putRecord(`runs/${tasksCdcJob.name}`, 'jr_dead', {
      Id: 'jr_dead', Attempt: 0, JobName: tasksCdcJob.name, StartedOn: started, LastModifiedOn: started, JobRunState: 'RUNNING',
      Arguments: {}, ExecutionTime: 0, Timeout: 2880, MaxRetries: 0,
    } satisfies JobRunRecord);
    await startJobRun(lake, tasksCdcJob);
    const datums = await history(dir);
    expect(named(datums, 'medallion.job.runs', tasksCdcJob.name).filter((datum) => datum.value === 1).map((datum) => datum.dimensions.State)).toEqual(['ERROR', 'SUCCEEDED']);
    expect(named(datums, 'medallion.job.failed', tasksCdcJob.name).map((datum) => datum.value)).toEqual([1, 0]);
    const [elapsed] = named(datums, 'medallion.job.elapsedTime', tasksCdcJob.name);
    expect(elapsed).toMatchObject({ dimensions: { State: 'ERROR' } });
    expect(elapsed!.value).toBeGreaterThanOrEqual(60_000);
  });

  it('a retry is counted as one, and each attempt by its own state', async () => {
    const { dir, lake } = await landingLake();
    let left = 1;
    const storage = Object.create(lake.storage) as Lake['storage'];
    storage.get = async (key: string) => {
      if (left-- > 0) throw Object.assign(new Error(`read ${key}: socket hang up`), { code: 'ECONNRESET' });
      return lake.storage.get(key);
    };
    await startJobRun({ ...lake, storage }, tasksCdcJob, { maxRetries: 2 }, { retryBaseDelayMs: 10, retryMaxDelayMs: 20 });
    const datums = await history(dir);
    expect(named(datums, 'medallion.job.runs', tasksCdcJob.name).filter((datum) => datum.value === 1).map((datum) => datum.dimensions.State)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(named(datums, 'medallion.job.retries', tasksCdcJob.name).map((datum) => datum.value)).toEqual([0, 1]);
  });

  it('a success says when, and how its duration compares with the configured baseline, then with the learned one', async () => {
    const { dir, lake } = await landingLake();
    for (let run = 0; run <= BASELINE_MIN_RUNS; run += 1) await startJobRun(lake, tasksCdcJob, { durationBaselineMinutes: 2 });
    const datums = await history(dir);
    const success = named(datums, 'medallion.job.lastSuccess', tasksCdcJob.name);
    expect(success).toHaveLength(BASELINE_MIN_RUNS + 1);
    const { records } = { records: await lake.state.listRecords<JobRunRecord>(`runs/${tasksCdcJob.name}`) };
    const last = records.sort((a, b) => a.StartedOn.localeCompare(b.StartedOn)).at(-1)!;
    expect(success.at(-1)!.value).toBe(Math.floor(Date.parse(last.CompletedOn!) / 1000));
    const baselines = named(datums, 'medallion.job.durationBaseline', tasksCdcJob.name).map((datum) => datum.value);
    // The first BASELINE_MIN_RUNS runs have fewer successful runs before them: the configured 2 minutes.
    expect(baselines.slice(0, BASELINE_MIN_RUNS)).toEqual(Array(BASELINE_MIN_RUNS).fill(120_000));
    // The next is measured against the median of the runs before it.
    const learned = jobDurationBaseline(records, { excludeRunId: last.Id, before: last.StartedOn });
    expect(learned.source).toBe('learned');
    expect(baselines.at(-1)).toBe(Math.round(learned.baselineMs));
    const ratio = named(datums, 'medallion.job.durationRatio', tasksCdcJob.name).at(-1)!.value;
    // Held to the learned baseline, or to DURATION_RATIO_FLOOR_MS if longer (these runs take a second).
    expect(ratio).toBeCloseTo((Date.parse(last.CompletedOn!) - Date.parse(last.StartedOn)) / Math.max(learned.baselineMs, DURATION_RATIO_FLOOR_MS), 3);
  });

  it('a run that quarantines says how many for each reason, adding up to the total', async () => {
    const { dir, lake } = await landingLake(0.2);
    const result = await startJobRun(lake, tasksCdcJob);
    expect(result.recordsQuarantined).toBeGreaterThan(0);
    const byReason = named(await history(dir), 'medallion.job.recordsQuarantinedByReason', tasksCdcJob.name);
    expect(byReason.length).toBeGreaterThan(0);
    expect(byReason.reduce((sum, datum) => sum + datum.value, 0)).toBe(result.recordsQuarantined);
    expect(Object.fromEntries(byReason.map((datum) => [datum.dimensions.Reason, datum.value]))).toEqual(result.recordsQuarantinedByReason);
  });
});

describe('jobDurationBaseline', () => {
  const run = (id: string, startMs: number, seconds: number, state: JobRunRecord['JobRunState'] = 'SUCCEEDED'): JobRunRecord => ({
    Id: id, Attempt: 0, JobName: 'j', StartedOn: new Date(startMs).toISOString(), LastModifiedOn: new Date(startMs + seconds * 1000).toISOString(),
    CompletedOn: new Date(startMs + seconds * 1000).toISOString(), JobRunState: state, Arguments: {}, ExecutionTime: seconds, Timeout: 1, MaxRetries: 0,
  });

  it('is the configured minutes below the minimum of runs, then the median of the last 14 successful runs', () => {
    const day = 86_400_000;
    const few = [run('a', 0, 10), run('b', day, 20), run('c', 2 * day, 30), run('d', 3 * day, 40)];
    expect(jobDurationBaseline(few, { configuredMinutes: 3 })).toEqual({ baselineMs: 180_000, source: 'configured', runs: 4 });
    // Failed runs do not count; among 20 successful ones only the latest 14 do (70 s to 200 s: median 135 s).
    const many = [...Array.from({ length: 20 }, (_, index) => run(`s${index}`, index * day, (index + 1) * 10)), run('f', 30 * day, 9999, 'FAILED')];
    expect(jobDurationBaseline(many)).toEqual({ baselineMs: 135_000, source: 'learned', runs: 14 });
    // A full refresh or a replay reads more than a night's worth: it teaches no baseline.
    const refresh = { ...run('r', 40 * day, 5000), Arguments: { 'full-refresh': 'true' } };
    expect(jobDurationBaseline([...many, refresh])).toEqual({ baselineMs: 135_000, source: 'learned', runs: 14 });
  });
});

describe('runJobs after a failure', () => {
  const after = defineJob({
    name: 'silver.after_signal',
    description: 'Reads what the broken job writes.',
    sources: { signal: tableSource('bronze.signal') },
    outputs: [defineTable({ ...table, name: 'silver.after_signal' })],
    transform: ({ input }) => ({ outputs: { 'silver.after_signal': `SELECT n FROM ${input('signal')}` } }),
  });

  it('skips the jobs downstream of the failed one, naming it, runs the independent ones, then throws the failure', async () => {
    const { lake } = await landingLake();
    const events: string[] = [];
    const error = await runJobs(lake, [brokenJob, after, tasksCdcJob], {
      concurrency: 1,
      onStart: (job) => events.push(`start ${job.name}`),
      onResult: (result) => events.push(`succeeded ${result.job}`),
      onFailure: (job: Job, failure: unknown) => events.push(`failed ${job.name}: ${(failure as { code?: string }).code}`),
      onSkipped: (job: Job, failed: readonly Job[]) => events.push(`skipped ${job.name} for ${failed.map((upstream) => upstream.name).join(',')}`),
    }).catch((caught: unknown) => caught);
    expect((error as { code?: string }).code).toBe('JOB_RUN_FAILED');
    expect(events).toEqual([
      'start bronze.signal',
      'failed bronze.signal: JOB_RUN_FAILED',
      'skipped silver.after_signal for bronze.signal',
      'start bronze.tasks_cdc',
      'succeeded bronze.tasks_cdc',
    ]);
    expect(await lake.state.listRecords(`runs/${after.name}`)).toEqual([]);
  });

  it('tells how long a job has been running, every progressEveryMs', async () => {
    const { lake } = await landingLake();
    const slow = defineJob({ ...brokenJob, description: 'Takes a moment.', transform: () => ({ outputs: { 'bronze.signal': 'SELECT sum(range)::HUGEINT AS n FROM range(300000000)' } }) });
    const ticks: number[] = [];
    await runJobs(lake, [slow], { progressEveryMs: 5, onProgress: (_job, elapsedMs) => ticks.push(elapsedMs) });
    expect(ticks.length).toBeGreaterThan(0);
    expect([...ticks].sort((a, b) => a - b)).toEqual(ticks);
  });
});
