import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import type { Lake } from '../../core/index.ts';
import { bufferIo, invoke } from '../../cli/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { tableContents } from './pipeline-check.ts';
import { withoutLakeLine } from '../cli/cli-output.ts';

/** `--job-bookmark-option job-bookmark-enable`, as the nightly runs and the runbooks pass it. */
export const ENABLE = ['--job-bookmark-option', 'job-bookmark-enable'] as const;

/**
 * Temporary folders that live for the whole test file (a lake built in `beforeAll` and copied by each test),
 * removed after its last test. (test/core/test-resources.ts `useTempDirs` removes them after each test.)
 */
export function useFileTempDirs(): (label: string) => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async (label) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `medallion-${label}-`));
    made.push(dir);
    return dir;
  };
}

/** `medallion <args>` in-process: exit code and what it wrote. */
export async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await invoke([...args], { io, env: {} });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

/** `medallion <args>`, which must succeed; its output. */
export async function ok(args: readonly string[]): Promise<string> {
  const result = await cli(args);
  expect(result.code, `medallion ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

/**
 * Reconcile balances (with every landing object read, when `allRead`: a lake whose landing holds an object
 * modified in the future keeps it pending), and every table (bronze without ingested_at, quarantine without run ids) is `clean`'s. */
export async function expectLikeCleanRun(lake: Lake, clean: Record<string, unknown[]>, options: { readonly allRead?: boolean } = {}): Promise<void> {
  const report = await reconcileLake(lake);
  expect(report.differences).toEqual([]);
  if (options.allRead) expect(report.pendingObjects).toBe(0);
  expect(report.checks.every((check) => check.balanced)).toBe(true);
  const contents = await tableContents(lake);
  for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
}
