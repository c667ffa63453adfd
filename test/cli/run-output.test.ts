import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PIPELINE_RULES_DIR } from '../../jobs/quality.ts';
import { cli, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * `medallion run` says what happened, not only SUCCEEDED: the rules that did not pass, a quarantine share above the
 * alarm's with its reasons, the job that failed, the jobs skipped because of it, and each job's start.
 */

const tempDir = useFileTempDirs();

describe('medallion run says what happened', () => {
  it('warned rules and a high quarantine share under the SUCCEEDED line; the failed job, the jobs it held back, and a count', async () => {
    const rules = await tempDir('run-rules');
    await cp(PIPELINE_RULES_DIR, rules, { recursive: true });
    const users = path.join(rules, 'silver.users.dqdl');
    const text = await readFile(users, 'utf8');
    await writeFile(users, text.replace('ColumnValues "plan" in ["free", "pro", "team"], # action: fail', 'ColumnValues "plan" in ["nobody"], # action: fail'));
    const dir = await tempDir('run-output');
    const global = ['--lake', dir, '--rules', rules];
    await ok([...global, 'generate', '--days', '2', '--users', '15', '--tasks-per-day', '25', '--seed', '9', '--fault-rate', '0.05']);

    const run = await cli([...global, 'run', '--all']);
    expect(run.code).toBe(1);
    const out = run.stdout.split('\n');
    // bronze.tasks_cdc: its run-dataset warn rule on the quarantine share, then the share with its reasons.
    const bronze = out.findIndex((line) => line.startsWith('bronze.tasks_cdc SUCCEEDED'));
    expect(bronze).toBeGreaterThanOrEqual(0);
    const under = out.slice(bronze + 1, out.findIndex((line, index) => index > bronze && !line.startsWith('  ')));
    expect(under[0]).toMatch(/^ {2}warn rule failed: bronze\.tasks_cdc: CustomSql "select records_quarantined \* 1\.0 \/ nullif\(records_read, 0\) from run" <= 0\.05 \(.*bronze\.tasks_cdc\.dqdl:\d+\)/);
    expect(under).toContain('  -> medallion quality history --job bronze.tasks_cdc --failed; runbooks/quality-rules-warn.md');
    expect(under.find((line) => line.startsWith('  warning: quarantined'))).toMatch(/^ {2}warning: quarantined \d+ of \d+ records read \(\d+\.\d%, above 5%\): .*invalid_json \d+/);
    expect(under).toContain('  -> medallion quarantine summary --job bronze.tasks_cdc; runbooks/quarantine-rate.md');
    // The failure, with its code and hint; the jobs that read what it writes, skipped and named.
    expect(out.find((line) => line.startsWith('silver.users FAILED'))).toMatch(/^silver\.users FAILED after \d+\.\d\d s: QUALITY_GATE_FAILED \(see `medallion quality history silver\.users`/);
    expect(out.filter((line) => line.includes(' SKIPPED: ')).sort()).toEqual([
      'gold.active_users SKIPPED: it reads what silver.tasks writes, which did not run to the end',
      'gold.daily_task_kpis SKIPPED: it reads what silver.tasks writes, which did not run to the end',
      'gold.user_kpis SKIPPED: it reads what silver.tasks and silver.users write, which did not run to the end',
      'silver.tasks SKIPPED: it reads what silver.users writes, which did not run to the end',
    ]);
    // The count after the jobs' lines; the error on stderr.
    expect(out.filter(Boolean).at(-1)).toBe('7 jobs: 2 succeeded, 1 failed, 4 skipped');
    expect(run.stderr).toMatch(/^error: QUALITY_GATE_FAILED: job silver\.users/);
  }, 120_000);

  it('a clean run prints its SUCCEEDED lines and nothing under them', async () => {
    const dir = await tempDir('run-clean');
    const start = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    await ok(['--lake', dir, 'generate', '--start', start, '--days', '2', '--users', '15', '--tasks-per-day', '25', '--seed', '9', '--fault-rate', '0']);
    const run = await cli(['--lake', dir, 'run', '--all']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line).toMatch(/^\S+ SUCCEEDED in /);
    expect(run.stdout).not.toMatch(/jobs: \d+ succeeded/);
    // A script's stderr stays empty (start lines are for a terminal).
    expect(run.stderr).toBe('');
  }, 120_000);
});
