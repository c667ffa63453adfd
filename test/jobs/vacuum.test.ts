import { cp, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { runJobs, vacuumLake } from '../../core/runner/index.ts';
import { manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
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
