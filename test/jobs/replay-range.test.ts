import { cp } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, cli, ok, expectLikeCleanRun, ENABLE } from '../support/lake-cli.ts';

/**
 * `medallion replay <job...> --from --to`: the bronze jobs ran under a wrong contract (an event-time floor that
 * refuses good events); replaying the range re-reads exactly the objects that arrived in it, replaces what came of
 * them, and recomputes everything downstream, ending as a clean full run; a partial range changes only its days.
 */

const tempDir = useFileTempDirs();
let base: string;
let clean: Record<string, unknown[]>;
const enable = ENABLE;

async function copyOfBase(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('replay-range');
  await cp(base, dir, { recursive: true, preserveTimestamps: true });
  return { dir, lake: openLocalLake(dir, { threads: 2 }) };
}

/** Quarantined records of bronze.tasks_cdc refused for their event time, by the day their object arrived. */
async function refusedByDay(lake: Lake): Promise<Record<string, number>> {
  const rows = await queryLake(lake, `
    SELECT regexp_extract(source_object, '/(\\d{4}/\\d{2}/\\d{2})/', 1) AS day, count(*) AS n FROM quarantine.records
    WHERE job = 'bronze.tasks_cdc' AND reason_code = 'event_time_out_of_range' GROUP BY ALL ORDER BY ALL`);
  return Object.fromEntries(rows.map((row) => [String(row.day), Number(row.n)]));
}

beforeAll(async () => {
  const source = await tempDir('replay-range-source');
  await generateLanding(openLocalLake(source).storage, { seed: 41, days: 3, users: 15, tasksPerDay: 25, faultRate: 0.03, start: '2025-11-01' });
  const cleanDir = await tempDir('replay-range-clean');
  await cp(path.join(source, 'landing'), path.join(cleanDir, 'landing'), { recursive: true });
  await ok(['--lake', cleanDir, 'run', '--all']);
  clean = await tableContents(openLocalLake(cleanDir, { threads: 2 }));
  base = await tempDir('replay-range-base');
  await cp(path.join(source, 'landing'), path.join(base, 'landing'), { recursive: true });
  // The wrong contract: no event before 2025-11-03 is accepted.
  await ok(['--lake', base, 'run', '--all', ...enable, '--event-time-floor', '2025-11-03']);
}, 240_000);

describe('medallion replay', () => {
  it('replaying the whole range under the fixed contract ends as a clean full run, downstream included', async () => {
    const { dir, lake } = await copyOfBase();
    const bookmarks = (await lake.state.readRoot()).bookmarks;
    const out = await ok(['--lake', dir, 'replay', 'bronze.tasks_cdc', 'bronze.users_cdc', '--from', '2025-11-01', '--to', '2025-11-04']);
    expect(out).toMatch(/^bronze\.tasks_cdc replayed 2025-11-01\.\.2025-11-04: read \d+, wrote \d+, quarantined \d+$/m);
    expect(out).toMatch(/^silver\.tasks recomputed downstream/m);
    expect(out).toMatch(/^gold\.daily_task_kpis recomputed downstream/m);
    await expectLikeCleanRun(lake, clean);
    const after = (await lake.state.readRoot()).bookmarks;
    expect(after['bronze.tasks_cdc']).toBe(bookmarks['bronze.tasks_cdc']);
    expect(after['bronze.users_cdc']).toBe(bookmarks['bronze.users_cdc']);
    // Replaying again changes nothing.
    await ok(['--lake', dir, 'replay', 'bronze.tasks_cdc', '--from', '2025-11-01', '--to', '2025-11-04']);
    await expectLikeCleanRun(lake, clean);
  }, 120_000);

  it('a range of one day replaces exactly what came of the objects that arrived that day', async () => {
    const { dir, lake } = await copyOfBase();
    const before = await refusedByDay(lake);
    expect(before['2025/11/01']).toBeGreaterThan(0);
    expect(before['2025/11/02']).toBeGreaterThan(0);
    const rowsBefore = await queryLake(lake, `SELECT ingest_date::VARCHAR AS day, count(*) AS n FROM bronze.tasks_cdc GROUP BY ALL ORDER BY ALL`);
    await ok(['--lake', dir, 'replay', 'bronze.tasks_cdc', '--from', '2025-11-02', '--to', '2025-11-02']);
    const after = await refusedByDay(lake);
    expect(after['2025/11/01']).toBe(before['2025/11/01']);
    expect(after['2025/11/02'] ?? 0).toBeLessThan(before['2025/11/02']!);
    const rowsAfter = await queryLake(lake, `SELECT ingest_date::VARCHAR AS day, count(*) AS n FROM bronze.tasks_cdc GROUP BY ALL ORDER BY ALL`);
    const count = (rows: typeof rowsBefore, day: string) => Number(rows.find((row) => row.day === day)?.n ?? 0);
    expect(count(rowsAfter, '2025-11-01')).toBe(count(rowsBefore, '2025-11-01'));
    expect(count(rowsAfter, '2025-11-03')).toBe(count(rowsBefore, '2025-11-03'));
    expect(count(rowsAfter, '2025-11-02')).toBeGreaterThan(count(rowsBefore, '2025-11-02'));
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
  }, 120_000);

  it('a silver or gold job is rebuilt in full; a range whose objects left landing is refused, changing nothing', async () => {
    const { dir, lake } = await copyOfBase();
    await ok(['--lake', dir, 'replay', 'bronze.tasks_cdc', 'bronze.users_cdc', '--from', '2025-11-01', '--to', '2025-11-04']);
    const out = await ok(['--lake', dir, 'replay', 'gold.daily_task_kpis', '--from', '2025-11-02', '--to', '2025-11-02']);
    expect(out).toMatch(/^gold\.daily_task_kpis rebuilt in full/m);
    await expectLikeCleanRun(lake, clean);

    const [gone] = (await queryLake(lake, `SELECT source_object FROM bronze.tasks_cdc WHERE ingest_date = DATE '2025-11-02' LIMIT 1`)).map((row) => String(row.source_object));
    await lake.storage.delete([gone!]);
    const seq = (await lake.state.readRoot()).seq;
    const refused = await cli(['--lake', dir, 'replay', 'bronze.tasks_cdc', '--from', '2025-11-02', '--to', '2025-11-02']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('REPLAY_WOULD_DROP_ROWS');
    expect(refused.stderr).toContain(gone);
    expect((await lake.state.readRoot()).seq).toBe(seq);

    const backwards = await cli(['--lake', dir, 'replay', 'bronze.tasks_cdc', '--from', '2025-11-03', '--to', '2025-11-02']);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain('is after --to');
    // Checked before anything runs, also for a job rebuilt in full: no run is recorded, nothing committed.
    for (const [from, to] of [['2025-02-30', '2025-03-01'], ['yesterday', '2025-11-02']]) {
      const bad = await cli(['--lake', dir, 'replay', 'gold.daily_task_kpis', '--from', from!, '--to', to!]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('dates are YYYY-MM-DD');
    }
    expect((await lake.state.readRoot()).seq).toBe(seq);
  }, 120_000);
});
