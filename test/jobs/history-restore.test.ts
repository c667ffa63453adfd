import { cp, readFile } from 'node:fs/promises';
import { DuckDbEngine } from '../../core/engine/index.ts';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, cli, ok, ENABLE } from '../support/lake-cli.ts';

/**
 * Table history, time travel and restore, as an operator uses them: `medallion history`, `query --as-of` a
 * commit or a time, `restore --dry-run` and `restore`, then the nightly runs going on to the clean run's tables.
 */

const tempDir = useFileTempDirs();
let base: string;
let clean: Record<string, unknown[]>;
/** After each night: the lake's newest commit, its time, and the row counts of two tables. */
let nights: { commit: number; at: string; kpiRows: number; bronzeRows: number }[];
const enable = ENABLE;

async function count(lake: Lake, table: string): Promise<number> {
  return Number((await queryLake(lake, `SELECT count(*) AS n FROM ${table}`))[0]!.n);
}

async function copyOfBase(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('restore');
  await cp(base, dir, { recursive: true });
  return { dir, lake: openLocalLake(dir, { threads: 2 }) };
}

interface HistoryRow { version: number; commit: number; committed_at: string; operation: string; job: string; run_id: string; rows: number; files: number; bytes: number }

beforeAll(async () => {
  const source = await tempDir('restore-source');
  const generated = openLocalLake(source, { threads: 2 });
  await generateLanding(generated.storage, { seed: 23, days: 3, users: 15, tasksPerDay: 25, faultRate: 0.02, start: '2025-11-01' });
  const byDay = new Map<string, { key: string; body: Buffer }[]>();
  for await (const object of generated.storage.list('landing/')) {
    const day = /\/(\d{4}\/\d{2}\/\d{2})\//.exec(object.key)?.[1] ?? '';
    byDay.set(day, [...(byDay.get(day) ?? []), { key: object.key, body: await generated.storage.get(object.key) }]);
  }
  const days = [...byDay.keys()].sort().map((day) => byDay.get(day)!);
  const cleanDir = await tempDir('restore-clean');
  await cp(path.join(source, 'landing'), path.join(cleanDir, 'landing'), { recursive: true });
  await ok(['--lake', cleanDir, 'run', '--all']);
  clean = await tableContents(openLocalLake(cleanDir, { threads: 2 }));

  base = await tempDir('restore-base');
  const lake = openLocalLake(base, { threads: 2 });
  nights = [];
  for (const objects of [days[0]!, days[1]!, days.slice(2).flat()]) {
    for (const object of objects) await lake.storage.put(object.key, object.body);
    await ok(['--lake', base, 'run', '--all', ...enable]);
    const root = await lake.state.readRoot();
    nights.push({ commit: root.seq, at: root.committedAt, kpiRows: await count(lake, 'gold.daily_task_kpis'), bronzeRows: await count(lake, 'bronze.tasks_cdc') });
    // Commits a second apart at least, so a time between two nights names one of them.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}, 240_000);

describe('history and time travel', () => {
  it('lists every version of a table, newest first, with its commit, operation, job, run and size', async () => {
    const versions = JSON.parse(await ok(['--lake', base, 'history', 'gold.daily_task_kpis', '--format', 'json'])) as HistoryRow[];
    expect(versions.map((row) => row.version)).toEqual([3, 2, 1]);
    expect(versions.map((row) => row.rows)).toEqual(nights.map((night) => night.kpiRows).reverse());
    for (const [index, row] of versions.entries()) {
      expect(row.commit).toBeLessThanOrEqual(nights[2 - index]!.commit);
      if (index < 2) expect(row.commit).toBeGreaterThan(nights[1 - index]!.commit);
      expect(row).toMatchObject({ job: 'gold.daily_task_kpis', operation: expect.stringMatching(/^replace_/) });
      expect(row.run_id).toMatch(/^jr_/);
      expect(row.files).toBeGreaterThan(0);
    }
    const bronze = JSON.parse(await ok(['--lake', base, 'history', 'bronze.tasks_cdc', '--format', 'json', '--limit', '2'])) as HistoryRow[];
    expect(bronze.map((row) => row.version)).toEqual([3, 2]);
    expect(bronze[0]!.operation).toBe('append');
    expect(bronze[1]!.operation).toBe('append');
    const unknown = await cli(['--lake', base, 'history', 'gold.nothing']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('TABLE_UNKNOWN');
  });

  it('query --as-of a commit or a time reads the tables as that commit left them', async () => {
    for (const night of nights) {
      const byCommit = await cli(['--lake', base, 'query', '--as-of', String(night.commit), '--format', 'json',
        'SELECT (SELECT count(*) FROM gold.daily_task_kpis) AS kpis, (SELECT count(*) FROM bronze.tasks_cdc) AS bronze']);
      expect(byCommit.code, byCommit.stderr).toBe(0);
      expect(JSON.parse(byCommit.stdout)).toEqual([{ kpis: night.kpiRows, bronze: night.bronzeRows }]);
      expect(byCommit.stderr).toContain(`as of commit ${night.commit}`);
      const byTime = await cli(['--lake', base, 'query', '--as-of', night.at, '--format', 'json', 'SELECT count(*) AS n FROM bronze.tasks_cdc']);
      expect(JSON.parse(byTime.stdout)).toEqual([{ n: night.bronzeRows }]);
    }
    const before = await cli(['--lake', base, 'query', '--as-of', '2001-01-01', 'SELECT 1']);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('COMMIT_UNKNOWN');
    const bad = await cli(['--lake', base, 'query', '--as-of', 'yesterday', 'SELECT 1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('AS_OF_INVALID');
  });
});

describe('versions in the DuckDB catalog file', () => {
  it('lake.duckdb and views.sql hold a view per kept version, <layer>_versions.<table>_v<N>, beside the current one', async () => {
    const engine = await DuckDbEngine.create({ databasePath: path.join(base, '_catalog', 'lake.duckdb'), threads: 1 });
    try {
      for (const [index, night] of nights.entries()) {
        const { rows } = await engine.query(`SELECT count(*) AS n FROM gold_versions.daily_task_kpis_v${index + 1}`);
        expect(Number(rows[0]!.n)).toBe(night.kpiRows);
      }
      const { rows } = await engine.query(`SELECT count(*) AS n FROM gold.daily_task_kpis`);
      expect(Number(rows[0]!.n)).toBe(nights[2]!.kpiRows);
      const comments = await engine.query(`SELECT comment FROM duckdb_views() WHERE schema_name = 'gold_versions' AND view_name = 'daily_task_kpis_v1'`);
      expect(String(comments.rows[0]!.comment)).toMatch(/^medallion table gold\.daily_task_kpis, version 1, committed .* in commit \d+ \(manifest /);
    } finally {
      engine.close();
    }
    expect(await readFile(path.join(base, '_catalog', 'views.sql'), 'utf8')).toContain('CREATE OR REPLACE VIEW "bronze_versions"."tasks_cdc_v2"');
  });
});

describe('restore', () => {
  it('a dry run says what would change and changes nothing', async () => {
    const { dir, lake } = await copyOfBase();
    const before = await lake.state.readRoot();
    const out = await ok(['--lake', dir, 'restore', 'bronze.tasks_cdc', '--version', '1', '--dry-run']);
    expect(out).toContain('would restore bronze.tasks_cdc to version 1');
    expect(out).toContain(`after: version 4, ${nights[0]!.bronzeRows} rows`);
    expect(out).toMatch(/bookmark of bronze.tasks_cdc: back to run jr_/);
    expect(out).toContain('silver.tasks read bronze.tasks_cdc');
    expect(out).toContain('nothing changed (dry run)');
    expect((await lake.state.readRoot()).seq).toBe(before.seq);
  });

  it('bronze restored to its first version is a new version with exactly those rows; the next runs read the rest again once', async () => {
    const { dir, lake } = await copyOfBase();
    const out = await ok(['--lake', dir, 'restore', 'bronze.tasks_cdc', '--version', '1']);
    expect(out).toContain('restored bronze.tasks_cdc to version 1');
    expect(await count(lake, 'bronze.tasks_cdc')).toBe(nights[0]!.bronzeRows);
    const versions = JSON.parse(await ok(['--lake', dir, 'history', 'bronze.tasks_cdc', '--format', 'json'])) as HistoryRow[];
    expect(versions.map((row) => [row.version, row.operation])).toEqual([[4, 'restore of version 1'], [3, 'append'], [2, 'append'], [1, 'replace_all']]);
    // History is kept: the version before the restore is still there to read.
    expect(JSON.parse(await ok(['--lake', dir, 'query', '--as-of', String(nights[2]!.commit), '--format', 'json', 'SELECT count(*) AS n FROM bronze.tasks_cdc']))).toEqual([{ n: nights[2]!.bronzeRows }]);
    await ok(['--lake', dir, 'run', '--all', ...enable]);
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
  }, 120_000);

  it('gold restored to an earlier version reads as it did; the next bookmarked runs recompute it', async () => {
    const { dir, lake } = await copyOfBase();
    await ok(['--lake', dir, 'restore', 'gold.daily_task_kpis', '--version', '2']);
    expect(await count(lake, 'gold.daily_task_kpis')).toBe(nights[1]!.kpiRows);
    await ok(['--lake', dir, 'run', '--all', ...enable]);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
  }, 120_000);

  it('refuses a version that does not exist, the current one, and a table that does not exist', async () => {
    const { dir } = await copyOfBase();
    for (const [args, code] of [[['gold.daily_task_kpis', '--version', '9'], 'TABLE_VERSION_UNKNOWN'], [['gold.daily_task_kpis', '--version', '3'], 'TABLE_VERSION_CURRENT'], [['gold.nothing', '--version', '1'], 'TABLE_UNKNOWN']] as const) {
      const result = await cli(['--lake', dir, 'restore', ...args]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(code);
    }
  });
});
