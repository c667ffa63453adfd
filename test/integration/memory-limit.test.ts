import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { runCli } from '../cli/cli-output.ts';

const tempDir = useTempDirs();

const cli = runCli;

describe('--memory-limit', () => {
  it('a pipeline run under a small DuckDB memory limit (256 MB) finishes, with the same tables', async () => {
    const roomy = await tempDir('roomy');
    await generateLanding(openLocalLake(roomy).storage, { seed: 31, days: 10, users: 150, tasksPerDay: 400 });
    const tight = await tempDir('tight');
    await cp(roomy, tight, { recursive: true, preserveTimestamps: true });

    expect((await cli(roomy, 'run', '--all')).code).toBe(0);
    const limited = await cli(tight, '--memory-limit', '256MB', 'run', '--all');
    expect(limited.code, limited.stderr).toBe(0);
    const [events] = await queryLake(openLocalLake(tight), 'SELECT count(*) AS n FROM bronze.tasks_cdc');
    expect(Number(events?.n)).toBeGreaterThan(10_000);
    expect(await tableContents(openLocalLake(tight))).toEqual(await tableContents(openLocalLake(roomy)));
  }, 300_000);

  it('two engines of one lake spill side by side, and one closing leaves the other\'s spilled data alone', async () => {
    // They once shared one spill folder: the first to close took the other's blocks with it (a crash, or at
    // 10M events "Cannot create a string of size 5455934004" in gold.daily_task_kpis).
    const lake = await tempDir('lake');
    const child = path.resolve(import.meta.dirname, '../support/spill-child.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, lake], { timeout: 240_000 });
    expect(stdout.trim()).toBe('same');
  }, 300_000);

  it('takes a size with its unit, and refuses anything else (exit 2)', async () => {
    const lake = await tempDir('lake');
    await generateLanding(openLocalLake(lake).storage, { seed: 1, days: 1, users: 2, tasksPerDay: 2 });
    for (const bad of ['lots', '512', '-1GB', '0MB']) {
      const result = await cli(lake, '--memory-limit', bad, 'tables');
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toMatch(/MEMORY_LIMIT_INVALID: --memory-limit .*must be a size with a unit/);
    }
    expect((await cli(lake, '--memory-limit', '1.5GiB', 'tables')).code).toBe(0);
  });
});
