import { spawn } from 'node:child_process';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MedallionError } from '../../../core/errors.ts';
import { checkSpoolSpace, makeSpoolFolder, removeOrphanSpoolFolders } from '../../../core/landing/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('spool folders', () => {
  it("removes the spool and DuckDB folders of processes that ended, and old ones; keeps a live process's and other files", async () => {
    const tmp = await tempDir('spools');
    const dead = await deadPid();
    const mine = await makeSpoolFolder(tmp);
    expect(path.basename(mine)).toMatch(new RegExp(`^medallion-spool-${process.pid}-`));
    await writeFile(path.join(mine, 'batch-0.txt'), 'records');
    for (const name of [`medallion-spool-${dead}-aaaaaa`, `medallion-duckdb-${dead}`, 'medallion-spool-Xy12Zq', 'medallion-spool-old123', 'someone-else']) {
      await mkdir(path.join(tmp, name));
      await writeFile(path.join(tmp, name, 'data'), 'x');
    }
    // A folder from before spool names carried a pid: removed once it is old.
    const old = new Date(Date.now() - 4 * 24 * 3_600_000);
    await utimes(path.join(tmp, 'medallion-spool-old123'), old, old);

    const removed = (await removeOrphanSpoolFolders(tmp)).map((folder) => path.basename(folder)).sort();
    expect(removed).toEqual([`medallion-duckdb-${dead}`, `medallion-spool-${dead}-aaaaaa`, 'medallion-spool-old123'].sort());
    expect((await readdir(tmp)).sort()).toEqual([path.basename(mine), 'medallion-spool-Xy12Zq', 'someone-else'].sort());
  });

  it('refuses a run whose temp folder has less room than its spool needs, saying how much', async () => {
    const tmp = await tempDir('spools');
    await checkSpoolSpace(tmp, 1024);
    const error = await checkSpoolSpace(tmp, 1024 ** 5).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as MedallionError).code).toBe('SPOOL_SPACE_LOW');
    expect((error as Error).message).toMatch(/has [\d.]+ GiB free; a run needs at least 1048576\.00 GiB/);
    expect((error as MedallionError).exitCode).toBe(1);
  });
});
