import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from './median.ts';

/**
 * How long a `medallion` process takes from spawn to exit, as a shell, a runbook step or a job task pays it:
 * `medallion jobs` (start-up alone) and a bookmarked `run --all` with nothing new (start-up, opening the lake and
 * each job finding nothing to read), the compiled CLI (bin/medallion.js -> dist/) against the sources through tsx.
 * Medians of `repeat` runs, on a small lake of its own. Run alone with `npm run bench:startup`.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const exec = promisify(execFile);

export interface StartupFigures {
  readonly compiled: { readonly jobsMs: number; readonly idleRunMs: number };
  readonly tsx: { readonly jobsMs: number; readonly idleRunMs: number };
  readonly repeat: number;
}

async function timed(args: readonly string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const { MEDALLION_LAKE: _ignored, ...env } = process.env;
  await exec(process.execPath, [...args], { cwd: root, env });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function measureStartup(repeat = 5): Promise<StartupFigures> {
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const lake = await mkdtemp(path.join(os.tmpdir(), 'medallion-startup-'));
  try {
    const compiled = [path.join(root, 'bin', 'medallion.js')];
    const sources = ['--import', 'tsx', path.join(root, 'cli', 'main.ts')];
    const idleRun = ['--lake', lake, 'run', '--all', '--job-bookmark-option', 'job-bookmark-enable'];
    await exec(process.execPath, [...compiled, '--lake', lake, 'generate', '--days', '1', '--users', '10', '--tasks-per-day', '20'], { cwd: root });
    await exec(process.execPath, [...compiled, ...idleRun], { cwd: root });
    const measure = async (entry: readonly string[], args: readonly string[]) => {
      const times: number[] = [];
      // One run first, untimed: the file system cache (and tsx's own cache) warm, as on a machine in use.
      await timed([...entry, ...args]);
      for (let attempt = 0; attempt < repeat; attempt += 1) times.push(await timed([...entry, ...args]));
      return median(times);
    };
    return {
      compiled: { jobsMs: await measure(compiled, ['jobs']), idleRunMs: await measure(compiled, idleRun) },
      tsx: { jobsMs: await measure(sources, ['jobs']), idleRunMs: await measure(sources, idleRun) },
      repeat,
    };
  } finally {
    await rm(lake, { recursive: true, force: true });
  }
}

/** The figures as the benchmark prints them, with the target (well under 1 s). */
export function startupLines(figures: StartupFigures): string[] {
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  const verdict = (ms: number) => (ms < 1000 ? 'met' : 'MISSED');
  return [
    `process start (spawn to exit, median of ${figures.repeat}): compiled CLI (bin/medallion.js -> dist/) against the sources through tsx`,
    `  medallion jobs                          ${seconds(figures.compiled.jobsMs)} s   (tsx ${seconds(figures.tsx.jobsMs)} s)`,
    `  medallion run --all, nothing new        ${seconds(figures.compiled.idleRunMs)} s   (tsx ${seconds(figures.tsx.idleRunMs)} s)`,
    `target medallion jobs < 1 s: ${seconds(figures.compiled.jobsMs)} s -> ${verdict(figures.compiled.jobsMs)}`,
    `target no-op run --all < 1 s: ${seconds(figures.compiled.idleRunMs)} s -> ${verdict(figures.compiled.idleRunMs)}`,
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.stdout.write(`${startupLines(await measureStartup()).join('\n')}\n`);
}
