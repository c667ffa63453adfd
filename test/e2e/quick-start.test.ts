import { spawn } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxTableRecords, linesOf, stackFrames } from '../cli/cli-output.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD_TIMEOUT_MS = 45_000;

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/medallion.js ...args` from the repository root, as a user's shell would. */
async function medallion(args: readonly string[]): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MEDALLION_LAKE;
  delete env.MEDALLION_DEBUG;
  const child = spawn(process.execPath, ['bin/medallion.js', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let timer: NodeJS.Timeout | undefined;
  try {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`medallion ${args.join(' ')} took over ${CHILD_TIMEOUT_MS} ms\n${stderr}`)), CHILD_TIMEOUT_MS);
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return { ...exit, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('quick start, as a user runs it', () => {
  let lake: string;
  let demo: ChildResult;

  beforeAll(async () => {
    lake = await mkdtemp(path.join(tmpdir(), 'medallion-e2e-'));
    // As `npm start` runs it: the demo's defaults (a week of 200 users' traffic).
    demo = await medallion(['--lake', lake, 'demo']);
  });
  afterAll(async () => {
    if (lake) await rm(lake, { recursive: true, force: true });
  });

  it('runs the demo end to end: exit 0, every job succeeds, and the three sections are printed', () => {
    expect(stackFrames(demo.stderr)).toEqual([]);
    expect(demo.code, demo.stderr).toBe(0);
    expect(linesOf(demo.stderr).filter((line) => / SUCCEEDED in /.test(line))).toHaveLength(PIPELINE_JOBS.length);

    const lines = demo.stdout.split('\n');
    const at = ['Rows per table', 'Quarantined records', 'gold.daily_task_kpis'].map((heading) => lines.indexOf(heading));
    expect(at.every((index) => index >= 0), demo.stdout).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const rowsPerTable = boxTableRecords(lines.slice((at[0] ?? 0) + 1, at[1]).join('\n'));
    expect(rowsPerTable.map((row) => row.table).sort()).toEqual(PIPELINE_TABLES.map((table) => table.name).sort());
    // Every job checked its outputs' quality rules; the summary counts them.
    // Its faults are a normal night's: every rule passes, the pipeline's own 5% quarantine warning included.
    const quality = /^Quality: (\d+) of (\d+) rule evaluations passed/m.exec(demo.stderr);
    expect(quality, demo.stderr).not.toBeNull();
    expect(quality![1], demo.stderr).toBe(quality![2]);
    expect(Number(rowsPerTable.find((row) => row.table === 'quality.results')?.rows)).toBeGreaterThan(0);
    expect(Number(rowsPerTable.find((row) => row.table === 'silver.tasks')?.rows)).toBeGreaterThan(0);
    const kpis = boxTableRecords(lines.slice((at[2] ?? 0) + 1).join('\n'));
    // Two days of traffic ending yesterday (UTC), so a demo lake is as fresh as a live one.
    const day = (back: number) => new Date(Date.now() - back * 86_400_000).toISOString().slice(0, 10);
    // A week ending yesterday: the first day is 7 days back (or 8, when the last event's late file crossed midnight).
    expect([day(8), day(7)]).toContain(kpis[0]?.dt);
    expect(kpis.length).toBeGreaterThanOrEqual(7);
  });

  it('then answers a query over the lake the demo filled', async () => {
    expect(demo.code).toBe(0);
    const result = await medallion(['--lake', lake, 'query', 'SELECT count(*) AS n FROM silver.tasks', '--format', 'json']);
    // Which lake it read, and nothing else.
    expect(result.stderr).toBe(`lake: ${lake} (folder)\n`);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as { n: unknown }[];
    expect(rows).toHaveLength(1);
    expect(typeof rows[0]?.n).toBe('number');
    expect(rows[0]?.n).toBeGreaterThan(0);
  });

  it('leaves _catalog/views.sql so any DuckDB client reads the same tables', async () => {
    expect(demo.code).toBe(0);
    const views = await readFile(path.join(lake, '_catalog', 'views.sql'), 'utf8');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(views);
      const reader = await connection.runAndReadAll('SELECT (SELECT count(*) FROM silver.tasks) AS n, (SELECT count(*) FROM gold.daily_task_kpis) AS days');
      const [row] = reader.getRowObjectsJson();
      const rowsPerTable = boxTableRecords(demo.stdout.split('\n').slice(0, demo.stdout.split('\n').indexOf('Quarantined records')).join('\n'));
      const printed = (table: string) => Number(rowsPerTable.find((candidate) => candidate.table === table)?.rows);
      expect(Number(row?.n)).toBe(printed('silver.tasks'));
      expect(Number(row?.days)).toBe(printed('gold.daily_task_kpis'));
      expect(Number(row?.n)).toBeGreaterThan(0);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('exits 2 on an unknown command, with an error and no stack trace', async () => {
    const result = await medallion(['bogus']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: .*bogus/);
    expect(stackFrames(result.stderr)).toEqual([]);
  });

  it('has npm start run the demo with the CLI entry point, into the default ./lake that git ignores', async () => {
    const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
      bin?: Record<string, string>;
    };
    const start = (manifest.scripts?.start ?? '').trim().split(/\s+/);
    expect(start.at(-1)).toBe('demo');
    expect(start.some((word) => word === 'bin/medallion.js')).toBe(true);
    // npm install compiles the CLI (prepare), and the bin runs the compiled code: no transpiling at start-up.
    expect(manifest.scripts?.prepare).toMatch(/npm run build|tsc -p tsconfig\.build\.json/);
    expect(demo.stderr).not.toContain('dist/ is missing');
    expect(start).not.toContain('--lake');
    expect(manifest.bin?.medallion).toBe('bin/medallion.js');
    const ignored = (await readFile(path.join(REPO_ROOT, '.gitignore'), 'utf8')).split('\n').map((line) => line.trim());
    expect(ignored.some((line) => line === 'lake/' || line === '/lake/' || line === 'lake')).toBe(true);
  });
});
