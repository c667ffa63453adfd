import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { createProgram } from '../../cli/invoke.ts';
import { ENABLE, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * Global options (--lake, --state, --storage, ...) are taken anywhere on the line, never ignored; every command that
 * opens a lake says which one on stderr. The case that matters: MEDALLION_LAKE names one lake and the command line
 * another, written after the command.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useFileTempDirs();
let dev = '';
let prod = '';

async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const io = bufferIo();
  const code = await invoke(args, { io, env });
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** `node bin/medallion.js ...args` with `env`, as a shell runs it. */
function child(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const { MEDALLION_LAKE: _ignored, ...inherited } = process.env;
    const spawned = spawn(process.execPath, [path.join(root, 'bin', 'medallion.js'), ...args], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    spawned.stdout.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
    spawned.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
    spawned.once('error', reject);
    spawned.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  [dev, prod] = [await tempDir('dev'), await tempDir('prod')];
  for (const lake of [dev, prod]) expect((await cli(['--lake', lake, 'generate', '--days', '1', '--users', '5', '--tasks-per-day', '8'])).code).toBe(0);
});

describe('global options anywhere on the line', () => {
  it('`run --all --lake DEV` with MEDALLION_LAKE=PROD runs on DEV, says so, and leaves PROD untouched (a child process)', async () => {
    const result = await child(['run', '--all', ...ENABLE, '--lake', dev], { MEDALLION_LAKE: prod });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.split('\n')[0]).toBe(`lake: ${dev} (folder)`);
    expect(existsSync(path.join(dev, 'silver', 'tasks'))).toBe(true);
    expect(existsSync(path.join(prod, 'silver'))).toBe(false);
    expect(await readdir(path.join(prod))).not.toContain('bronze');
  }, 120_000);

  it.each([
    [['tables']],
    [['runs', 'bronze.tasks_cdc', '--format', 'json']],
    [['quality', 'history', '--format', 'json']],
    [['query', 'SELECT count(*) AS n FROM bronze.tasks_cdc', '--format', 'csv']],
  ])('%j takes --lake after the command, and --lake=DIR, as it does before it', async (command) => {
    const before = await cli(['--lake', dev, ...command], { MEDALLION_LAKE: prod });
    expect(before.code, before.stderr).toBe(0);
    for (const line of [[...command, '--lake', dev], [...command, `--lake=${dev}`], [command[0]!, '--lake', dev, ...command.slice(1)]]) {
      const after = await cli(line, { MEDALLION_LAKE: prod });
      expect(after.code, `${line.join(' ')}: ${after.stderr}`).toBe(0);
      expect(after.stderr.startsWith(`lake: ${dev} (folder)\n`), after.stderr).toBe(true);
      expect(after.stdout.replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z?/g, 'T')).toBe(before.stdout.replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z?/g, 'T'));
    }
  }, 120_000);

  it('every command that opens a lake names it first on stderr; without --lake, the one MEDALLION_LAKE names', async () => {
    for (const command of [['tables'], ['runs'], ['status'], ['reconcile'], ['lock', 'status']]) {
      const result = await cli(command, { MEDALLION_LAKE: dev });
      expect(result.stderr.split('\n')[0], command.join(' ')).toBe(`lake: ${dev} (folder)`);
    }
    // A command that opens no lake says nothing of one.
    expect((await cli(['jobs'], { MEDALLION_LAKE: dev })).stderr).toBe('');
  });

  it('no command has an option named like a global one, so moving them before the command never changes a meaning', () => {
    const program = createProgram({ io: bufferIo(), env: {} });
    // The global options that take a value, which go anywhere (--version is the program's only before the command).
    const globals = new Set(program.options.filter((option) => option.required || option.optional).map((option) => option.long));
    expect([...globals]).toEqual(expect.arrayContaining(['--lake', '--storage', '--state', '--lake-location', '--endpoint-url', '--memory-limit']));
    const clashes: string[] = [];
    const walk = (command: Command, pathOf: string) => {
      for (const option of command.options) if (globals.has(option.long)) clashes.push(`${pathOf} ${option.long}`);
      for (const sub of command.commands) walk(sub, `${pathOf} ${sub.name()}`);
    };
    for (const command of program.commands) walk(command, command.name());
    expect(clashes).toEqual([]);
  });

  it('`restore --version N` is restore\'s --version, not the program\'s', async () => {
    const result = await cli(['--lake', dev, 'restore', 'silver.tasks', '--version', '1', '--dry-run']);
    expect(result.stdout).not.toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(result.stderr).toContain(`lake: ${dev} (folder)`);
  });

  it('a global option given twice with different values is refused, wherever each is (exit 2, and 64 on a status line)', async () => {
    for (const line of [['--lake', dev, 'run', '--all', '--lake', prod], ['--lake', dev, 'tables', `--lake=${prod}`]]) {
      const result = await cli(line);
      expect(result.code, line.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^error: GLOBAL_OPTION_REPEATED: --lake is given twice, as ".*dev.*" and ".*prod.*"/);
    }
    expect((await cli(['--lake', dev, 'status', '--lake', prod])).code).toBe(64);
    // The same value twice is no conflict; --lake-location is meant to be repeated.
    expect((await cli(['--lake', dev, 'tables', '--lake', dev])).code).toBe(0);
  });

  it('a value after `--` is never taken for a global option', async () => {
    const result = await cli(['--lake', dev, 'query', '--format', 'csv', '--', "SELECT '--lake' AS x"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('x\n--lake\n');
  });
});
