import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATUS_EXIT } from '../../cli/commands/status.ts';
import type { LakeStatus } from '../../core/monitoring/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { PIPELINE_RULES_DIR } from '../../jobs/quality.ts';
import { cli, ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * `medallion status` answers "is the lake healthy?" with an exit code a cron job or a health check can use:
 * 0 healthy, 1 warning, 2 critical, 3 could not tell, 64 a usage error; and for each problem, the runbook.
 */

const tempDir = useFileTempDirs();
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

/** A lake with two days of traffic, run as the nightly pipeline runs it, with the rule sets in `rules`. */
async function lakeWith(options: { start?: string; rules?: string } = {}): Promise<string[]> {
  const dir = await tempDir('status');
  const global = ['--lake', dir, ...(options.rules ? ['--rules', options.rules] : [])];
  await ok([...global, 'generate', '--start', options.start ?? daysAgo(2), '--days', '2', '--users', '15', '--tasks-per-day', '25', '--seed', '9', '--fault-rate', '0']);
  await cli([...global, 'run', '--all', ...ENABLE]);
  await cli([...global, 'quality']);
  return global;
}

/** The pipeline's rule sets with one rule replaced. */
async function rulesWith(table: string, from: string, to: string): Promise<string> {
  const dir = await tempDir('rules');
  await cp(PIPELINE_RULES_DIR, dir, { recursive: true });
  const file = path.join(dir, `${table}.dqdl`);
  const text = await readFile(file, 'utf8');
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
  return dir;
}

async function status(global: readonly string[]): Promise<{ code: number; status: LakeStatus; text: string }> {
  const json = await cli([...global, 'status', '--format', 'json']);
  const text = await cli([...global, 'status']);
  expect(text.code).toBe(json.code);
  return { code: json.code, status: JSON.parse(json.stdout) as LakeStatus, text: text.stdout };
}

describe('medallion status', () => {
  it('a healthy lake: exit 0, every job\'s last run, fresh tables, no problem', async () => {
    const global = await lakeWith();
    const { code, status: report, text } = await status(global);
    expect(report.problems).toEqual([]);
    expect(code).toBe(STATUS_EXIT.ok);
    expect(report.health).toBe('ok');
    expect(report.jobs.map((job) => [job.job, job.state])).toEqual(PIPELINE_JOBS.map((job) => [job.name, 'SUCCEEDED']));
    const bronze = report.jobs.find((job) => job.job === 'bronze.tasks_cdc')!;
    expect(bronze.recordsRead).toBeGreaterThan(0);
    expect(bronze.quarantinePercent).toBeCloseTo((100 * bronze.recordsQuarantined!) / bronze.recordsRead!, 6);
    expect(bronze).toMatchObject({ baselineSource: 'configured', baselineMs: 3_600_000 });
    // A job run with --duration-baseline-minutes is judged against that, as its alarm judges it.
    await ok([...global, 'run', 'bronze.users_cdc', '--duration-baseline-minutes', '7', ...ENABLE]);
    const after = JSON.parse((await cli([...global, 'status', '--format', 'json'])).stdout) as LakeStatus;
    expect(after.jobs.find((job) => job.job === 'bronze.users_cdc')).toMatchObject({ baselineSource: 'configured', baselineMs: 7 * 60_000 });
    // Landing, silver's current state and every gold table are checked for freshness, and fresh.
    expect(report.freshness.map((entry) => [entry.table, entry.fresh])).toEqual(
      ['gold.active_users', 'gold.daily_task_kpis', 'gold.user_kpis', 'landing.tasks', 'landing.users', 'silver.tasks', 'silver.users'].map((table) => [table, true]),
    );
    expect(text).toMatch(/^lake .*: HEALTHY, checked /);
    expect(text).toContain('No problems.');
  }, 120_000);

  it('a warn rule failing: exit 1, the rule named, with the runbook to open', async () => {
    const rules = await rulesWith('silver.users', 'ColumnValues "email" matches ".+@.+"', 'ColumnValues "email" matches "^nobody$"');
    const { code, status: report, text } = await status(await lakeWith({ rules }));
    expect(code).toBe(STATUS_EXIT.warning);
    expect(report.health).toBe('warning');
    // Found by the job's gate and by the quality step after it, each its own evaluation.
    const warned = expect.objectContaining({ severity: 'warning', alarm: 'quality-rules-warn', subject: 'silver.users', next: 'runbooks/quality-rules-warn.md' });
    expect(report.problems).toEqual([warned, warned]);
    expect(report.problems.map((problem) => problem.message.replace(/ at \S+\)/, ')')).sort()).toEqual([
      'ColumnValues "email" matches "^nobody$" failed (action warn, job silver.users): 0.00 % of rows passed the threshold',
      'ColumnValues "email" matches "^nobody$" failed (action warn, the quality step): 0.00 % of rows passed the threshold',
    ]);
    expect(text).toMatch(/^lake .*: WARNING \(0 critical, 2 warnings\)/);
    expect(text).toContain('WARNING  silver.users: ColumnValues "email"');
    expect(text).toContain('-> runbooks/quality-rules-warn.md');
  }, 120_000);

  it('a failed run: exit 2, the job\'s failure and the gate that stopped it, critical first', async () => {
    const rules = await rulesWith('silver.users', 'ColumnValues "plan" in ["free", "pro", "team"], # action: fail', 'ColumnValues "plan" in ["nobody"], # action: fail');
    const global = await lakeWith({ rules });
    const { code, status: report } = await status(global);
    expect(code).toBe(STATUS_EXIT.critical);
    expect(report.health).toBe('critical');
    expect(report.jobs.find((job) => job.job === 'silver.users')).toMatchObject({ state: 'FAILED' });
    expect(report.jobs.find((job) => job.job === 'silver.users')!.error).toContain('QUALITY_GATE_FAILED');
    const named = report.problems.map((problem) => [problem.severity, problem.alarm, problem.subject]);
    expect(named).toContainEqual(['critical', 'quality-gate-failed', 'silver.users']);
    expect(named).toContainEqual(['critical', 'pipeline-no-success', 'silver.users']);
    expect(named).toContainEqual(['warning', 'job-failed', 'silver.users']);
    // The jobs after it did not run: never run is a problem too.
    expect(report.jobs.find((job) => job.job === 'gold.user_kpis')).toMatchObject({ state: 'NEVER_RUN' });
    expect(report.problems.findIndex((problem) => problem.severity === 'warning')).toBeGreaterThan(report.problems.findLastIndex((problem) => problem.severity === 'critical'));
  }, 120_000);

  it('tables whose newest data is old: critical, with the table-stale runbook', async () => {
    const { code, status: report } = await status(await lakeWith({ start: '2025-11-01' }));
    expect(code).toBe(STATUS_EXIT.critical);
    const stale = report.problems.filter((problem) => problem.alarm === 'table-stale').map((problem) => problem.subject);
    expect(stale.sort()).toEqual(['gold.active_users', 'gold.daily_task_kpis', 'gold.user_kpis', 'silver.tasks', 'silver.users']);
    for (const problem of report.problems.filter((entry) => entry.alarm === 'table-stale')) expect(problem).toMatchObject({ severity: 'critical', next: 'runbooks/table-stale.md' });
  }, 120_000);

  it('keeps usage errors (64) and a status it cannot read (3) apart from the health codes', async () => {
    const dir = await tempDir('status-usage');
    const usage = await cli(['--lake', dir, 'status', '--bogus']);
    expect(usage.code).toBe(STATUS_EXIT.usage);
    expect(usage.stderr).toContain("unknown option '--bogus'");
    const format = await cli(['--lake', dir, 'status', '--format', 'csv']);
    expect(format.code).toBe(STATUS_EXIT.usage);
    // Before the command too: an unknown global option.
    expect((await cli(['--lake', dir, '--bogus', 'status'])).code).toBe(STATUS_EXIT.usage);
    const missing = await cli(['--lake', path.join(dir, 'no-such-lake'), 'status']);
    expect(missing.code).toBe(STATUS_EXIT.unknown);
    expect(missing.stderr).toMatch(/^error: the status could not be read: /);
  });
});
