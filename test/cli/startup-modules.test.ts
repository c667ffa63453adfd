import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFileTempDirs } from '../support/lake-cli.ts';

/**
 * Start-up is paid by every runbook step and every job task: DuckDB's binding and the AWS SDK's clients take most
 * of a second to load, so a command loads them only when it needs them. Checked by the packages a command's
 * process has loaded (both are CommonJS, so Node's require cache lists them), never by a time.
 */
const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useFileTempDirs();
let lake: string;
let preload: string;

/** The packages of @duckdb and @aws-sdk that `medallion ...args` loaded, as the process printed them at exit. */
async function packagesLoaded(args: readonly string[]): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MEDALLION_LAKE;
  delete env.MEDALLION_STORAGE;
  const { stdout } = await run(process.execPath, ['--require', preload, 'bin/medallion.js', ...args], { cwd: REPO_ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line.slice(line.indexOf('['))) as string[];
}

beforeAll(async () => {
  const dir = await tempDir('startup-modules');
  preload = path.join(dir, 'loaded-packages.cjs');
  await writeFile(preload, `process.on('exit', () => {
  const names = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules[\\\\/]((@duckdb|@aws-sdk)[\\\\/][^\\\\/]+)/.exec(file);
    if (match) names.add(match[1].replace('\\\\', '/'));
  }
  process.stdout.write('\\nloaded: ' + JSON.stringify([...names].sort()) + '\\n');
});
`);
  lake = path.join(dir, 'lake');
  await run(process.execPath, ['bin/medallion.js', '--lake', lake, 'generate', '--days', '1', '--users', '3'], { cwd: REPO_ROOT });
  await run(process.execPath, ['bin/medallion.js', '--lake', lake, 'run', '--all', '--job-bookmark-option', 'job-bookmark-enable'], { cwd: REPO_ROOT });
}, 120_000);

describe('what a command loads', () => {
  it('commands that open no engine on a folder lake load neither DuckDB nor the AWS SDK', async () => {
    for (const args of [['jobs'], ['--lake', lake, 'lock', 'status'], ['--lake', lake, 'run', '--all', '--job-bookmark-option', 'job-bookmark-enable']]) {
      expect(await packagesLoaded(args), args.join(' ')).toEqual([]);
    }
  });

  it('a query loads DuckDB, and no AWS SDK', async () => {
    const loaded = await packagesLoaded(['--lake', lake, 'query', 'SELECT count(*) AS n FROM bronze.tasks_cdc']);
    expect(loaded).toContain('@duckdb/node-api');
    expect(loaded.filter((name) => name.startsWith('@aws-sdk/'))).toEqual([]);
  });
});
