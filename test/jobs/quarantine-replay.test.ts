import { cp } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, cli, ok, expectLikeCleanRun, ENABLE } from '../support/lake-cli.ts';

/**
 * Quarantine replay after a contract fix: the bronze jobs ran with a wrong event-time floor and quarantined a
 * day of good events; `quarantine summary` / `list` show them, `quarantine replay` re-offers them under the
 * fixed contract, they leave the quarantine and reach silver and gold, and the lake ends as a clean run's.
 * Records still refused stay, with this run's reason; reconcile balances throughout.
 */

const tempDir = useFileTempDirs();
let base: string;
let clean: Record<string, unknown[]>;
const enable = ENABLE;
/** The wrong contract: events before 2025-11-02 refused. */
const wrongFloor = ['--event-time-floor', '2025-11-02'];

async function copyOfBase(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('replay');
  // Modified times kept: a copied landing object is not a new one to the bookmarks.
  await cp(base, dir, { recursive: true, preserveTimestamps: true });
  return { dir, lake: openLocalLake(dir, { threads: 2 }) };
}

async function quarantined(lake: Lake, where = 'true'): Promise<number> {
  return Number((await queryLake(lake, `SELECT count(*) AS n FROM quarantine.records WHERE ${where}`))[0]!.n);
}

beforeAll(async () => {
  const source = await tempDir('replay-source');
  await generateLanding(openLocalLake(source).storage, { seed: 37, days: 3, users: 15, tasksPerDay: 25, faultRate: 0.03, start: '2025-11-01' });
  const cleanDir = await tempDir('replay-clean');
  await cp(path.join(source, 'landing'), path.join(cleanDir, 'landing'), { recursive: true });
  await ok(['--lake', cleanDir, 'run', '--all']);
  clean = await tableContents(openLocalLake(cleanDir, { threads: 2 }));
  base = await tempDir('replay-base');
  await cp(path.join(source, 'landing'), path.join(base, 'landing'), { recursive: true });
  await ok(['--lake', base, 'run', '--all', ...enable, ...wrongFloor]);
}, 240_000);

describe('quarantine summary, list and replay', () => {
  it('summary and list show what was refused, by job and reason', async () => {
    const summary = JSON.parse(await ok(['--lake', base, 'quarantine', 'summary', '--format', 'json'])) as { job: string; reason_code: string; records: number; objects: number }[];
    const wrong = summary.filter((row) => row.reason_code === 'event_time_out_of_range');
    expect(wrong.map((row) => row.job).sort()).toEqual(['bronze.tasks_cdc', 'bronze.users_cdc']);
    expect(wrong.every((row) => row.records > 0 && row.objects > 0)).toBe(true);
    expect(summary.some((row) => row.reason_code === 'invalid_json')).toBe(true);
    const list = JSON.parse(await ok(['--lake', base, 'quarantine', 'list', '--job', 'bronze.tasks_cdc', '--reason', 'event_time_out_of_range', '--limit', '3', '--format', 'json'])) as Record<string, unknown>[];
    expect(list).toHaveLength(3);
    for (const row of list) {
      expect(row).toMatchObject({ job: 'bronze.tasks_cdc', reason_code: 'event_time_out_of_range', source_object: expect.stringMatching(/^landing\/tasks\//) });
      expect(String(row.reason)).toContain('2025-11-02');
    }
  });

  it('after the contract is fixed, the refused records are accepted, leave the quarantine and reach silver and gold', async () => {
    const { dir, lake } = await copyOfBase();
    const wrong = await quarantined(lake, `reason_code = 'event_time_out_of_range'`);
    const others = await quarantined(lake, `job LIKE 'bronze.%' AND reason_code <> 'event_time_out_of_range'`);
    expect(wrong).toBeGreaterThan(0);
    expect((await reconcileLake(lake)).differences).toEqual([]);
    const bookmarksBefore = (await lake.state.readRoot()).bookmarks;

    const out = await ok(['--lake', dir, 'quarantine', 'replay', '--reason', 'event_time_out_of_range']);
    // Accepted ones are rows now; a record refused again is refused for what the right contract finds wrong with it
    // (its first failing check), so the quarantine ends as the clean run's: reason codes and all.
    let refusedAgain = 0;
    for (const [job, silver] of [['bronze.tasks_cdc', 'silver.tasks'], ['bronze.users_cdc', 'silver.users']] as const) {
      const line = new RegExp(`${job.replace('.', '\\.')}: re-offered (\\d+) records \\(those records alone, from their landing objects\\): (\\d+) accepted, (\\d+) still refused; then ran ${silver.replace('.', '\\.')}`).exec(out);
      expect(line, out).not.toBeNull();
      expect(Number(line![1])).toBe(Number(line![2]) + Number(line![3]));
      expect(Number(line![2])).toBeGreaterThan(0);
      refusedAgain += Number(line![3]);
    }
    expect(await quarantined(lake, `reason_code = 'event_time_out_of_range'`)).toBe(0);
    expect(await quarantined(lake, `job LIKE 'bronze.%' AND reason_code <> 'event_time_out_of_range'`)).toBe(others + refusedAgain);
    await expectLikeCleanRun(lake, clean);
    // The replay moved no bronze bookmark, and the next bookmarked runs add nothing.
    const bookmarksAfter = (await lake.state.readRoot()).bookmarks;
    expect(bookmarksAfter['bronze.tasks_cdc']).toBe(bookmarksBefore['bronze.tasks_cdc']);
    expect(bookmarksAfter['bronze.users_cdc']).toBe(bookmarksBefore['bronze.users_cdc']);
    const again = await ok(['--lake', dir, 'run', '--all', ...enable]);
    expect(again).not.toMatch(/wrote bronze\.\w+ [1-9]/);
    await expectLikeCleanRun(lake, clean);
  }, 120_000);

  it('records still refused stay in the quarantine with the new run\'s reason, and the counts still add up', async () => {
    const { dir, lake } = await copyOfBase();
    const before = await queryLake(lake, `SELECT source_object, record_index, run_id FROM quarantine.records WHERE job = 'bronze.tasks_cdc' AND reason_code = 'invalid_json' ORDER BY ALL`);
    expect(before.length).toBeGreaterThan(0);
    const out = await ok(['--lake', dir, 'quarantine', 'replay', '--job', 'bronze.tasks_cdc', '--reason', 'invalid_json']);
    expect(out).toContain(`bronze.tasks_cdc: re-offered ${before.length} records`);
    expect(out).toContain(`0 accepted, ${before.length} still refused`);
    const after = await queryLake(lake, `SELECT source_object, record_index, run_id FROM quarantine.records WHERE job = 'bronze.tasks_cdc' AND reason_code = 'invalid_json' ORDER BY ALL`);
    expect(after.map((row) => [row.source_object, row.record_index])).toEqual(before.map((row) => [row.source_object, row.record_index]));
    // Refused again by the replay run.
    expect(new Set(after.map((row) => row.run_id)).size).toBe(1);
    expect(after[0]!.run_id).not.toBe(before[0]!.run_id);
    // The wrong-floor records were not selected: still there.
    expect(await quarantined(lake, `job = 'bronze.tasks_cdc' AND reason_code = 'event_time_out_of_range'`)).toBeGreaterThan(0);
    expect((await reconcileLake(lake)).differences).toEqual([]);
  }, 120_000);

  it('a silver job\'s quarantine is re-offered by a full refresh, and --since selects by time', async () => {
    const { dir, lake } = await copyOfBase();
    await ok(['--lake', dir, 'quarantine', 'replay', '--reason', 'event_time_out_of_range']);
    const silver = await quarantined(lake, `job = 'silver.tasks'`);
    expect(silver).toBeGreaterThan(0);
    const none = await cli(['--lake', dir, 'quarantine', 'replay', '--job', 'silver.tasks', '--since', '2999-01-01']);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('no quarantined record matches');
    const out = await ok(['--lake', dir, 'quarantine', 'replay', '--job', 'silver.tasks']);
    expect(out).toContain(`silver.tasks: re-offered ${silver} records (a full refresh of the job): 0 accepted, ${silver} still refused; then ran gold.`);
    await expectLikeCleanRun(lake, clean);
  }, 120_000);

  it('an object cut short and then landed again whole: replaying its corrupt_gzip record takes it and every record after the break, once', async () => {
    const source = await tempDir('replay-gzip-source');
    await generateLanding(openLocalLake(source).storage, { seed: 47, days: 1, users: 8, tasksPerDay: 30, faultRate: 0, start: '2025-11-01' });
    const dir = await tempDir('replay-gzip');
    const lake = openLocalLake(dir, { threads: 2 });
    const generated = openLocalLake(source);
    const objects: { key: string; body: Buffer }[] = [];
    for await (const object of generated.storage.list('landing/')) objects.push({ key: object.key, body: await generated.storage.get(object.key) });
    // The largest gzip object of tasks, cut in the middle of its deflate stream.
    const [whole] = objects.filter((object) => object.key.startsWith('landing/tasks/') && object.body[0] === 0x1f && object.body[1] === 0x8b).sort((a, b) => b.body.length - a.body.length);
    for (const object of objects) await lake.storage.put(object.key, object === whole ? object.body.subarray(0, Math.floor(object.body.length / 2)) : object.body);
    await ok(['--lake', dir, 'run', '--all', ...enable]);
    const [cut] = await queryLake(lake, `SELECT record_index FROM quarantine.records WHERE reason_code = 'corrupt_gzip' AND source_object = ${JSON.stringify(whole!.key).replaceAll('"', "'")}`);
    expect(cut, 'the cut object has a corrupt_gzip record').toBeDefined();
    // The object is landed again whole, under its own key, and the quarantined break is re-offered.
    await lake.storage.put(whole!.key, whole!.body);
    const out = await ok(['--lake', dir, 'quarantine', 'replay', '--job', 'bronze.tasks_cdc', '--reason', 'corrupt_gzip']);
    expect(out).toContain('bronze.tasks_cdc: re-offered 1 records');
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    // Every record of the whole object is a bronze row or quarantined, once, as in a lake that never saw it cut.
    const cleanDir = await tempDir('replay-gzip-clean');
    const cleanLake = openLocalLake(cleanDir, { threads: 2 });
    for (const object of objects) await cleanLake.storage.put(object.key, object.body);
    await ok(['--lake', cleanDir, 'run', '--all']);
    const expected = await tableContents(cleanLake);
    const contents = await tableContents(lake);
    for (const table of ['bronze.tasks_cdc', 'silver.tasks', 'silver.task_events', 'gold.daily_task_kpis', 'quarantine.records']) expect(contents[table], table).toEqual(expected[table]);
  }, 120_000);
});
