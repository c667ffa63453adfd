import { cp, mkdtemp, readFile, rm, symlink, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Job, type TableSpec } from '../../core/index.ts';
import { jobGraph, runJobs } from '../../core/runner/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake } from '../support/pipeline-check.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The "Add a job" example of README.md: the file it names, its code, and the line that registers it. */
async function readmeExample(): Promise<{ file: string; code: string; registration: string }> {
  const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Add a job'));
  const code = /```ts\n(\/\/ (jobs\/\S+\.ts)\n[\s\S]*?)```/.exec(section);
  const registration = /`(export \* from '\.\/[a-z-]+\.ts';)`/.exec(section);
  if (!code || !registration) throw new Error('README.md: "Add a job" has no example file and registration line');
  return { file: code[2] as string, code: code[1] as string, registration: registration[1] as string };
}

describe("README's example job, added as README says: one new file and one line", () => {
  let copy: string;
  let registry: { PIPELINE_JOBS: readonly Job[]; PIPELINE_TABLES: readonly TableSpec[] };
  const lakes: string[] = [];

  beforeAll(async () => {
    // A copy of the job registry (jobs/), beside the framework and the rules it imports.
    copy = await mkdtemp(path.join(os.tmpdir(), 'medallion-registry-'));
    await cp(path.join(REPO, 'jobs'), path.join(copy, 'jobs'), { recursive: true });
    for (const folder of ['core', 'quality', 'node_modules']) await symlink(path.join(REPO, folder), path.join(copy, folder), 'dir');
    const example = await readmeExample();
    await writeFile(path.join(copy, example.file), example.code);
    await appendFile(path.join(copy, path.dirname(example.file), 'index.ts'), `${example.registration}\n`);
    registry = await import(path.join(copy, 'jobs', 'index.ts'));
  });

  afterAll(async () => {
    await Promise.all([copy, ...lakes].map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('is a pipeline job, its table a pipeline table, and it runs in the gold stage', () => {
    const job = registry.PIPELINE_JOBS.find((candidate) => candidate.name === 'gold.open_tasks_per_user');
    expect(job).toBeDefined();
    expect(registry.PIPELINE_TABLES.map((table) => table.name)).toContain('gold.open_tasks_per_user');
    const stages = jobGraph(registry.PIPELINE_JOBS).stages.map((stage) => stage.map((candidate) => candidate.name));
    expect(stages.findIndex((stage) => stage.includes('gold.open_tasks_per_user'))).toBe(stages.findIndex((stage) => stage.includes('gold.daily_task_kpis')));
  });

  it('runs with the rest of the pipeline and counts the open tasks of each user', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-added-job-'));
    lakes.push(dir);
    const lake = openLocalLake(dir, { threads: 2 });
    await generateLanding(lake.storage, { seed: 11, days: 2, users: 15, tasksPerDay: 25, faultRate: 0, start: '2025-11-01' });
    const results = await runJobs(lake, registry.PIPELINE_JOBS);
    expect(results.map((result) => result.job).sort()).toEqual(registry.PIPELINE_JOBS.map((job) => job.name).sort());

    const perUser = await queryLake(lake, 'SELECT user_id, open_tasks FROM gold.open_tasks_per_user ORDER BY user_id');
    const expected = await queryLake(lake, `
      SELECT user_id, count(*) FILTER (WHERE status IS DISTINCT FROM 'done') AS open_tasks
      FROM silver.tasks GROUP BY user_id HAVING open_tasks > 0 ORDER BY user_id`);
    expect(perUser.length).toBeGreaterThan(0);
    expect(perUser.map((row) => [row.user_id, Number(row.open_tasks)])).toEqual(expected.map((row) => [row.user_id, Number(row.open_tasks)]));
  });
});
