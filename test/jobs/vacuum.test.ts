import { cp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { MedallionError } from '../../core/errors.ts';
import { restoreTable, runJobs, vacuumLake } from '../../core/runner/index.ts';
import { runRecordCollection, type LakeRoot, type StateStore } from '../../core/state/index.ts';
import type { Storage } from '../../core/storage/index.ts';
import { commitTables, manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { PIPELINE_JOBS, tasksCdcJob, tasksCdcTable } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, cli } from '../support/lake-cli.ts';

/**
 * Vacuum on the folder lake: after several nights and reruns, only the files of versions inside the retention
 * window remain, every kept version reads, older ones are refused by name, and runs committing while it works
 * lose nothing.
 */

const HOUR = 3_600_000;
const tempDir = useFileTempDirs();
let base: string;
let clean: Record<string, unknown[]>;
/** Landing objects by day, and the times at which each night's runs had all committed. */
let days: { key: string; body: Buffer }[][];
let nights: { commit: number; after: number }[];
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

/** Every file under the tables' folders, with its size. */
async function dataFiles(dir: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const layer of ['bronze', 'silver', 'gold', 'quarantine', 'quality']) {
    const walk = async (folder: string): Promise<void> => {
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) await walk(full);
        else files.set(path.relative(dir, full).split(path.sep).join('/'), (await stat(full)).size);
      }
    };
    await walk(path.join(dir, layer));
  }
  return files;
}

/** The files every commit from `from` on lists. */
async function filesOfCommits(lake: Lake, from: number): Promise<Set<string>> {
  const head = await lake.state.readRoot();
  const keys = new Set<string>();
  for (let seq = from; seq <= head.seq; seq += 1) {
    const root = await lake.state.readRootAt(seq);
    for (const ref of Object.values(root!.tables)) {
      for (const file of manifestFiles(await lake.state.getDocument<TableManifest>(ref.manifest))) keys.add(file.key);
    }
  }
  return keys;
}

async function land(lake: Lake, objects: readonly { key: string; body: Buffer }[]): Promise<void> {
  for (const object of objects) await lake.storage.put(object.key, object.body);
}

beforeAll(async () => {
  const source = await tempDir('vacuum-source');
  const generated = openLocalLake(source, { threads: 2 });
  await generateLanding(generated.storage, { seed: 29, days: 4, users: 15, tasksPerDay: 25, faultRate: 0.02, start: '2025-11-01' });
  const byDay = new Map<string, { key: string; body: Buffer }[]>();
  for await (const object of generated.storage.list('landing/')) {
    const day = /\/(\d{4}\/\d{2}\/\d{2})\//.exec(object.key)?.[1] ?? '';
    byDay.set(day, [...(byDay.get(day) ?? []), { key: object.key, body: await generated.storage.get(object.key) }]);
  }
  const sorted = [...byDay.keys()].sort();
  days = [byDay.get(sorted[0]!)!, byDay.get(sorted[1]!)!, byDay.get(sorted[2]!)!, sorted.slice(3).flatMap((day) => byDay.get(day)!)];
  const cleanDir = await tempDir('vacuum-clean');
  await cp(path.join(source, 'landing'), path.join(cleanDir, 'landing'), { recursive: true });
  const cleanLake = openLocalLake(cleanDir, { threads: 2 });
  await runJobs(cleanLake, PIPELINE_JOBS);
  clean = await tableContents(cleanLake);

  // Three nights, each followed by a rerun with bookmarks disabled (every table rewritten): plenty of replaced files.
  base = await tempDir('vacuum-base');
  const lake = openLocalLake(base, { threads: 2 });
  nights = [];
  for (const objects of days.slice(0, 3)) {
    await land(lake, objects);
    await runJobs(lake, PIPELINE_JOBS, enable);
    await runJobs(lake, PIPELINE_JOBS);
    nights.push({ commit: (await lake.state.readRoot()).seq, after: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}, 240_000);

describe('vacuum', () => {
  it('removes exactly the files no version inside the window lists; kept versions read, older ones are refused by name', async () => {
    const dir = await tempDir('vacuum');
    await cp(base, dir, { recursive: true });
    const lake = openLocalLake(dir, { threads: 2 });
    const before = await dataFiles(dir);
    const head = await lake.state.readRoot();
    // The window begins just after night two: night two's final state and everything after is kept.
    const now = () => new Date(nights[1]!.after + 2 * HOUR);
    const keptFromCommit = nights[1]!.commit;
    const kept = await filesOfCommits(lake, keptFromCommit);
    const unreferenced = [...before.keys()].filter((key) => !kept.has(key));
    expect(unreferenced.length).toBeGreaterThan(before.size / 3);

    // A dry run counts the same files and removes nothing.
    const dry = await vacuumLake(lake, PIPELINE_JOBS, { retainMs: 2 * HOUR, dryRun: true, now });
    expect((await dataFiles(dir)).size).toBe(before.size);
    const result = await vacuumLake(lake, PIPELINE_JOBS, { retainMs: 2 * HOUR, now });
    expect(dry).toMatchObject({ filesRemoved: result.filesRemoved, bytesRemoved: result.bytesRemoved, dryRun: true });
    expect(result.keptFromCommit).toBe(keptFromCommit);

    const after = await dataFiles(dir);
    // What is left: every file a kept version lists, and the files written after the cutoff (none unreferenced here).
    const removed = [...before.keys()].filter((key) => !after.has(key));
    const written = (key: string) => before.get(key) ?? 0;
    expect(removed.length).toBe(result.filesRemoved);
    expect(removed.reduce((sum, key) => sum + written(key), 0)).toBe(result.bytesRemoved);
    for (const key of kept) expect(after.has(key), key).toBe(true);
    for (const key of after.keys()) {
      if (!kept.has(key)) expect((await stat(path.join(dir, key))).mtimeMs, `${key} is unreferenced and old`).toBeGreaterThanOrEqual(nights[1]!.after);
    }
    expect(result.manifestsRemoved).toBeGreaterThan(0);

    // Every kept commit still reads whole; the latest equals a clean run once the last day is read.
    for (let seq = keptFromCommit; seq <= head.seq; seq += 1) {
      const query = await cli(['--lake', dir, 'query', '--as-of', String(seq), '--format', 'json', 'SELECT (SELECT count(*) FROM silver.tasks) + (SELECT count(*) FROM gold.daily_task_kpis) + (SELECT count(*) FROM bronze.tasks_cdc) AS n']);
      expect(query.code, `commit ${seq}: ${query.stderr}`).toBe(0);
    }
    // Older ones are refused, saying why.
    const old = await cli(['--lake', dir, 'query', '--as-of', String(nights[0]!.commit), 'SELECT count(*) FROM silver.tasks']);
    expect(old.code).toBe(2);
    expect(old.stderr).toContain('OLDER_THAN_RETENTION');
    const history = JSON.parse((await cli(['--lake', dir, 'history', 'silver.tasks', '--format', 'json'])).stdout) as { version: number; operation: string }[];
    expect(history.some((row) => row.operation === 'removed by vacuum')).toBe(true);
    const restore = await cli(['--lake', dir, 'restore', 'silver.tasks', '--version', String(history.at(-1)!.version)]);
    expect(restore.code).toBe(2);
    expect(restore.stderr).toMatch(/TABLE_VERSION_REMOVED|OLDER_THAN_RETENTION/);

    // A second vacuum with the same window finds nothing more; the nightly runs go on.
    expect((await vacuumLake(lake, PIPELINE_JOBS, { retainMs: 2 * HOUR, now })).filesRemoved).toBe(0);
    await land(lake, days[3]!);
    await runJobs(lake, PIPELINE_JOBS, enable);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
  }, 120_000);

  it('prints files and bytes reclaimed, and refuses a retention shorter than an hour', async () => {
    const dir = await tempDir('vacuum-cli');
    await cp(base, dir, { recursive: true });
    const dry = await cli(['--lake', dir, 'vacuum', '--retain', '1h', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    // Everything here is younger than an hour: nothing may go.
    expect(dry.stdout).toMatch(/^would remove 0 files \(0\.0 MiB, 0 bytes\)/);
    const short = await cli(['--lake', dir, 'vacuum', '--retain', '10m']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('VACUUM_RETAIN_TOO_SHORT');
  });

  it('loses nothing while runs commit in parallel with it', async () => {
    const dir = await tempDir('vacuum-parallel');
    await cp(base, dir, { recursive: true });
    const lake = openLocalLake(dir, { threads: 2 });
    await land(lake, days[3]!);
    // A clock far ahead, so every file that no version lists and no running run wrote is fair game.
    const now = () => new Date(Date.now() + 48 * HOUR);
    let running = true;
    const runs = runJobs(lake, PIPELINE_JOBS, enable).finally(() => {
      running = false;
    });
    let removed = 0;
    while (running) removed += (await vacuumLake(lake, PIPELINE_JOBS, { retainMs: HOUR, now })).filesRemoved;
    await runs;
    removed += (await vacuumLake(lake, PIPELINE_JOBS, { retainMs: HOUR, now })).filesRemoved;
    expect(removed).toBeGreaterThan(0);
    // Every committed file is there, the tables are the clean run's, and every landing record is accounted for once.
    const head = await lake.state.readRoot();
    const after = await dataFiles(dir);
    for (const key of await filesOfCommits(lake, head.seq)) expect(after.has(key), key).toBe(true);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
    expect((await reconcileLake(lake)).differences).toEqual([]);
    // Only the current versions' files are left.
    expect([...after.keys()].filter((key) => !key.includes('/_symlink/')).length).toBe((await filesOfCommits(lake, head.seq)).size);
  }, 180_000);
});

describe('vacuum and a run that starts while it works', () => {
  it('a run that starts after the vacuum read the run records commits, though another commit moved its table on meanwhile', async () => {
    const dir = await tempDir('vacuum-late-run');
    await cp(base, dir, { recursive: true });
    const lake = openLocalLake(dir, { threads: 2 });
    await land(lake, days[3]!);
    // Between the vacuum's reading the run records (the last job's) and its reading the head, a run starts (no
    // record the vacuum saw, based on the head of then), and another run commits a new version of its table.
    const lastCollection = runRecordCollection(PIPELINE_JOBS.at(-1)!.name);
    let recordsRead = false;
    let basedOn: LakeRoot | undefined;
    const watched = intercept<StateStore, 'listRecords'>(lake.state, 'listRecords', async (list, ...args) => {
      const records = await (list as (...a: unknown[]) => Promise<unknown>)(...args);
      if (args[0] === lastCollection) recordsRead = true;
      return records;
    });
    const state = intercept<StateStore, 'readRoot'>(watched, 'readRoot', async (read) => {
      if (recordsRead && basedOn === undefined) {
        basedOn = await lake.state.readRoot();
        await runJobs(lake, [tasksCdcJob], enable);
      }
      return (read as () => Promise<LakeRoot>)();
    });
    await vacuumLake({ ...lake, state }, PIPELINE_JOBS, { retainMs: HOUR, now: () => new Date(Date.now() + 48 * HOUR) });
    expect(basedOn).toBeDefined();
    const head = await lake.state.readRoot();
    const table = tasksCdcTable.name;
    expect(head.tables[table]!.version).toBeGreaterThan(basedOn!.tables[table]!.version);

    // Every version the late run may read is kept, and its commit (rewriting a partition nobody changed since) goes in.
    for (const ref of Object.values(basedOn!.tables)) await expect(lake.state.getDocument<TableManifest>(ref.manifest)).resolves.toBeDefined();
    const manifest = await lake.state.getDocument<TableManifest>(basedOn!.tables[table]!.manifest);
    const [key, entry] = Object.entries(manifest.partitions)[0]!;
    const committed = await commitTables(lake.state, { runId: 'late-run', basedOn: basedOn!, writes: [{ kind: 'replace_partitions', spec: tasksCdcTable, partitions: { [key]: entry } }] });
    expect(committed.root.seq).toBe(head.seq + 1);
  }, 120_000);
});

/** `target` with `method` run through `around` (the real method given as `call`). */
function intercept<T extends object, K extends keyof T>(target: T, method: K, around: (call: T[K], ...args: unknown[]) => unknown): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (property === method) return (...args: unknown[]) => around((value as (...a: unknown[]) => unknown).bind(object) as T[K], ...args);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  });
}

describe('vacuum and restore at the same time', () => {
  /** silver.tasks version 1, from the first night: no commit the vacuum keeps lists its files (its clock is two days ahead). */
  const version = 1;
  const farAhead = () => new Date(Date.now() + 48 * HOUR);

  it('a vacuum that starts while a restore commits is refused; the restored version keeps every file', async () => {
    const dir = await tempDir('vacuum-restore');
    await cp(base, dir, { recursive: true });
    const lake = openLocalLake(dir, { threads: 2 });
    // The vacuum starts just before the restore swaps its root in: it has read the roots without the restore's.
    let vacuum: unknown;
    const state = intercept<StateStore, 'swapRoot'>(lake.state, 'swapRoot', async (swap, ...args) => {
      vacuum ??= await vacuumLake(lake, PIPELINE_JOBS, { retainMs: HOUR, now: farAhead }).catch((error: unknown) => error);
      return (swap as (...a: unknown[]) => Promise<boolean>)(...args);
    });
    const restored = await restoreTable({ ...lake, state }, PIPELINE_JOBS, 'silver.tasks', version);
    expect(vacuum).toBeInstanceOf(MedallionError);
    expect((vacuum as MedallionError).code).toBe('MAINTENANCE_BUSY');
    expect((vacuum as MedallionError).message).toMatch(/a restore \(restore-[0-9a-f-]+\) is working on the lake/);

    // Every file the restored version lists is there, and reads; a vacuum now keeps them.
    const head = await lake.state.readRoot();
    expect(head.seq).toBe(restored.commit);
    const listed = await filesOfCommits(lake, head.seq);
    const present = async () => dataFiles(dir);
    for (const key of listed) expect((await present()).has(key), key).toBe(true);
    expect((await vacuumLake(lake, PIPELINE_JOBS, { retainMs: HOUR, now: farAhead })).filesRemoved).toBeGreaterThan(0);
    const after = await present();
    for (const key of listed) expect(after.has(key), key).toBe(true);
    const query = await cli(['--lake', dir, 'query', '--format', 'json', 'SELECT count(*) AS n FROM silver.tasks']);
    expect(query.code, query.stderr).toBe(0);
  }, 120_000);

  it('a restore while a vacuum works is refused and changes nothing; lock status shows the holder', async () => {
    const dir = await tempDir('restore-vacuum');
    await cp(base, dir, { recursive: true });
    const lake = openLocalLake(dir, { threads: 2 });
    const before = await lake.state.readRoot();
    let restore: unknown;
    let status = '';
    // The restore starts while the vacuum lists the tables' folders, before it has decided anything.
    const storage = intercept<Storage, 'list'>(lake.storage, 'list', (list, ...args) => {
      const listing = (list as (...a: unknown[]) => AsyncIterable<unknown>)(...args);
      if (restore !== undefined) return listing;
      restore = null;
      return (async function* () {
        restore = await restoreTable(lake, PIPELINE_JOBS, 'silver.tasks', version).catch((error: unknown) => error);
        status = (await cli(['--lake', dir, 'lock', 'status'])).stdout;
        yield* listing;
      })();
    });
    const result = await vacuumLake({ ...lake, storage }, PIPELINE_JOBS, { retainMs: HOUR, now: farAhead });
    expect(result.filesRemoved).toBeGreaterThan(0);
    expect(restore).toBeInstanceOf(MedallionError);
    expect((restore as MedallionError).code).toBe('MAINTENANCE_BUSY');
    expect(status).toMatch(/\(vacuum, restore\)\s*│\s*held\s*│\s*vacuum-/);
    // The restore committed nothing, and left no lock behind: a restore after the vacuum says the version is gone.
    const after = await lake.state.readRoot();
    expect(after.tables['silver.tasks']).toEqual(before.tables['silver.tasks']);
    expect(after.bookmarks).toEqual(before.bookmarks);
    const again = await cli(['--lake', dir, 'restore', 'silver.tasks', '--version', String(version)]);
    expect(again.stderr).toMatch(/TABLE_VERSION_REMOVED|OLDER_THAN_RETENTION/);
    expect((await cli(['--lake', dir, 'lock', 'status'])).stdout).toMatch(/\(vacuum, restore\)\s*│\s*free/);
  }, 120_000);
});
