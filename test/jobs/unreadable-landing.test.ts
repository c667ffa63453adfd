import { chmod, cp, mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { runJobs, type JobRunResult } from '../../core/runner/index.ts';
import type { ListOptions, ObjectInfo, Storage } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { stampArrivalTimes } from '../../bench/arrival-times.ts';

const tempDir = useTempDirs();
const LANDING = { seed: 21, days: 2, users: 10, tasksPerDay: 20 } as const;
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

/** An error as Node's fs gives it for a file without read permission. */
function permissionDenied(key: string): Error {
  return Object.assign(new Error(`EACCES: permission denied, open '${key}'`), { code: 'EACCES', errno: -13, syscall: 'open' });
}

/**
 * The lake's storage with some objects and folders locked, as a file or folder without read permission
 * is to a process that is not root: fetching a locked object fails with EACCES, and a locked folder lists
 * as one unreadable entry, as LocalStorage lists it (test/core/storage covers that listing itself).
 */
function locking(lake: Lake, locked: Set<string>): Lake {
  const storage = lake.storage;
  const isLocked = (key: string) => [...locked].some((entry) => key === entry || (entry.endsWith('/') && key.startsWith(entry)));
  const wrapped: Storage = Object.create(storage) as Storage;
  Object.assign(wrapped, {
    get: async (key: string) => {
      if (isLocked(key)) throw permissionDenied(key);
      return storage.get(key);
    },
    list: async function* (prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
      const reported = new Set<string>();
      for await (const object of storage.list(prefix, options)) {
        const folder = [...locked].find((entry) => entry.endsWith('/') && object.key.startsWith(entry));
        if (folder === undefined) yield object;
        else if (!reported.has(folder)) {
          reported.add(folder);
          if (!options.reportUnreadable) throw permissionDenied(folder);
          yield { key: folder, sizeBytes: 0, lastModifiedMs: 0, unreadable: permissionDenied(folder).message };
        }
      }
    },
  });
  return { ...lake, storage: wrapped };
}

const warningsOf = (results: readonly JobRunResult[], job: string) => results.find((result) => result.job === job)?.warnings ?? [];

describe('an unreadable landing object or folder', () => {
  it('is set aside with a warning, listed by reconcile, and read once it can be, with no loss and no doubling', async () => {
    const cleanDir = await tempDir('clean');
    const clean = openLocalLake(cleanDir, { threads: 2 });
    await generateLanding(clean.storage, LANDING);
    // Objects modified over the two days, as Firehose delivers them: the watermark then passes old objects.
    await stampArrivalTimes(cleanDir);
    const lakeDir = await tempDir('lake');
    await cp(cleanDir, lakeDir, { recursive: true, preserveTimestamps: true });
    await runJobs(clean, PIPELINE_JOBS, enable);

    const lake = openLocalLake(lakeDir, { threads: 2 });
    const objects = (await collect(lake.storage.list('landing/tasks/'))).map((object) => object.key);
    // One object and one hour's folder, both with objects after them: the watermark passes them.
    const object = objects[1] as string;
    const folder = `${path.posix.dirname(objects[Math.floor(objects.length / 2)] as string)}/`;
    expect(objects.at(-1)?.startsWith(folder)).toBe(false);
    expect(objects.filter((key) => key.startsWith(folder)).length).toBeGreaterThan(0);
    const locked = new Set([object, folder]);
    const lockedLake = locking(lake, locked);

    const first = await runJobs(lockedLake, PIPELINE_JOBS, enable);
    expect(first.every((result) => result.state === 'SUCCEEDED')).toBe(true);
    const warned = warningsOf(first, 'bronze.tasks_cdc').join('\n');
    expect(warned).toContain(`landing object ${object} could not be read (EACCES`);
    expect(warned).toContain(`landing folder ${folder} could not be read (EACCES`);
    const whileLocked = await reconcileLake(lockedLake);
    expect(whileLocked.differences).toEqual([]);
    expect(whileLocked.unreadable.map((entry) => entry.key).sort()).toEqual([object, folder].sort());

    // Still locked: the next run tries them again, reads nothing, and says again what it cannot read.
    const second = await runJobs(lockedLake, PIPELINE_JOBS, enable);
    const bronze = second.find((result) => result.job === 'bronze.tasks_cdc');
    expect(bronze?.recordsRead).toBe(0);
    expect(bronze?.warnings?.join('\n')).toContain(object);
    expect(bronze?.warnings?.join('\n')).toContain(folder);

    // A run without bookmarks rebuilds bronze from all of landing: it would drop the rows it cannot read, so
    // it is refused, and the tables stay as they are.
    const before = await tableContents(lake);
    const bronzeJob = PIPELINE_JOBS.filter((job) => job.name === 'bronze.tasks_cdc');
    await expect(runJobs(lockedLake, bronzeJob)).rejects.toMatchObject({ code: 'LANDING_UNREADABLE' });
    expect(await tableContents(lake)).toEqual(before);

    // Readable again (the folder unchanged, so its time says nothing new): the next run reads both, once.
    locked.clear();
    await runJobs(lockedLake, PIPELINE_JOBS, enable);
    const after = await reconcileLake(lake);
    expect(after.differences).toEqual([]);
    expect(after.unreadable).toEqual([]);
    expect(after.pendingObjects).toBe(0);
    expect(await tableContents(lake)).toEqual(await tableContents(clean));

    // A folder bronze has read that becomes unreadable: reconcile lists it and does not call its rows strays.
    const lockedAgain = await reconcileLake(locking(lake, new Set([folder])));
    expect(lockedAgain.unreadable.map((entry) => entry.key)).toEqual([folder]);
    expect(lockedAgain.differences).toEqual([]);
  }, 180_000);

  it('through a folder lake: a link to a file or folder is read, a dangling or circular one is reported', async () => {
    const lakeDir = await tempDir('lake');
    const outside = await tempDir('outside');
    const lake = openLocalLake(lakeDir, { threads: 2 });
    await generateLanding(lake.storage, { ...LANDING, days: 1 });
    const objects = (await collect(lake.storage.list('landing/tasks/'))).map((object) => object.key);
    // Move one hour's folder and one object outside the lake, and link them back in.
    const hour = path.posix.dirname(objects.at(-1) as string);
    await cp(path.join(lakeDir, hour), path.join(outside, 'hour'), { recursive: true, preserveTimestamps: true });
    await cp(path.join(lakeDir, objects[0] as string), path.join(outside, 'object'), { preserveTimestamps: true });
    await rm(path.join(lakeDir, hour), { recursive: true });
    await rm(path.join(lakeDir, objects[0] as string));
    await symlink(path.join(outside, 'hour'), path.join(lakeDir, hour));
    await symlink(path.join(outside, 'object'), path.join(lakeDir, objects[0] as string));
    // A link to nothing, and one back to its own parent folder.
    await symlink(path.join(outside, 'missing'), path.join(lakeDir, 'landing/tasks/dangling.json'));
    await mkdir(path.join(lakeDir, 'landing/tasks/loop'), { recursive: true });
    await symlink(path.join(lakeDir, 'landing/tasks'), path.join(lakeDir, 'landing/tasks/loop/back'));
    // A link to a folder listed already under its own key: following it would read its objects twice.
    await symlink(path.join(lakeDir, path.posix.dirname(objects[1] as string)), path.join(lakeDir, 'landing/tasks/again'));

    const listed = await collect(lake.storage.list('landing/tasks/', { reportUnreadable: true }));
    expect(listed.filter((entry) => entry.unreadable === undefined).map((entry) => entry.key).sort()).toEqual([...objects].sort());
    expect(listed.filter((entry) => entry.unreadable !== undefined).map((entry) => entry.key).sort()).toEqual(['landing/tasks/again', 'landing/tasks/dangling.json', 'landing/tasks/loop/back']);
    // Every other listing (a table's files, staging, recovery's deletions) leaves links out, as before.
    const linked = (key: string) => key === objects[0] || key.startsWith(`${hour}/`);
    expect((await collect(lake.storage.list('landing/tasks/'))).map((entry) => entry.key).sort()).toEqual(objects.filter((key) => !linked(key)).sort());

    const results = await runJobs(lake, PIPELINE_JOBS, enable);
    const warned = warningsOf(results, 'bronze.tasks_cdc').join('\n');
    expect(warned).toMatch(/dangling\.json could not be read .*does not exist/);
    expect(warned).toMatch(/loop\/back could not be read .*cycle/);
    expect(warned).toMatch(/again could not be read .*listed under its own key already/);
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    expect(report.unreadable.map((entry) => entry.key).sort()).toEqual(['landing/tasks/again', 'landing/tasks/dangling.json', 'landing/tasks/loop/back']);
  }, 120_000);

  it.skipIf(process.getuid?.() === 0)('without read permission (not as root): an object is set aside and read once permitted', async () => {
    const lakeDir = await tempDir('lake');
    const lake = openLocalLake(lakeDir, { threads: 2 });
    await generateLanding(lake.storage, { ...LANDING, days: 1 });
    const [first] = (await collect(lake.storage.list('landing/tasks/'))).map((object) => object.key);
    await chmod(path.join(lakeDir, first as string), 0o000);
    const results = await runJobs(lake, PIPELINE_JOBS, enable);
    expect(warningsOf(results, 'bronze.tasks_cdc').join('\n')).toContain(`${first} could not be read (EACCES`);
    await chmod(path.join(lakeDir, first as string), 0o644);
    await runJobs(lake, PIPELINE_JOBS, enable);
    expect((await reconcileLake(lake)).differences).toEqual([]);
  }, 120_000);
});
