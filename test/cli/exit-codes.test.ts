import { spawn } from 'node:child_process';
import { openSync, closeSync, existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, stackFrames } from './cli-output.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let lake: string;

const cli = (...args: string[]) => runCli(lake, ...args);

/** The real CLI in a child process, its standard output going to `stdoutFile`. */
function cliTo(stdoutFile: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const out = openSync(stdoutFile, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), '--lake', lake, ...args], { cwd: root, stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => void (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      closeSync(out);
      resolve({ code, stderr });
    });
  });
}

beforeAll(async () => {
  lake = path.join(await mkdtemp(path.join(tmpdir(), 'medallion-exit-')), 'lake');
  expect((await cli('generate', '--days', '1', '--users', '3', '--tasks-per-day', '5')).code).toBe(0);
});

describe('exit codes: 1 for a failed run, damaged data or a refusing machine, 2 for usage', () => {
  it.each([
    ['quality history', ['quality', 'history', '--limit']],
    ['reconcile', ['reconcile', '--limit']],
  ])('`%s --limit` takes whole numbers a query can hold, and refuses others (exit 2)', async (_name, command) => {
    for (const bad of ['0', '1.5', '1e3', '-4', '99999999999999999999', '9223372036854775808', 'ten']) {
      const result = await cli(...command, bad);
      expect(result.code, `${command.join(' ')} ${bad}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/must be a whole number from 1 to 9007199254740991/);
    }
    expect((await cli(...command, '9007199254740991')).code).not.toBe(2);
  });

  it.skipIf(!existsSync('/dev/full'))('a full disk under the output: DISK_FULL or OUTPUT_FAILED, exit 1, no stack trace, and the runs finish', async () => {
    const query = await cliTo('/dev/full', 'query', 'SELECT * FROM range(100000)', '--format', 'csv');
    expect(query.code).toBe(1);
    expect(query.stderr).toMatch(/^error: DISK_FULL: .*no space left on device.*free space where the lake/m);
    expect(stackFrames(query.stderr)).toEqual([]);

    const run = await cliTo('/dev/full', 'run', '--all');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: OUTPUT_FAILED: the runs finished, but their report could not be written: ENOSPC/m);
    expect(stackFrames(run.stderr)).toEqual([]);
    // Nothing was left running: every run finished, and the next run goes ahead.
    const runs = await cli('runs', '--format', 'json');
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as { state: string }[]).map((row) => row.state).filter((state) => state !== 'SUCCEEDED')).toEqual([]);
    expect((await cli('run', '--all')).code).toBe(0);
  }, 120_000);

  it('a reader that goes away (`run --all | head -1`): the runs finish, nothing is left running, no stack trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), '--lake', lake, 'run', '--all'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => void (stderr += chunk));
    // Like head -1: read the first line, then close the pipe.
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/^error: OUTPUT_FAILED: the runs finished, but their report could not be written: .*EPIPE/m);
    expect(stackFrames(stderr)).toEqual([]);
    const runs = await cli('runs', '--format', 'json');
    expect((JSON.parse(runs.stdout) as { state: string }[]).filter((row) => row.state !== 'SUCCEEDED')).toEqual([]);
  }, 120_000);
});
