import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import type { LocalCatalog } from '../../core/catalog/index.ts';
import { FAULT_POINTS, runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { requestedCpuLoad, startCpuLoad } from '../support/cpu-load.ts';

const tempDir = useTempDirs();
// MEDALLION_TEST_CPU_LOAD=N runs this file beside N busy processes, as a loaded CI machine would.
const stopLoad = startCpuLoad(requestedCpuLoad());
afterAll(stopLoad);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LANDING = { seed: 6, days: 2, users: 20, tasksPerDay: 30, faultRate: 0.03 } as const;
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

/** Runs the pipeline in a child process that SIGKILLs itself at `point` of `job`. */
function crashAt(lakeDir: string, job: string, point: string): Promise<{ signal: NodeJS.Signals | null; pid: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/crash-child.ts'), lakeDir, job, point], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => void (stdout += chunk));
    child.stderr.on('data', (chunk) => void (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, pid: child.pid as number, stdout, stderr });
    });
  });
}

describe('a run killed at any step leaves the lake as a clean run would', async () => {
  const referenceDir = await tempDir('reference');
  const reference = openLocalLake(referenceDir, { threads: 2 });
  await generateLanding(reference.storage, LANDING);
  await runJobs(reference, PIPELINE_JOBS, enable);
  const expected = await tableContents(reference);

  const cases = [
    ...FAULT_POINTS.map((point) => ({ job: 'bronze.tasks_cdc', point })),
    { job: 'silver.tasks', point: 'outputs-staged' },
    { job: 'silver.tasks', point: 'before-swap' },
    { job: 'gold.daily_task_kpis', point: 'after-commit' },
    // The last job: its rerun finds nothing new anywhere, and must still publish the commit the dead run did not.
    { job: PIPELINE_JOBS.at(-1)!.name, point: 'after-commit' },
  ];
  for (const { job, point } of cases) {
    it(`SIGKILL in ${job} at ${point}, then a rerun`, async () => {
      const dir = await tempDir('crash');
      const lake = openLocalLake(dir, { threads: 2 });
      await generateLanding(lake.storage, LANDING);

      const crashed = await crashAt(dir, job, point);
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      // What is visible right after the crash is a committed state: every table's files exist and read.
      const afterCrash = await lake.state.readRoot();
      for (const table of Object.keys(afterCrash.tables)) await queryLake(lake, `SELECT count(*) FROM ${table}`);

      // The dead run's lease runs out; the rerun recovers and finishes.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const results = await runJobs(lake, PIPELINE_JOBS, enable);
      expect(results).toHaveLength(PIPELINE_JOBS.length);
      // The dead process's landing spool is gone too.
      expect((await readdir(tmpdir())).filter((name) => name.startsWith(`medallion-spool-${crashed.pid}-`))).toEqual([]);
      expect(await tableContents(lake)).toEqual(expected);

      // The dead run is marked ERROR (SUCCEEDED when its commit went in before it died, with what it wrote),
      // and no staged file of a run that never committed is left behind.
      const runs = await lake.state.listRecords<{ Id: string; JobRunState: string; Metrics?: Record<string, number> }>(`runs/${job}`);
      expect(runs.filter((run) => run.JobRunState === 'RUNNING' || run.JobRunState === 'STARTING')).toEqual([]);
      const dead = runs.filter((run) => run.JobRunState === 'ERROR').map((run) => run.Id);
      // The catalog (views.sql, lake.duckdb) shows the newest commit, also when the run died before publishing it.
      expect(await (lake.catalog as LocalCatalog).publishedSeq()).toBe((await lake.state.readRoot()).seq);
      if (point === 'after-commit') {
        expect(dead).toEqual([]);
        const killed = runs.find((run) => afterCrash.runId === run.Id);
        expect(killed).toMatchObject({ JobRunState: 'SUCCEEDED', Metrics: { 'medallion.job.recordsWritten': expect.any(Number) } });
        return;
      }
      expect(dead).toHaveLength(1);
      const prefix = `${job.split('.')[0]}/${job.split('.')[1] === 'tasks' ? 'task_events' : job.split('.')[1]}/`;
      const committedRoot = await lake.state.readRoot();
      const leftovers = (await collect(lake.storage.list(prefix))).filter((object) => object.key.includes(dead[0] as string));
      if (point !== 'after-commit') expect(leftovers).toEqual([]);
      expect(committedRoot.seq).toBeGreaterThan(afterCrash.seq - 1);
    });
  }
});
