import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { withoutLakeLine } from './cli-output.ts';

async function cli(args: readonly string[]) {
  const io = bufferIo();
  const code = await invoke(args, { io, env: {} });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

describe('a lake folder that does not exist', () => {
  it.each([
    ['run', '--all'], ['runs'], ['tables'], ['reconcile'], ['query', 'SELECT 1'], ['quality'], ['bookmark', 'get', 'silver.tasks'], ['catalog', 'status'],
  ])('is refused by `%s` (exit 2), which creates nothing', async (...command) => {
    const parent = await mkdtemp(path.join(tmpdir(), 'medallion-nolake-'));
    const typo = path.join(parent, 'lkae');
    const result = await cli(['--lake', typo, ...command]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error: LAKE_NOT_FOUND: there is no lake at ${typo.replaceAll('/', '\\/')}`));
    expect(existsSync(typo)).toBe(false);
  });

  it('a file given as the lake is refused by name; generate makes a lake where none was', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'medallion-nolake-'));
    const file = path.join(parent, 'passwd');
    await writeFile(file, 'root:x:0:0\n');
    const notFolder = await cli(['--lake', file, 'tables']);
    expect(notFolder.code).toBe(2);
    expect(notFolder.stderr).toMatch(/^error: LAKE_NOT_A_FOLDER: .*passwd is a file, not a lake folder/);
    const made = path.join(parent, 'new-lake');
    expect((await cli(['--lake', made, 'generate', '--days', '1', '--users', '2', '--tasks-per-day', '2'])).code).toBe(0);
    expect((await cli(['--lake', made, 'tables'])).code).toBe(0);
  });
});
