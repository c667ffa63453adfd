import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { splitRunTokens } from '../../cli/commands/run.ts';
import { openLocalLake } from '../../core/index.ts';
import { withoutLakeLine } from './cli-output.ts';

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
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

describe('splitRunTokens', () => {
  it('separates job names, flags and Glue-style arguments, each --name taking the next token', () => {
    expect(splitRunTokens(['silver.tasks', '--max-retries', '2', '--wait', '--region=eu-west-1', '--timeout', '30', 'gold.daily_task_kpis'])).toEqual({
      jobNames: ['silver.tasks', 'gold.daily_task_kpis'],
      all: false,
      wait: true,
      fullRefresh: false,
      glueArguments: ['--max-retries', '2', '--region=eu-west-1', '--timeout', '30'],
    });
    // --full-refresh takes no value: the job name after it stays a job name.
    expect(splitRunTokens(['--full-refresh', 'silver.tasks', '--timeout', '30'])).toMatchObject({ jobNames: ['silver.tasks'], fullRefresh: true, glueArguments: ['--timeout', '30'] });
  });
});

describe('medallion run with Glue arguments', () => {
  it('accepts --JOB_NAME and ignores arguments it does not know, as Glue does, naming them (and what a typo meant); the run is recorded', async () => {
    const result = await cli(['run', '--JOB_NAME', 'bronze.tasks_cdc', '--region', 'eu-west-1', '--max-retries', '1', '--timeout', '30', '--job-bookmark-options', 'x', '--max-retry=2', '--enable-metrics', 'true']);
    // Glue's own job parameters pass without a word; the rest are named once.
    expect(result.stderr).toBe('warning: ignored, no job of this run reads --region, --job-bookmark-options (did you mean --job-bookmark-option?), --max-retry (did you mean --max-retries?)\n');
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

  it('runs with bookmarks: enable reads only new objects, bookmark get shows the entry, pause reads a window, reset starts over', async () => {
    const enable = ['--job-bookmark-option', 'job-bookmark-enable'];
    const first = await cli(['run', 'bronze.tasks_cdc', ...enable]);
    expect(first.code, first.stderr).toBe(0);
    const second = await cli(['run', 'bronze.tasks_cdc', ...enable]);
    expect(second.stdout).toMatch(/nothing new since its bookmark, nothing committed/);

    const entry = JSON.parse((await cli(['bookmark', 'get', 'bronze.tasks_cdc', '--format', 'json'])).stdout) as Record<string, unknown>;
    expect(entry).toMatchObject({ JobName: 'bronze.tasks_cdc', Version: 1, Run: 1, Attempt: 0 });
    const firstRunId = entry.RunId as string;
    expect(JSON.parse(entry.JobBookmark as string)).toMatchObject({ landing: { kind: 'landing' } });

    // New data lands: the next enable run reads only it.
    const storage = openLocalLake(lake).storage;
    const extra = 'landing/tasks/2026/01/01/00/medallion-tasks-cdc-1-2026-01-01-00-00-00-extra';
    await storage.put(extra, JSON.stringify({
      eventID: 'extra-1', eventName: 'INSERT', tableName: 'Tasks',
      dynamodb: { ApproximateCreationDateTime: 1767225600000000, Keys: { userId: { S: 'u-x' }, taskId: { S: 't-x' } } },
    }));
    const third = await cli(['run', 'bronze.tasks_cdc', ...enable]);
    expect(third.stdout).toMatch(/read 1, wrote bronze\.tasks_cdc 1\b/);
    const secondEntry = JSON.parse((await cli(['bookmark', 'get', 'bronze.tasks_cdc', '--format', 'json'])).stdout) as Record<string, unknown>;
    expect(secondEntry).toMatchObject({ Version: 2, Run: 2, PreviousRunId: firstRunId });

    // Pause between the two bookmarks reads exactly what the second run read, and moves no bookmark (run ids may be
    // given by a unique start, as runs are everywhere).
    const paused = await cli(['run', 'bronze.tasks_cdc', '--job-bookmark-option', 'job-bookmark-pause',
      '--job-bookmark-from', firstRunId.slice(0, 30), `--job-bookmark-to=${(secondEntry.RunId as string).slice(0, 30)}`]);
    expect(paused.stdout).toMatch(/read 1, /);
    expect(JSON.parse((await cli(['bookmark', 'get', 'bronze.tasks_cdc', '--format', 'json'])).stdout)).toMatchObject({ Version: 2 });

    // The summary says where the bookmark is, in a few lines, not the whole entry.
    const summary = (await cli(['bookmark', 'get', 'bronze.tasks_cdc'])).stdout;
    expect(summary).toMatch(new RegExp(`^bronze\\.tasks_cdc: bookmark version 2, committed by run ${secondEntry.RunId as string} \\(run 2, attempt 0\\)\n  landing: landing, objects modified up to \\d{4}-`));
    expect(summary.split('\n').length).toBeLessThan(6);
    // Rewind to the first run, named as a cut id copied with its ellipsis: the next enable run reads the new object again.
    const rewound = await cli(['bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', `${firstRunId.slice(0, 19)}…`]);
    expect(rewound.code, rewound.stderr).toBe(0);
    expect(rewound.stdout).toContain(`committed by run ${firstRunId}`);
    expect((await cli(['run', 'bronze.tasks_cdc', ...enable])).stdout).toMatch(/read 1, /);
    // A full reset: the next enable run reads everything and replaces the table.
    const reset = JSON.parse((await cli(['bookmark', 'reset', 'bronze.tasks_cdc', '--format', 'json'])).stdout) as Record<string, unknown>;
    expect(reset).toMatchObject({ Version: 0 });
    expect((await cli(['run', 'bronze.tasks_cdc', ...enable])).stdout).toMatch(/read (\d{2,}), /);
    for (const unknownId of ['jr_nope', 'jr_ffff']) {
      const unknown = await cli(['bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', unknownId]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^error: RUN_NOT_FOUND/);
    }
    // A start shared by several runs names none of them.
    const ambiguous = await cli(['bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', 'jr_']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/^error: RUN_ID_AMBIGUOUS: jr_ starts \d+ run ids: jr_/);
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

  it('refuses a bookmark reset while a run of the job holds it (its commit would put its own bookmark back), and resets once it ended', async () => {
    const state = openLocalLake(lake).state;
    expect((await cli(['run', 'bronze.users_cdc', '--job-bookmark-option', 'job-bookmark-enable'])).code).toBe(0);
    const before = await state.readRoot();
    const lease = await state.acquireLock('job-bronze.users_cdc', 'jr_running', 60_000, Date.now());
    expect(lease).toBeDefined();
    try {
      const refused = await cli(['bookmark', 'reset', 'bronze.users_cdc']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: JOB_ALREADY_RUNNING: job bronze\.users_cdc is already running \(run jr_running/);
      expect(await state.readRoot()).toEqual(before);
    } finally {
      if (lease) await state.releaseLock(lease);
    }
    expect(JSON.parse((await cli(['bookmark', 'reset', 'bronze.users_cdc', '--format', 'json'])).stdout)).toMatchObject({ Version: 0 });
    expect((await state.readLock('job-bronze.users_cdc'))?.released).toBe(true);
  });
});
