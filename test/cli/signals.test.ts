import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { boxTableRecords, stackFrames } from './cli-output.ts';
import { cli, useFileTempDirs } from '../support/lake-cli.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

/**
 * Ctrl-C (SIGINT) or SIGTERM (`kill`, ECS stopping a task) during `medallion run --all`, in a child process: the runs
 * under way end STOPPED (or, past their commit, SUCCEEDED), no other job starts, every lock is released, the exit code
 * is the shell's for the signal, and nothing prints a stack trace. The child is frozen (SIGSTOP) the moment a run is
 * RUNNING and the signal queued before it resumes, so the signal always lands mid-run, however busy the machine.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useFileTempDirs();
let lake = '';

function start(args: readonly string[]): { child: ChildProcess; output: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const { MEDALLION_LAKE: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, [path.join(root, 'bin', 'medallion.js'), '--lake', lake, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  const output = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, output };
}

/** The run records of every job, as the state folder holds them. */
async function runRecords(): Promise<{ job: string; state: string }[]> {
  const records: { job: string; state: string }[] = [];
  for (const job of PIPELINE_JOBS) {
    const folder = path.join(lake, '_state', 'records', 'runs', job.name);
    for (const file of await readdir(folder).catch(() => [])) {
      // A record being written (its temporary file, or a part of it) is read again on the next look.
      const text = await readFile(path.join(folder, file), 'utf8').catch(() => '');
      try {
        records.push({ job: job.name, state: (JSON.parse(text) as { JobRunState: string }).JobRunState });
      } catch {
        // Not whole yet.
      }
    }
  }
  return records;
}

/** Waits until a run is RUNNING, then freezes the child; false when the child ended first. */
async function freezeWhileRunning(child: ChildProcess): Promise<boolean> {
  while (child.exitCode === null && child.signalCode === null) {
    if ((await runRecords()).some((record) => record.state === 'RUNNING')) {
      child.kill('SIGSTOP');
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

beforeEach(async () => {
  lake = await tempDir('signals');
  expect((await cli(['--lake', lake, 'generate', '--days', '3', '--users', '150', '--tasks-per-day', '300'])).code).toBe(0);
});

describe('a signal during medallion run --all', () => {
  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s: the runs stop cleanly and release their locks; exit %i, no stack trace', async (signal, exitCode) => {
    const { child, output } = start(['run', '--all', '--job-bookmark-option', 'job-bookmark-enable']);
    expect(await freezeWhileRunning(child)).toBe(true);
    child.kill(signal);
    child.kill('SIGCONT');
    const result = await output;
    expect(result.code, result.stderr).toBe(exitCode);
    expect(stackFrames(result.stderr)).toEqual([]);
    expect(result.stderr).toContain(`${signal}: stopping the runs under way`);
    // Every run ended: STOPPED before its commit, or SUCCEEDED past it; none is RUNNING.
    const records = await runRecords();
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) expect(['STOPPED', 'SUCCEEDED'], `${record.job}: ${record.state}`).toContain(record.state);
    // Stopped during bronze or silver: gold never ran, and stdout says what each job did.
    expect(records.filter((record) => record.job.startsWith('gold.'))).toEqual([]);
    expect(result.stdout).toMatch(/^gold\.daily_task_kpis NOT STARTED: the runs were stopped$/m);
    expect(result.stdout).toMatch(/^7 jobs: \d+ succeeded, 0 failed, 0 skipped, \d+ stopped, \d+ not started$/m);
    // Every lock is free: the next run goes ahead at once, and completes the pipeline.
    const locks = boxTableRecords((await cli(['--lake', lake, 'lock', 'status'])).stdout);
    expect(locks.length).toBe(PIPELINE_JOBS.length + 1);
    for (const lock of locks) expect(lock.status, JSON.stringify(lock)).toBe('free');
    const again = await cli(['--lake', lake, 'run', '--all', '--job-bookmark-option', 'job-bookmark-enable']);
    expect(again.code, again.stderr).toBe(0);
  }, 120_000);

  it('a signal while no run holds it (a long query) exits at once with the signal\'s code', async () => {
    const { child, output } = start(['query', 'SELECT count(*) FROM range(100000000000)']);
    await new Promise<void>((resolve) => child.stderr!.once('data', () => resolve()));
    child.kill('SIGINT');
    const result = await output;
    expect(result.code).toBe(130);
    expect(stackFrames(result.stderr)).toEqual([]);
  }, 60_000);
});
