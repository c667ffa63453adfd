import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ResultRow } from '../../../core/engine/index.ts';
import { useEngines } from '../test-resources.ts';

const execFileAsync = promisify(execFile);
const engine = useEngines();
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Rows of `sql` from a DuckDbEngine created in a separate node process started with TZ=`zone`. */
async function queryInProcessWithZone(zone: string, sql: string): Promise<unknown> {
  const script = `
    const { DuckDbEngine } = await import(process.argv[1]);
    const engine = await DuckDbEngine.create({ threads: 1 });
    const { rows } = await engine.query(process.argv[2]);
    engine.close();
    process.stdout.write(JSON.stringify(rows));`;
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script, pathToFileURL(path.join(repoRoot, 'core/engine/index.ts')).href, sql],
    { cwd: repoRoot, env: { ...process.env, TZ: zone } },
  );
  return JSON.parse(stdout) as unknown;
}

async function one(sql: string): Promise<ResultRow> {
  const { rows } = await (await engine()).query(sql);
  expect(rows).toHaveLength(1);
  return rows[0] as ResultRow;
}

describe('DuckDbEngine.query', () => {
  it('returns integers that fit a double as numbers and larger ones as exact strings', async () => {
    expect(
      await one(`SELECT 42::TINYINT AS tiny, -7::INTEGER AS int, 9007199254740991::BIGINT AS max_safe, -9007199254740991::BIGINT AS min_safe,
                        9007199254740992::BIGINT AS past_safe, 9223372036854775807::BIGINT AS max_bigint,
                        170141183460469231731687303715884105727::HUGEINT AS max_hugeint, -5::HUGEINT AS small_hugeint,
                        18446744073709551615::UBIGINT AS max_ubigint, count(*) AS n`),
    ).toEqual({
      tiny: 42,
      int: -7,
      max_safe: 9007199254740991,
      min_safe: -9007199254740991,
      past_safe: '9007199254740992',
      max_bigint: '9223372036854775807',
      max_hugeint: '170141183460469231731687303715884105727',
      small_hugeint: -5,
      max_ubigint: '18446744073709551615',
      n: 1,
    });
  });

  it('returns decimals as exact strings and doubles as numbers', async () => {
    expect(await one(`SELECT 1.10::DECIMAL(10,2) AS price, 12345678901234567890.123::DECIMAL(38,3) AS big, 0.1::DOUBLE + 0.2::DOUBLE AS dbl`)).toEqual({
      price: '1.10',
      big: '12345678901234567890.123',
      dbl: 0.1 + 0.2,
    });
  });

  it('returns dates and timestamps as strings, with the session zone pinned to UTC', async () => {
    expect(
      await one(`SELECT current_setting('TimeZone') AS zone, TIMESTAMPTZ '2025-11-01 12:00:00+02:00' AS tz,
                        TIMESTAMP '2025-11-01 12:34:56.123456' AS ts, DATE '2025-11-01' AS dt,
                        (TIMESTAMPTZ '2025-11-01 23:30:00+00:00')::DATE AS utc_day`),
    ).toEqual({ zone: 'UTC', tz: '2025-11-01 10:00:00+00', ts: '2025-11-01 12:34:56.123456', dt: '2025-11-01', utc_day: '2025-11-01' });
  });

  it('keeps naive timestamps and dates as they are in a process whose time zone is not UTC', async () => {
    const rows = await queryInProcessWithZone('Asia/Tokyo', `SELECT current_setting('TimeZone') AS zone, TIMESTAMP '2025-11-01 23:30:00' AS ts, DATE '2025-11-01' AS dt`);
    expect(rows).toEqual([{ zone: 'UTC', ts: '2025-11-01 23:30:00', dt: '2025-11-01' }]);
  });

  // The session zone is UTC, but @duckdb/node-api renders TIMESTAMPTZ values with the Node process's own
  // offset (DuckDBTimestampTZValue.timezoneOffsetInMinutes, taken from `new Date()` when the module loads):
  // under TZ=Asia/Tokyo this comes back as '2025-11-01 19:00:00+09'. The vitest config pins TZ=UTC, which hides it.
  it('renders TIMESTAMPTZ values in UTC in a process whose time zone is not UTC', async () => {
    const rows = await queryInProcessWithZone('Asia/Tokyo', `SELECT TIMESTAMPTZ '2025-11-01 12:00:00+02:00' AS tz`);
    expect(rows).toEqual([{ tz: '2025-11-01 10:00:00+00' }]);
  });

  it('describes result columns with their DuckDB types', async () => {
    const { columns } = await (await engine()).query(`SELECT 1::BIGINT AS id, 'x' AS name, ['a']::VARCHAR[] AS tags, TIMESTAMP '2025-01-01' AS at`);
    expect(columns.map(({ name, type }) => ({ name, type }))).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'name', type: 'VARCHAR' },
      { name: 'tags', type: 'VARCHAR[]' },
      { name: 'at', type: 'TIMESTAMP' },
    ]);
  });

  it('returns NULL as null and keeps lists and structs', async () => {
    expect(await one(`SELECT NULL::BIGINT AS nothing, ['b', 'a'] AS tags, {'k': 'v'} AS s`)).toEqual({ nothing: null, tags: ['b', 'a'], s: { k: 'v' } });
  });

  // engine.ts documents ResultValue as "integers that fit a double are numbers"; inside a list or struct
  // they come back as strings, because only top-level integer columns are converted.
  it('returns integers inside lists and structs as numbers too', async () => {
    expect(await one(`SELECT [1, 2]::BIGINT[] AS ids, {'n': 3::BIGINT} AS s`)).toEqual({ ids: [1, 2], s: { n: 3 } });
  });

  it('rejects SQL that fails, and runs several statements in one call', async () => {
    const duckdb = await engine();
    await expect(duckdb.query('SELECT no_such_column FROM range(1)')).rejects.toThrow(/no_such_column/);
    await duckdb.run('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)');
    expect((await duckdb.query('SELECT sum(a) AS total FROM t')).rows).toEqual([{ total: 3 }]);
  });
});

describe('DuckDbEngine.stream', () => {
  it('delivers every row of a large result in several chunks, with typed columns', async () => {
    const duckdb = await engine();
    const chunkSizes: number[] = [];
    const seen = new Set<number>();
    const columns = await duckdb.stream('SELECT range AS n, range::VARCHAR AS label FROM range(10000)', (rows, chunkColumns) => {
      chunkSizes.push(rows.length);
      expect(chunkColumns.map(({ name, type }) => ({ name, type }))).toEqual([{ name: 'n', type: 'BIGINT' }, { name: 'label', type: 'VARCHAR' }]);
      for (const row of rows) {
        expect(typeof row.n).toBe('number');
        expect(row.label).toBe(String(row.n));
        seen.add(row.n as number);
      }
    });
    expect(columns.map(({ name, type }) => ({ name, type }))).toEqual([{ name: 'n', type: 'BIGINT' }, { name: 'label', type: 'VARCHAR' }]);
    expect(chunkSizes.length).toBeGreaterThan(1);
    expect(chunkSizes.reduce((sum, size) => sum + size, 0)).toBe(10000);
    expect(seen.size).toBe(10000);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(9999);
  });

  it('waits for an async handler before delivering the next chunk', async () => {
    const duckdb = await engine();
    let inFlight = 0;
    let mostInFlight = 0;
    let chunks = 0;
    await duckdb.stream('SELECT range FROM range(10000)', async () => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await sleep(2);
      chunks += 1;
      inFlight -= 1;
    });
    expect(chunks).toBeGreaterThan(1);
    expect(mostInFlight).toBe(1);
  });

  it('returns the columns of an empty result and delivers no rows', async () => {
    const duckdb = await engine();
    let delivered = 0;
    const columns = await duckdb.stream('SELECT range AS n FROM range(0)', (rows) => void (delivered += rows.length));
    expect(columns.map(({ name, type }) => ({ name, type }))).toEqual([{ name: 'n', type: 'BIGINT' }]);
    expect(delivered).toBe(0);
  });
});

describe('DuckDbEngine.fork', () => {
  it('is another session on the same database: it sees tables and views, not TEMP ones, and keeps the session in UTC', async () => {
    const duckdb = await engine();
    await duckdb.run("CREATE TABLE shared AS SELECT 1 AS n; CREATE VIEW shared_view AS SELECT n + 1 AS m FROM shared; CREATE TEMP TABLE own AS SELECT 2 AS n");
    const fork = await duckdb.fork();
    expect((await fork.query('SELECT n, (SELECT m FROM shared_view) AS m FROM shared')).rows).toEqual([{ n: 1, m: 2 }]);
    await expect(fork.query('SELECT * FROM own')).rejects.toThrow(/own/);
    expect((await fork.query("SELECT TIMESTAMPTZ '2025-11-01 12:00:00+02' AS at")).rows).toEqual([{ at: '2025-11-01 10:00:00+00' }]);
    // What a fork creates is there for the engine too.
    await fork.run('CREATE TABLE from_fork AS SELECT 3 AS n');
    expect((await duckdb.query('SELECT n FROM from_fork')).rows).toEqual([{ n: 3 }]);
  });

  it('runs statements alongside the engine, and is interrupted and closed with it', async () => {
    const duckdb = await engine();
    const fork = await duckdb.fork();
    const slow = 'SELECT count(*) AS n FROM range(3000000000) AS a(x) WHERE x % 7 = 3';
    // Both long statements are under way at once; interrupting the engine stops the fork's too.
    const running = [duckdb.query(slow), fork.query(slow)].map((promise) => promise.then(() => 'finished', (error: unknown) => String(error)));
    await sleep(200);
    duckdb.interrupt();
    const outcomes = await Promise.all(running);
    expect(outcomes.every((outcome) => /interrupt/i.test(outcome))).toBe(true);
    const other = await duckdb.fork();
    duckdb.close();
    await expect(other.query('SELECT 1')).rejects.toThrow();
  });
});

describe('DuckDbEngine.isolate', () => {
  it('has a database of its own: its tables are not the engine’s nor another isolate’s, and its forks share them', async () => {
    const duckdb = await engine();
    await duckdb.run('CREATE TABLE step_bounds AS SELECT 0 AS n');
    const first = await duckdb.isolate();
    const second = await duckdb.isolate();
    await first.run('CREATE TABLE step_bounds AS SELECT 1 AS n');
    await second.run('CREATE TABLE step_bounds AS SELECT 2 AS n');
    expect((await duckdb.query('SELECT n FROM step_bounds')).rows).toEqual([{ n: 0 }]);
    expect((await first.query('SELECT n FROM step_bounds')).rows).toEqual([{ n: 1 }]);
    expect((await second.query('SELECT n FROM step_bounds')).rows).toEqual([{ n: 2 }]);
    const fork = await first.fork();
    expect((await fork.query('SELECT n FROM step_bounds')).rows).toEqual([{ n: 1 }]);
    expect((await fork.query("SELECT TIMESTAMPTZ '2025-11-01 12:00:00+02' AS at")).rows).toEqual([{ at: '2025-11-01 10:00:00+00' }]);
  });

  it('drops a closed isolate’s database when the next one opens, and closes with the instance', async () => {
    const duckdb = await engine();
    const databases = async () => (await duckdb.query("SELECT database_name FROM duckdb_databases() WHERE database_name LIKE 'isolate%' ORDER BY 1")).rows.map((row) => row.database_name);
    const first = await duckdb.isolate();
    const fork = await first.fork();
    await first.run('CREATE TABLE big AS SELECT range AS n FROM range(100000)');
    first.close();
    await expect(fork.query('SELECT 1')).rejects.toThrow();
    const second = await duckdb.isolate();
    expect(await databases()).toEqual(['isolate_2']);
    await expect(second.query('SELECT count(*) FROM big')).rejects.toThrow(/big/);
    const slow = second.query('SELECT count(*) AS n FROM range(3000000000) AS a(x) WHERE x % 7 = 3').then(() => 'finished', (error: unknown) => String(error));
    await sleep(200);
    duckdb.interrupt();
    expect(await slow).toMatch(/interrupt/i);
    duckdb.close();
    await expect(second.query('SELECT 1')).rejects.toThrow();
    await expect(duckdb.isolate()).rejects.toThrow(/closed/);
  });
});
