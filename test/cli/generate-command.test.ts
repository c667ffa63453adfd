import { describe, expect, it } from 'vitest';
import { cli, ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * `generate` says what it is doing and what it wrote (the JSON behind --format json), and days added to a lake never
 * repeat its ids: `--continue` carries on the day after the lake's latest event with new users, tasks and events.
 */

const tempDir = useFileTempDirs();
type Summary = { eventsPerSource: Record<string, Record<string, number>>; firstEventTime: string; lastEventTime: string };
const events = (summary: Summary) => Object.values(summary.eventsPerSource).flatMap((byName) => Object.values(byName)).reduce((sum, count) => sum + count, 0);
const count = async (lake: string, sql: string) => Number((await ok(['--lake', lake, 'query', sql, '--format', 'csv'])).trim().split('\n')[1]);

describe('medallion generate', () => {
  it('prints progress on stderr and a short summary; --format json prints the whole summary', async () => {
    const lake = await tempDir('generate');
    const result = await cli(['--lake', lake, 'generate', '--days', '3', '--users', '5', '--tasks-per-day', '10', '--start', '2025-06-01']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('generated day 3 of 3: ');
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Generated 3 days of Todo API traffic, 2025-06-01 to 2025-06-03 (seed 42), into ${lake} (folder)`);
    expect(lines[1]).toMatch(/^ {2}[\d,]+ change records in [\d,]+ Firehose objects \([\d.]+ MiB\)$/);
    expect(lines).toHaveLength(5);
    const json = await cli(['--lake', await tempDir('generate-json'), 'generate', '--days', '1', '--users', '5', '--tasks-per-day', '10', '--format', 'json']);
    expect(events(JSON.parse(json.stdout) as Summary)).toBeGreaterThan(0);
  });

  it('--continue adds the next days with ids of their own: nothing counts as a duplicate, reconcile balances', async () => {
    const lake = await tempDir('continue');
    const first = JSON.parse(await ok(['--lake', lake, 'generate', '--start', '2025-06-01', '--days', '2', '--users', '8', '--tasks-per-day', '20', '--fault-rate', '0', '--format', 'json'])) as Summary;
    await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
    const more = await cli(['--lake', lake, 'generate', '--continue', '--days', '2', '--users', '8', '--tasks-per-day', '20', '--fault-rate', '0', '--format', 'json']);
    expect(more.code, more.stderr).toBe(0);
    // The day after the latest event of the first two days, whenever its last file arrived.
    expect(more.stderr).toMatch(/continuing after the latest event in the lake \(2025-06-02T[\d:.]+Z\): from 2025-06-03, id space 20242\n/);
    const second = JSON.parse(more.stdout) as Summary;
    expect(second.firstEventTime >= '2025-06-03').toBe(true);
    await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
    // Every event of both generations is in silver once: none was taken for a copy of another.
    expect(await count(lake, 'SELECT count(DISTINCT event_id) FROM silver.task_events') + await count(lake, 'SELECT count(DISTINCT event_id) FROM silver.user_events')).toBe(events(first) + events(second));
    expect(await count(lake, "SELECT count(*) FROM silver.users WHERE user_id LIKE 'u-20242-%'")).toBeGreaterThan(0);
    expect((await cli(['--lake', lake, 'reconcile'])).code).toBe(0);
  }, 120_000);

  it('days generated with another --start never reuse the seed\'s event ids either', async () => {
    const lake = await tempDir('starts');
    const a = JSON.parse(await ok(['--lake', lake, 'generate', '--start', '2025-06-01', '--days', '1', '--users', '5', '--tasks-per-day', '10', '--fault-rate', '0', '--format', 'json'])) as Summary;
    const b = JSON.parse(await ok(['--lake', lake, 'generate', '--start', '2025-06-05', '--days', '1', '--users', '5', '--tasks-per-day', '10', '--fault-rate', '0', '--format', 'json'])) as Summary;
    await ok(['--lake', lake, 'run', 'bronze.tasks_cdc', 'bronze.users_cdc']);
    expect(await count(lake, 'SELECT count(DISTINCT event_id) FROM bronze.tasks_cdc') + await count(lake, 'SELECT count(DISTINCT event_id) FROM bronze.users_cdc')).toBe(events(a) + events(b));
  }, 60_000);

  it('--continue never writes days after yesterday, saying how many it can add', async () => {
    const lake = await tempDir('future');
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    await ok(['--lake', lake, 'generate', '--start', threeDaysAgo, '--days', '1', '--users', '5', '--tasks-per-day', '10', '--fault-rate', '0']);
    const tooMany = await cli(['--lake', lake, 'generate', '--continue', '--days', '5']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/GENERATE_FUTURE_DAYS: .* after yesterday .*\(add at most 2 days \(--days 2\)\)/);
    expect((await cli(['--lake', lake, 'generate', '--continue', '--days', '2'])).code).toBe(0);
    const full = await cli(['--lake', lake, 'generate', '--continue', '--days', '1']);
    expect(full.stderr).toContain('the lake already reaches yesterday: nothing to add until tomorrow');
    // Options of another target are refused, never ignored.
    const misplaced = await cli(['--lake', lake, 'generate', '--tasks-stream', 'load-tasks']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/GENERATE_OPTIONS_INVALID: --tasks-stream is not for --to landing/);
    expect((await cli(['--lake', lake, 'generate', '--to', 'firehose', '--users-table', 'Users', '--tasks-stream', 'a', '--users-stream', 'b'])).stderr).toMatch(/--users-table is not for --to firehose/);
    // --to dynamodb writes no landing data to continue from.
    expect((await cli(['--lake', lake, 'generate', '--to', 'dynamodb', '--continue'])).stderr).toMatch(/GENERATE_OPTIONS_INVALID: --continue reads the lake's landing data/);
  }, 60_000);

  it('--continue needs landing data, and is not given with --start', async () => {
    const lake = await tempDir('nothing');
    const empty = await cli(['--lake', lake, 'generate', '--continue']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/GENERATE_NOTHING_TO_CONTINUE/);
    const both = await cli(['--lake', lake, 'generate', '--continue', '--start', '2025-01-01']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/GENERATE_OPTIONS_INVALID: --continue starts the day after/);
  });
});
