import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { withoutLakeLine } from './cli-output.ts';

const tempDir = useTempDirs();

async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await invoke(args, { io, env: {} });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('medallion quality', () => {
  let lake = '';
  afterAll(async () => {
    await rm(lake, { recursive: true, force: true });
  });
  beforeAll(async () => {
    lake = await mkdtemp(path.join(tmpdir(), 'medallion-quality-cli-'));
    // Traffic of the last two days: the tables' freshness rules pass, as on a live lake.
    const start = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    expect((await cli(['--lake', lake, 'generate', '--start', start, '--days', '2', '--users', '20', '--tasks-per-day', '30', '--seed', '5', '--fault-rate', '0'])).code).toBe(0);
    const run = await cli(['--lake', lake, 'run', '--all']);
    expect(run.code, run.stderr).toBe(0);
  }, 120_000);

  it('evaluates every rule set over the committed lake, prints each rule, and records the results', async () => {
    const result = await cli(['--lake', lake, 'quality', '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as { table: string; rule: string; outcome: string; action: string }[];
    // Clean traffic: every rule over the committed tables passes, landing (just written) is fresh.
    expect(rows.filter((row) => row.outcome !== 'PASS')).toEqual([]);
    expect(new Set(rows.map((row) => row.table))).toEqual(
      new Set([
        'landing.tasks', 'landing.users', 'bronze.tasks_cdc', 'bronze.users_cdc', 'silver.task_events', 'silver.tasks', 'silver.tasks_history',
        'silver.user_events', 'silver.users', 'silver.users_history', 'gold.daily_task_kpis', 'gold.active_users', 'gold.user_kpis',
      ]),
    );
    // Rules over a job run's counts are not in a check of the committed tables.
    expect(rows.some((row) => row.rule.includes('from run'))).toBe(false);
    expect(result.stderr).toMatch(/^(\d+) of \1 rules passed; 8 rules over the run dataset checked only in job runs \(recorded in quality\.results/m);

    const history = await cli(['--lake', lake, 'quality', 'history', 'silver.tasks', '--format', 'json', '--limit', '1000']);
    const recorded = JSON.parse(history.stdout) as { job: string; scope: string; table: string }[];
    expect(recorded.filter((row) => row.scope === 'table' && row.job === 'quality').length).toBe(rows.filter((row) => row.table === 'silver.tasks').length);
    // The job runs recorded theirs too, over the rows they wrote.
    expect(recorded.some((row) => row.scope === 'run' && row.job === 'silver.tasks')).toBe(true);
  });

  it('fails with exit 1 when landing is older than its freshness window, naming the rule, and records the failure', async () => {
    const old = new Date(Date.now() - 30 * 3_600_000);
    for (const file of await filesUnder(path.join(lake, 'landing', 'tasks'))) await utimes(file, old, old);
    const result = await cli(['--lake', lake, 'quality', 'landing.tasks']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('QUALITY_CHECK_FAILED: 1 rule with action fail did not pass: landing.tasks: DataFreshness "last_modified" <= 24 hours with threshold > 0 (quality/rules/landing.tasks.dqdl:5) failed');
    expect(result.stdout).toMatch(/landing\.tasks .*DataFreshness .*FAIL/);

    const failed = await cli(['--lake', lake, 'quality', 'history', '--failed', '--format', 'json']);
    expect(JSON.parse(failed.stdout)).toEqual([expect.objectContaining({ table: 'landing.tasks', outcome: 'FAIL', action: 'fail', value: 0, job: 'quality' })]);
  });

  it('--no-record prints without adding to the history', async () => {
    const before = JSON.parse((await cli(['--lake', lake, 'quality', 'history', '--format', 'json', '--limit', '100000'])).stdout) as unknown[];
    const result = await cli(['--lake', lake, 'quality', 'silver.users', '--no-record']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('(not recorded)');
    const after = JSON.parse((await cli(['--lake', lake, 'quality', 'history', '--format', 'json', '--limit', '100000'])).stdout) as unknown[];
    expect(after.length).toBe(before.length);
  });

  it('refuses unknown tables and broken rule sets with the file, line and column', async () => {
    const unknown = await cli(['--lake', lake, 'quality', 'silver.nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('QUALITY_RULESET_UNKNOWN: no rule set for silver.nope');

    const rules = path.join(await tempDir('quality-rules'), 'rules');
    await mkdir(rules);
    await writeFile(path.join(rules, 'silver.users.dqdl'), 'Rules = [\n  IsComplete "user_id"\n  RowCount > 0\n]\n');
    const broken = await cli(['--lake', lake, '--rules', rules, 'quality']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`DQDL_SYNTAX: ${path.relative(process.cwd(), path.join(rules, 'silver.users.dqdl'))}:3:3: expected "," or "]"`);
    expect((await stat(lake)).isDirectory()).toBe(true);
  });
});
