import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { splitRunTokens } from '../../cli/commands/run.ts';
import { openLocalLake } from '../../core/index.ts';

let lake: string;
beforeAll(async () => {
  lake = await mkdtemp(path.join(os.tmpdir(), 'medallion-run-args-'));
  const io = bufferIo();
  expect(await invoke(['--lake', lake, 'generate', '--days', '1', '--users', '10', '--tasks-per-day', '20', '--seed', '3'], { io })).toBe(0);
});
afterAll(async () => {
  await rm(lake, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await invoke(['--lake', lake, ...args], { io, env: {} });
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('splitRunTokens', () => {
  it('separates job names, flags and Glue-style arguments, each --name taking the next token', () => {
    expect(splitRunTokens(['silver.tasks', '--max-retries', '2', '--wait', '--region=eu-west-1', '--timeout', '30', 'gold.daily_task_kpis'])).toEqual({
      jobNames: ['silver.tasks', 'gold.daily_task_kpis'],
      all: false,
      wait: true,
      glueArguments: ['--max-retries', '2', '--region=eu-west-1', '--timeout', '30'],
    });
  });
});

describe('medallion run with Glue arguments', () => {
  it('accepts --JOB_NAME and ignores arguments it does not know, as Glue does; the run is recorded', async () => {
    const result = await cli(['run', '--JOB_NAME', 'bronze.tasks_cdc', '--region', 'eu-west-1', '--max-retries', '1', '--timeout', '30']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^bronze\.tasks_cdc SUCCEEDED/);
    const runs = JSON.parse((await cli(['runs', 'bronze.tasks_cdc', '--format', 'json'])).stdout) as Record<string, unknown>[];
    expect(runs[0]).toMatchObject({ job: 'bronze.tasks_cdc', state: 'SUCCEEDED', attempt: 0 });
    expect(runs[0]?.records_read).toBeGreaterThan(0);
  });

  it('refuses a bad argument with exit 2, naming it and what is allowed', async () => {
    const result = await cli(['run', 'bronze.tasks_cdc', '--max-retries', '99']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: JOB_ARGUMENTS_INVALID: --max-retries must be a whole number from 0 to 10 \(got "99"\)/);
  });

  it('refuses bookmark options it cannot honour yet instead of ignoring them', async () => {
    const result = await cli(['run', 'bronze.tasks_cdc', '--job-bookmark-option', 'job-bookmark-enable']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: BOOKMARKS_NOT_AVAILABLE/);
  });

  it('refuses to start while another run holds the job, with exit 1 and who holds it', async () => {
    const state = openLocalLake(lake).state;
    const lease = await state.acquireLock('job-bronze.users_cdc', 'jr_other', 60_000, Date.now());
    expect(lease).toBeDefined();
    try {
      const result = await cli(['run', 'bronze.users_cdc']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: JOB_ALREADY_RUNNING: job bronze\.users_cdc is already running \(run jr_other/);
    } finally {
      if (lease) await state.releaseLock(lease);
    }
    expect((await cli(['run', 'bronze.users_cdc'])).code).toBe(0);
  });
});
