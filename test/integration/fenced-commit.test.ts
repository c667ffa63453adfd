import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { holdBackLastDay, landAgain } from '../support/landing-days.ts';

const tempDir = useTempDirs();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LANDING = { seed: 11, days: 2, users: 15, tasksPerDay: 25, faultRate: 0.03 } as const;
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

/** Starts `job` in a child process that stops itself (SIGSTOP) at `point`; resolves once it has stopped. */
async function stallAt(lakeDir: string, job: string, point: string): Promise<{ child: ChildProcess; outcome: Promise<{ outcome: string; code?: string; message?: string }> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/stall-child.ts'), lakeDir, job, point], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => void (stderr += chunk));
  const stalled = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('stalled\n')) resolve();
    });
    child.once('close', () => reject(new Error(`the child ended before stalling: ${stdout}${stderr}`)));
  });
  const outcome = new Promise<{ outcome: string; code?: string; message?: string }>((resolve, reject) => {
    child.once('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as { outcome: string });
      } catch {
        reject(new Error(`the child exited ${code} without an outcome: ${stdout}${stderr}`));
      }
    });
  });
  outcome.catch(() => undefined);
  await stalled;
  return { child, outcome };
}

/** Waits until the stopped holder's lease of `job`'s lock has run out (it cannot renew while stopped). */
async function leaseRunOut(lake: Lake, job: string): Promise<void> {
  for (;;) {
    const lock = await lake.state.readLock(`job-${job}`);
    if (lock && lock.expiresAtMs < Date.now()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a run that stalls past its lease inside its commit commits nothing once another run took the job over', async () => {
  const referenceDir = await tempDir('reference');
  const reference = openLocalLake(referenceDir, { threads: 2 });
  await generateLanding(reference.storage, LANDING);
  await runJobs(reference, PIPELINE_JOBS, enable);
  const expected = await tableContents(reference);

  const cases = [
    { job: 'bronze.tasks_cdc', point: 'manifests-written' },
    { job: 'bronze.tasks_cdc', point: 'before-swap' },
    { job: 'silver.tasks', point: 'before-swap' },
  ];
  for (const { job, point } of cases) {
    it(`${job} stopped at ${point}, the pipeline run meanwhile, then resumed`, async () => {
      const dir = await tempDir('fenced');
      const lake = openLocalLake(dir, { threads: 2 });
      await generateLanding(lake.storage, LANDING);
      // A night has run; the next day's objects land, and the stalled run is an incremental one (bronze appends).
      const nextDay = await holdBackLastDay(lake);
      expect(nextDay.length).toBeGreaterThan(0);
      await runJobs(lake, PIPELINE_JOBS, enable);
      await landAgain(lake, nextDay);
      // silver.tasks reads the bronze tables: those commit the new day first.
      if (job.startsWith('silver.')) await runJobs(lake, PIPELINE_JOBS.filter((candidate) => candidate.name.startsWith('bronze.')), enable);

      const stalled = await stallAt(dir, job, point);
      try {
        await leaseRunOut(lake, job);
        // The pipeline takes the job over (recovering the stalled run: its staged files are removed) and commits.
        await runJobs(lake, PIPELINE_JOBS, enable);
      } finally {
        stalled.child.kill('SIGCONT');
      }
      const resumed = await stalled.outcome;
      expect(resumed, resumed.message).toMatchObject({ outcome: 'failed', code: 'LOCK_LOST' });

      // Nothing of the stalled run is visible: every table reads, equal to a clean run's, and reconcile balances.
      expect(await tableContents(lake)).toEqual(expected);
      const report = await reconcileLake(lake);
      expect(report.differences).toEqual([]);
      // And later runs work, also ones that read everything again.
      await runJobs(lake, PIPELINE_JOBS);
      expect(await tableContents(lake)).toEqual(expected);
    });
  }
});
