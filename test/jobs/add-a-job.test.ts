import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile, appendFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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

/** README's "Add a job" steps: the rules file of step 3 and the commands of steps 4 and 5, as written. */
async function readmeSteps(): Promise<{ rules: { file: string; text: string }; commands: string[] }> {
  const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Add a job'), readme.indexOf('\n## ', readme.indexOf('## Add a job') + 5));
  const rulesFile = /`(quality\/rules\/[a-z_.]+\.dqdl)`/.exec(section);
  const rules = /```\n((?: {3})?Rules = \[[\s\S]*?\])\n\s*```/.exec(section);
  const steps = section.slice(section.search(/^4\. /m));
  const commands = [...steps.matchAll(/`((?:npm run|npx medallion) [^`]+)`/g)].map((match) => match[1] as string);
  if (!rulesFile || !rules || commands.length < 3) throw new Error('README.md: "Add a job" has no rules file, rules or commands in its steps');
  return { rules: { file: rulesFile[1] as string, text: `${(rules[1] as string).replace(/^ {3}/gm, '')}\n` }, commands };
}

describe("README's \"Add a job\" steps, followed in a copy of the repository", () => {
  it('builds, documents, checks and runs the new job from the command line', async () => {
    const copy = await mkdtemp(path.join(os.tmpdir(), 'medallion-steps-'));
    try {
      const skip = new Set(['node_modules', '.git', 'dist', 'lake', '.bench', 'cdk.out', 'coverage', 'scratch']);
      await cp(REPO, copy, { recursive: true, filter: (source) => !skip.has(path.relative(REPO, source).split(path.sep)[0] ?? '') });
      await symlink(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      const { MEDALLION_LAKE: _ignored, ...env } = process.env;
      const shell = (command: string) => promisify(execFile)('bash', ['-c', command], { cwd: copy, maxBuffer: 64 * 1024 * 1024, env });
      // Steps 1 to 3: the module, its registration, its rules.
      const example = await readmeExample();
      const steps = await readmeSteps();
      await writeFile(path.join(copy, example.file), example.code);
      await appendFile(path.join(copy, path.dirname(example.file), 'index.ts'), `${example.registration}\n`);
      await writeFile(path.join(copy, steps.rules.file), steps.rules.text);
      // Before the build, the CLI runs the sources (with the new job), saying so: never stale compiled code.
      const unbuilt = await shell('node bin/medallion.js jobs');
      expect(unbuilt.stderr).toMatch(/^warning: dist\/ is missing: running the TypeScript sources through tsx/);
      expect(unbuilt.stdout).toContain('gold.open_tasks_per_user');
      // Steps 4 and 5, as typed (`npx medallion` is the repository's own bin, bin/medallion.js).
      const outputs: string[] = [];
      for (const command of steps.commands) {
        // A lake to run on, as `npm start` leaves one.
        if (command.startsWith('npx medallion run')) await shell('node bin/medallion.js generate --days 2 --users 15 --tasks-per-day 25 --seed 11 --start 2025-11-01');
        const { stdout } = await shell(command.replace(/^npx medallion /, 'node bin/medallion.js '));
        outputs.push(stdout);
      }
      expect(await readFile(path.join(copy, 'docs', 'tables.md'), 'utf8')).toContain('gold.open_tasks_per_user');
      // Built: the compiled code runs, without a word; an edit after the build sends it back to the sources.
      expect((await shell('node bin/medallion.js jobs')).stderr).toBe('');
      await appendFile(path.join(copy, example.file), '\n');
      expect((await shell('node bin/medallion.js jobs')).stderr).toMatch(/^warning: dist\/ is older than the sources/);
      expect(outputs.join('\n')).toMatch(/^gold\.open_tasks_per_user SUCCEEDED in [\d.]+ s: read \d+, wrote gold\.open_tasks_per_user \d+/m);
      // The query of step 5 printed the table's rows.
      expect(outputs.at(-1)).toMatch(/│ user_id +│ open_tasks │/);
      expect(outputs.at(-1)).toMatch(/│ u-\d{6} +│ +\d+ │/);
      // Its rules ran with it.
      const { stdout: checked } = await shell("node bin/medallion.js quality history gold.open_tasks_per_user --format csv");
      expect(checked).toMatch(/IsPrimaryKey ""user_id""",fail,PASS/);
      expect(checked).toMatch(/ColumnValues ""open_tasks"" >= 0",warn,PASS/);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  }, 240_000);
});
