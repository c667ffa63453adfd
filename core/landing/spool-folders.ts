import { mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MedallionError } from '../errors.ts';

/** Prefixes of the folders a run makes in the temp folder: landing spools, and DuckDB's spill folder. */
const SPOOL = 'medallion-spool-';
const DUCKDB = 'medallion-duckdb-';
/** A folder older than this is a leftover whatever its name says (no run lasts longer than Glue's 48 h timeout). */
const ABANDONED_MS = 3 * 24 * 3_600_000;

/** A spool folder named for this process (`medallion-spool-<pid>-XXXXXX`), so a later run can tell it is a dead one's. */
export function makeSpoolFolder(directory: string = tmpdir()): Promise<string> {
  return mkdtemp(path.join(directory, `${SPOOL}${process.pid}-`));
}

/**
 * Removes the spool and DuckDB spill folders of processes that no longer run (a run killed with SIGKILL, an
 * out-of-memory kill, a lost machine leaves them behind: up to a batch of cut records each), and any such
 * folder older than three days. A folder of a live process, this one or another, is left alone. Returns
 * the folders removed.
 */
export async function removeOrphanSpoolFolders(directory: string = tmpdir(), nowMs: number = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const prefix = [SPOOL, DUCKDB].find((candidate) => name.startsWith(candidate));
    if (!prefix) continue;
    const pid = Number(/^(\d+)(?:-|$)/.exec(name.slice(prefix.length))?.[1]);
    const folder = path.join(directory, name);
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) continue;
    const dead = Number.isSafeInteger(pid) && pid > 0 ? pid !== process.pid && !isAlive(pid) : false;
    if (!dead && nowMs - info.mtimeMs < ABANDONED_MS) continue;
    await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    removed.push(folder);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Refuses to start a run whose temp folder cannot hold its spool: cut records of the batch being read, of
 * the next one being cut, and what is left of the batch before it, which the next one writes over: about
 * `bytes` (three batches, more for compressed objects, which inflate).
 */
export async function checkSpoolSpace(directory: string, bytes: number): Promise<void> {
  const info = await statfs(directory).catch(() => undefined);
  if (!info) return;
  const free = Number(info.bavail) * Number(info.bsize);
  if (free >= bytes) return;
  const gib = (value: number) => `${(value / 1024 ** 3).toFixed(2)} GiB`;
  throw new MedallionError('SPOOL_SPACE_LOW', `the temp folder ${directory} has ${gib(free)} free; a run needs at least ${gib(bytes)} there to spool its landing records (three batches)`, {
    hint: 'point TMPDIR at a larger disk, or free space there (leftovers of killed runs are removed when the next run starts); see README, "What is bounded"',
  });
}
