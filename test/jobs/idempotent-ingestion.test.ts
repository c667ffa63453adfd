import { cp } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, quoteLiteral, runJob, type Lake } from '../../core/index.ts';
import { manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { tasksCdcJob } from '../../jobs/bronze/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { readRunRecords } from '../../core/runner/index.ts';
import { bufferIo, invoke } from '../../cli/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, ok, expectLikeCleanRun, ENABLE } from '../support/lake-cli.ts';

/**
 * A landing record (object key and record index) is in bronze, or in the quarantine, at most once, whatever
 * an operator does with the bookmarks: every rewind, pause (with or without a window), start-over and
 * re-landed object is tried on a lake of three nights, each followed by a bookmarked `run --all` as the
 * runbooks say; reconcile must balance and every table must equal a clean full run over the same landing.
 */

const tempDir = useFileTempDirs();
let base: string;
/** The landing objects of each of the three days, by key. */
let days: { key: string; body: Buffer }[][];
/** The bronze.tasks_cdc and bronze.users_cdc run ids of each night. */
let nights: { tasks: string; users: string }[];
let clean: Record<string, unknown[]>;

const enable = ENABLE;

async function runAll(dir: string, ...args: string[]): Promise<void> {
  await ok(['--lake', dir, 'run', '--all', ...args]);
}

async function land(lake: Lake, objects: readonly { key: string; body: Buffer }[]): Promise<void> {
  for (const object of objects) await lake.storage.put(object.key, object.body);
}

async function lastRunId(lake: Lake, job: string): Promise<string> {
  const { records } = await readRunRecords(lake.state, job);
  const succeeded = records.filter((run) => run.JobRunState === 'SUCCEEDED').sort((a, b) => a.StartedOn.localeCompare(b.StartedOn));
  return succeeded.at(-1)!.Id;
}

/** A copy of the three-night lake to try one operator action on. */
async function copyOfBase(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('idempotent');
  await cp(base, dir, { recursive: true });
  return { dir, lake: openLocalLake(dir, { threads: 2 }) };
}

/** Reconcile balances and every table (bronze without ingested_at, quarantine without run ids) is the clean run's. */
beforeAll(async () => {
  // Three days of traffic with every fault kind (duplicates, late and out-of-order objects, bad records).
  const source = await tempDir('idempotent-source');
  const generated = openLocalLake(source, { threads: 2 });
  await generateLanding(generated.storage, { seed: 31, days: 3, users: 20, tasksPerDay: 30, faultRate: 0.03, start: '2025-11-01' });
  const byDay = new Map<string, { key: string; body: Buffer }[]>();
  for await (const object of generated.storage.list('landing/')) {
    const day = /\/(\d{4}\/\d{2}\/\d{2})\//.exec(object.key)?.[1] ?? '';
    byDay.set(day, [...(byDay.get(day) ?? []), { key: object.key, body: await generated.storage.get(object.key) }]);
  }
  days = [...byDay.keys()].sort().map((day) => byDay.get(day)!);
  expect(days.length).toBeGreaterThanOrEqual(3);

  // The clean run: everything landed, one run of every job reading all of it.
  const cleanDir = await tempDir('idempotent-clean');
  const cleanLake = openLocalLake(cleanDir, { threads: 2 });
  await land(cleanLake, days.flat());
  await runAll(cleanDir);
  clean = await tableContents(cleanLake);

  // The lake as operators find it: one bookmarked run a night, the last day's objects (and any after) on night three.
  base = await tempDir('idempotent-base');
  const lake = openLocalLake(base, { threads: 2 });
  nights = [];
  for (const [night, objects] of [days[0]!, days[1]!, days.slice(2).flat()].entries()) {
    await land(lake, objects);
    await runAll(base, ...enable);
    nights.push({ tasks: await lastRunId(lake, 'bronze.tasks_cdc'), users: await lastRunId(lake, 'bronze.users_cdc') });
    expect(nights[night]!.tasks).not.toBe(nights[night - 1]?.tasks);
  }
  await expectLikeCleanRun(lake, clean, { allRead: true });
}, 240_000);

describe('a landing record is in bronze at most once', () => {
  for (const night of [0, 1, 2]) {
    it(`rewinding the bronze bookmarks to night ${night + 1}'s run and running on re-reads nothing twice`, async () => {
      const { dir, lake } = await copyOfBase();
      await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', nights[night]!.tasks]);
      await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.users_cdc', '--run-id', nights[night]!.users]);
      await runAll(dir, ...enable);
      await expectLikeCleanRun(lake, clean, { allRead: true });
    }, 120_000);
  }

  it('starting the bookmarks over (reset without a run id) and running on re-reads nothing twice', async () => {
    const { dir, lake } = await copyOfBase();
    await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.tasks_cdc']);
    await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.users_cdc']);
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 120_000);

  it('a pause window between two runs re-reads what bronze holds and adds nothing', async () => {
    const { dir, lake } = await copyOfBase();
    for (const job of ['bronze.tasks_cdc', 'bronze.users_cdc'] as const) {
      const ids = nights.map((night) => (job === 'bronze.tasks_cdc' ? night.tasks : night.users));
      await ok(['--lake', dir, 'run', job, '--job-bookmark-option', 'job-bookmark-pause', '--job-bookmark-from', ids[0]!, '--job-bookmark-to', ids[2]!]);
    }
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 120_000);

  it('a pause run and then the bookmarked run read the same new objects once', async () => {
    // Two nights, then the third day's objects read by a pause run (no bookmark moves) and again by the nightly run.
    const dir = await tempDir('idempotent-pause');
    const lake = openLocalLake(dir, { threads: 2 });
    await land(lake, days[0]!);
    await runAll(dir, ...enable);
    await land(lake, days[1]!);
    await runAll(dir, ...enable);
    await land(lake, days.slice(2).flat());
    await runAll(dir, '--job-bookmark-option', 'job-bookmark-pause');
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 180_000);

  it('an object landed again under its own key is not read twice', async () => {
    const { dir, lake } = await copyOfBase();
    // Re-landed: the same bytes under the same key, newer than every bookmark.
    await land(lake, [...days[0]!.slice(0, 3), ...days[1]!.slice(-2)]);
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
    const [held] = await queryLake(lake, `SELECT count(*) AS n FROM bronze.tasks_cdc`);
    expect(Number(held!.n)).toBe((clean['bronze.tasks_cdc'] ?? []).length);
  }, 120_000);

  it('rewinding every job to its first run, silver and gold too, recomputes without doubling', async () => {
    const { dir, lake } = await copyOfBase();
    for (const job of PIPELINE_JOBS) {
      const { records } = await readRunRecords(lake.state, job.name);
      const first = records.filter((run) => run.JobRunState === 'SUCCEEDED').sort((a, b) => a.StartedOn.localeCompare(b.StartedOn))[0]!;
      await ok(['--lake', dir, 'bookmark', 'reset', job.name, '--run-id', first.Id]);
    }
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 120_000);

  it('a run with bookmarks disabled between bookmarked runs, then the bookmarked run, adds nothing twice', async () => {
    const dir = await tempDir('idempotent-disable');
    const lake = openLocalLake(dir, { threads: 2 });
    await land(lake, days[0]!);
    await runAll(dir, ...enable);
    await land(lake, days[1]!);
    await runAll(dir, ...enable);
    await land(lake, days.slice(2).flat());
    // The disabled run reads everything (the new day too) and commits no bookmark; the next reads the new day again.
    await runAll(dir, '--job-bookmark-option', 'job-bookmark-disable');
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 180_000);

  it('a pause run of the silver jobs alone, then the bookmarked run, adds nothing twice', async () => {
    const dir = await tempDir('idempotent-silver-pause');
    const lake = openLocalLake(dir, { threads: 2 });
    await land(lake, days[0]!);
    await runAll(dir, ...enable);
    await land(lake, days.slice(1).flat());
    await ok(['--lake', dir, 'run', 'bronze.tasks_cdc', 'bronze.users_cdc', ...enable]);
    await ok(['--lake', dir, 'run', 'silver.users', 'silver.tasks', '--job-bookmark-option', 'job-bookmark-pause']);
    await runAll(dir, ...enable);
    await expectLikeCleanRun(lake, clean, { allRead: true });
  }, 180_000);

  it('finds a re-landed object by the key ranges its files record, keys too long for Parquet statistics included', async () => {
    const { dir, lake } = await copyOfBase();
    // Every bronze file records the range of landing objects it holds, as its rows have it.
    const root = await lake.state.readRoot();
    const manifest = await lake.state.getDocument<TableManifest>(root.tables['bronze.tasks_cdc']!.manifest);
    const files = manifestFiles(manifest);
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const [actual] = await queryLake(lake, `SELECT min(source_object) AS min, max(source_object) AS max FROM read_parquet(${quoteLiteral(path.join(dir, file.key))})`);
      expect(file.sourceObjects, file.key).toEqual({ min: actual!.min, max: actual!.max });
    }
    // An object whose key is longer than the 256 bytes Parquet statistics keep, landed, read, and read again.
    const body = days[2]!.find((object) => object.key.startsWith('landing/tasks/'))!.body;
    const long = `landing/tasks/2025/11/04/23/${`${'x'.repeat(120)}/`.repeat(3)}long-key`;
    await lake.storage.put(long, body);
    await runAll(dir, ...enable);
    const count = async () => Number((await queryLake(lake, `SELECT count(*) AS n FROM bronze.tasks_cdc`))[0]!.n);
    const once = await count();
    // Read again: the bookmark rewound to the run before.
    await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', nights[2]!.tasks]);
    const again = await runJob(lake, tasksCdcJob, { bookmark: { option: 'job-bookmark-enable' } });
    expect(again.recordsAlreadyHeld).toBeGreaterThan(0);
    expect(await count()).toBe(once);
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
  }, 120_000);

  it('says how many records it found already held, and counts them in its balance', async () => {
    const { dir, lake } = await copyOfBase();
    await ok(['--lake', dir, 'bookmark', 'reset', 'bronze.tasks_cdc', '--run-id', nights[1]!.tasks]);
    const result = await runJob(lake, tasksCdcJob, { bookmark: { option: 'job-bookmark-enable' } });
    expect(result.recordsRead).toBeGreaterThan(0);
    expect(result.recordsAlreadyHeld).toBe(result.recordsRead);
    expect(result.recordsWritten['bronze.tasks_cdc'] ?? 0).toBe(0);
    expect(result.recordsQuarantined).toBe(0);
    // The bookmark moved on: the next run has nothing new.
    expect((await runJob(lake, tasksCdcJob, { bookmark: { option: 'job-bookmark-enable' } })).nothingNew).toBe(true);
    await land(lake, days[0]!.slice(0, 2));
    const io = bufferIo();
    expect(await invoke(['--lake', dir, 'run', 'bronze.tasks_cdc', ...enable], { io, env: {} }), io.stderr()).toBe(0);
    expect(io.stdout()).toMatch(/read (\d+), wrote bronze.tasks_cdc 0, \1 already held/);
  }, 120_000);
});
