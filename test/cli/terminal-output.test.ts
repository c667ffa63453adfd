import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { renderTable } from '../../cli/format-rows.ts';
import { parseBoxTable } from './cli-output.ts';
import { ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';

/** Human output fits the terminal it is shown on, and keeps run ids whole; `--version` says which medallion this is. */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tempDir = useFileTempDirs();
let lake = '';

async function at(width: number | undefined, args: readonly string[]) {
  const io = bufferIo(width === undefined ? {} : { width });
  const code = await invoke(['--lake', lake, ...args], { io, env: {} });
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  lake = await tempDir('terminal');
  await ok(['--lake', lake, 'generate', '--days', '1', '--users', '6', '--tasks-per-day', '10', '--fault-rate', '0.1']);
  await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
}, 120_000);

describe('output that fits the terminal', () => {
  it.each([[80], [120], [200]])('at %i columns, runs, quality history, tables and query fit, and every run id is whole', async (width) => {
    const ids = (JSON.parse((await at(undefined, ['runs', '--format', 'json'])).stdout) as { run_id: string }[]).map((row) => row.run_id);
    for (const command of [['runs'], ['quality', 'history', '--limit', '20'], ['tables'], ['query', 'SELECT * FROM quarantine.records LIMIT 5'], ['lock', 'status']]) {
      const result = await at(width, command);
      expect(result.code, `${command.join(' ')}: ${result.stderr}`).toBe(0);
      const long = result.stdout.split('\n').filter((line) => line.length > width);
      expect(long, `${command.join(' ')} at ${width}`).toEqual([]);
      if (command[0] === 'runs') for (const id of ids) expect(result.stdout).toContain(id);
    }
  });

  it('without a terminal width (a file, a pipe) a table is never wrapped', async () => {
    const result = await at(undefined, ['quality', 'history', '--limit', '5']);
    const rows = parseBoxTable(result.stdout);
    expect(rows[0]).toEqual(['evaluated_at', 'job', 'run_id', 'table', 'scope', 'rule', 'action', 'outcome', 'value', 'threshold', 'rows_quarantined', 'message']);
    expect(rows).toHaveLength(6);
  });

  it('keeps a run id whole in any column (lock status\'s owner), and measures wide characters as the terminal shows them', () => {
    const id = `jr_${'b'.repeat(64)}`;
    const locks = renderTable([{ name: 'job', type: 'VARCHAR' }, { name: 'status', type: 'VARCHAR' }, { name: 'owner', type: 'VARCHAR' }, { name: 'lease_until', type: 'VARCHAR' }], [{ job: 'silver.tasks', status: 'held', owner: id, lease_until: '2026-12-04T16:00:00.000Z' }], 80);
    expect(locks).toContain(id);
    for (const line of locks.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const japanese = 'タスクの説明がとても長い場合でも全部見えること'.repeat(2);
    const wide = renderTable([{ name: 'n', type: 'BIGINT' }, { name: 'title', type: 'VARCHAR' }], [{ n: 1, title: japanese }], 40);
    expect(wide.replace(/[│┌┐└┘─┬┴├┤┼\s]/g, '').replace(/^ntitle1/, '')).toBe(japanese);
  });

  it('wraps the widest text column first and keeps numbers and ids whole', () => {
    const columns = [{ name: 'run_id', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }, { name: 'message', type: 'VARCHAR' }];
    const id = `jr_${'a'.repeat(64)}`;
    const text = renderTable(columns, [{ run_id: id, n: 123456789, message: 'word '.repeat(40).trim() }], 110);
    for (const line of text.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(110);
    expect(text).toContain(id);
    expect(text).toContain('123456789');
    // All of the message is there, across lines (the other cells of its continuation lines are empty).
    expect(text.replace(/[│┌┐└┘─┬┴├┤┼\s]/g, '')).toContain('word'.repeat(40));
  });
});

describe('the width of the output', () => {
  it('is the terminal\'s; a file or a pipe has none, whatever $COLUMNS says', async () => {
    const { PassThrough } = await import('node:stream');
    const { streamIo } = await import('../../cli/io.ts');
    const pipe = new PassThrough();
    expect(streamIo(pipe, new PassThrough(), { COLUMNS: '60' }).width).toBeUndefined();
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 132 });
    expect(streamIo(terminal, new PassThrough(), { COLUMNS: '60' }).width).toBe(132);
  });
});

describe('--version', () => {
  it('prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const io = bufferIo();
      expect(await invoke([flag], { io, env: {} })).toBe(0);
      expect(io.stdout()).toBe(`${version}\n`);
    }
  });
});
