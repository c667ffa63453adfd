import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, type Job, type Lake } from '../../../core/index.ts';
import type { MetricDatum } from '../../../core/metrics/index.ts';
import { jobGraph, lockName, readRunRecords, runJobs, startJobRun, type FaultPoint, type JobRunResult } from '../../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { generateLanding } from '../../../simulator/index.ts';
import { useTempDirs } from '../test-resources.ts';

/**
 * A stop (the CLI's SIGINT and SIGTERM) never leaves a run RUNNING with its lock: a run before its commit is
 * interrupted, ends STOPPED with nothing committed and releases its lock; a run past its commit completes; no other
 * job starts.
 */

const tempDir = useTempDirs();

async function landingLake(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('stop');
  const lake = openLocalLake(dir, { threads: 2 });
  await generateLanding(lake.storage, { seed: 9, days: 1, users: 10, tasksPerDay: 20 });
  return { dir, lake };
}

/** Whether the job's lock is free: released, or never taken. */
async function lockFree(lake: Lake, job: Job): Promise<boolean> {
  const lock = await lake.state.readLock(lockName(job));
  return lock === undefined || lock.released === true;
}

const byName = (name: string) => PIPELINE_JOBS.find((job) => job.name === name)!;

/** The names of the pipeline jobs that read, directly or through others, what `name` writes. */
function downstreamOf(name: string): string[] {
  const graph = jobGraph(PIPELINE_JOBS);
  const below = new Set<string>([name]);
  for (const job of graph.ordered) if (graph.upstreamOf(job).some((upstream) => below.has(upstream.name))) below.add(job.name);
  below.delete(name);
  return [...below];
}

describe('stopping runs', () => {
  it.each([['input-read'], ['outputs-staged']] as const)(
    'a stop at %s: that run ends STOPPED with nothing committed and its lock released; no job downstream starts',
    async (point: FaultPoint) => {
      const { dir, lake } = await landingLake();
      const stop = new AbortController();
      const notStarted: string[] = [];
      const startedAfterStop: string[] = [];
      const run = runJobs(lake, PIPELINE_JOBS, {
        stop: stop.signal,
        faultPoint: (reached, job) => {
          if (reached === point && job === 'bronze.tasks_cdc') stop.abort('SIGINT');
        },
        onStart: (job) => {
          if (stop.signal.aborted) startedAfterStop.push(job.name);
        },
        onNotStarted: (job) => notStarted.push(job.name),
      });
      await expect(run).rejects.toMatchObject({ code: 'JOB_STOPPED' });
      const [record] = (await readRunRecords(lake.state, 'bronze.tasks_cdc')).records;
      expect(record).toMatchObject({ JobRunState: 'STOPPED', ErrorMessage: expect.stringContaining('(SIGINT) before its commit') });
      expect((await lake.state.readRoot()).tables['bronze.tasks_cdc']).toBeUndefined();
      for (const job of PIPELINE_JOBS) expect(await lockFree(lake, job), job.name).toBe(true);
      // No job started after the stop, nothing downstream of the stopped job ran, and nothing is left RUNNING.
      // (A job beside it, bronze.users_cdc, and what reads only that job's tables, may have run before the stop.)
      expect(startedAfterStop).toEqual([]);
      expect(downstreamOf('bronze.tasks_cdc')).toEqual(expect.arrayContaining(['silver.tasks', 'gold.daily_task_kpis']));
      expect(notStarted).toEqual(expect.arrayContaining(downstreamOf('bronze.tasks_cdc')));
      for (const job of PIPELINE_JOBS) {
        for (const entry of (await readRunRecords(lake.state, job.name)).records) expect(['SUCCEEDED', 'STOPPED'], `${job.name} ${entry.JobRunState}`).toContain(entry.JobRunState);
      }
      // The STOPPED run is counted as such, and not as a failure.
      const datums = (await readFile(path.join(dir, '_metrics', 'history.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as MetricDatum);
      const mine = datums.filter((datum) => datum.dimensions.JobName === 'bronze.tasks_cdc');
      expect(mine.find((datum) => datum.name === 'medallion.job.runs' && datum.dimensions.State === 'STOPPED')?.value).toBe(1);
      expect(mine.find((datum) => datum.name === 'medallion.job.failed')?.value).toBe(0);
      // The next run goes ahead and reads everything the stopped one did not commit.
      const again = await runJobs(lake, [byName('bronze.tasks_cdc')], { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }) });
      expect(again[0]?.recordsRead).toBeGreaterThan(0);
    },
  );

  it.each([['manifests-written'], ['before-swap'], ['after-commit']] as const)('a stop once the commit is under way (%s): the run completes SUCCEEDED with its commit, and no other job starts', async (point: FaultPoint) => {
    const { lake } = await landingLake();
    const stop = new AbortController();
    const notStarted: string[] = [];
    const results: JobRunResult[] = [];
    const run = runJobs(lake, PIPELINE_JOBS, {
      onResult: (result) => results.push(result),
      stop: stop.signal,
      concurrency: 1,
      faultPoint: (reached, job) => {
        if (reached === point && job === 'bronze.tasks_cdc') stop.abort('SIGTERM');
      },
      onNotStarted: (job) => notStarted.push(job.name),
    });
    await expect(run).rejects.toMatchObject({ code: 'STOPPED' });
    expect(results.map((result) => result.job)).toEqual(['bronze.tasks_cdc']);
    expect((await lake.state.readRoot()).tables['bronze.tasks_cdc']).toBeDefined();
    expect(notStarted.sort()).toEqual(PIPELINE_JOBS.filter((job) => job.name !== 'bronze.tasks_cdc').map((job) => job.name).sort());
    for (const job of PIPELINE_JOBS) expect(await lockFree(lake, job), job.name).toBe(true);
  });

  it('a stop interrupts a statement that would run for hours: STOPPED, lock released', async () => {
    const { lake } = await landingLake();
    const table = defineTable({
      name: 'bronze.endless', description: 'A table for stop tests.', writeMode: 'append', partitionBy: [],
      columns: [{ name: 'n', type: 'HUGEINT', description: 'A number.' }],
    });
    const endless = defineJob({
      name: 'bronze.endless', description: 'Sums a very long range.', sources: { landing: landingSource('tasks') }, outputs: [table],
      transform: () => ({ outputs: { 'bronze.endless': 'SELECT sum(a.range * b.range) AS n FROM range(1000000) a, range(1000000) b' } }),
    });
    const stop = new AbortController();
    const run = startJobRun(lake, endless, {}, {
      stop: stop.signal,
      // Once it is running its statement.
      faultPoint: (reached) => {
        if (reached === 'input-read') setTimeout(() => stop.abort('SIGINT'), 100);
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'JOB_STOPPED' });
    expect((await readRunRecords(lake.state, 'bronze.endless')).records[0]?.JobRunState).toBe('STOPPED');
    expect(await lockFree(lake, endless)).toBe(true);
  }, 60_000);

  it('a stop while a run waits to retry a transient failure ends the wait: no other attempt starts, the lock is released', async () => {
    const { lake: base } = await landingLake();
    // Every staged write fails as a throttled S3 would.
    const storage = Object.create(base.storage) as typeof base.storage;
    storage.createStagingArea = async () => {
      throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' });
    };
    const lake: Lake = { ...base, storage };
    const stop = new AbortController();
    const job = byName('bronze.tasks_cdc');
    const started = Date.now();
    const run = startJobRun(lake, job, { maxRetries: 5 }, {
      stop: stop.signal,
      // Long waits between attempts: a stop must not sit them out.
      retryBaseDelayMs: 600_000,
      retryMaxDelayMs: 600_000,
      onRecord: (record) => {
        if (record.JobRunState === 'FAILED') setTimeout(() => stop.abort('SIGTERM'), 50);
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'JOB_STOPPED' });
    expect(Date.now() - started).toBeLessThan(120_000);
    const { records } = await readRunRecords(lake.state, job.name);
    expect(records.map((record) => record.JobRunState)).toEqual(['FAILED']);
    expect(await lockFree(lake, job)).toBe(true);
  }, 150_000);

  it('runJobs says it was stopped when jobs were left unstarted, even when nothing failed', async () => {
    const { lake } = await landingLake();
    const stop = new AbortController();
    const run = runJobs(lake, PIPELINE_JOBS, {
      stop: stop.signal,
      concurrency: 1,
      faultPoint: (reached, job) => {
        if (reached === 'after-commit' && job === 'silver.users') stop.abort('SIGINT');
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'STOPPED', message: expect.stringContaining('before') });
  });

  it('a stop before a job starts, or while it waits for the lock, starts no run and records none', async () => {
    const { lake } = await landingLake();
    const stop = new AbortController();
    stop.abort('SIGTERM');
    await expect(startJobRun(lake, byName('bronze.tasks_cdc'), { wait: true }, { stop: stop.signal })).rejects.toMatchObject({ code: 'JOB_STOPPED' });
    expect((await readRunRecords(lake.state, 'bronze.tasks_cdc')).records).toEqual([]);
  });
});
