import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { boxTableRecords, runCli, stackFrames } from './cli-output.ts';

let lake: string;
beforeEach(async () => {
  lake = await mkdtemp(path.join(tmpdir(), 'medallion-damaged-'));
  const opened = openLocalLake(lake, { threads: 2 });
  await generateLanding(opened.storage, { seed: 8, days: 1, users: 5, tasksPerDay: 8 });
  await runJobs(opened, PIPELINE_JOBS);
});

const cli = (...args: string[]) => runCli(lake, ...args);

describe('a damaged lake: one bad file is one bad table, one bad record is one bad record', () => {
  it('a truncated Parquet file: that table fails by name (exit 1), the other tables stay queryable', async () => {
    const state = openLocalLake(lake).state;
    const root = await state.readRoot();
    const manifest = await state.getDocument<TableManifest>(root.tables['gold.daily_task_kpis']!.manifest);
    for (const file of manifestFiles(manifest)) await truncate(path.join(lake, file.key), 10);

    const other = await cli('query', 'SELECT count(*) AS n FROM silver.tasks', '--format', 'json');
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)[0].n).toBeGreaterThan(0);
    expect(other.stderr).toMatch(/^warning: table gold\.daily_task_kpis cannot be read \(/m);
    const damaged = await cli('query', 'SELECT tasks_created FROM gold.daily_task_kpis');
    expect(damaged.code).toBe(1);
    const counted = await cli('query', 'SELECT count(*) FROM gold.daily_task_kpis');
    expect(counted.code, counted.stdout).toBe(1);
    expect(damaged.stderr).toMatch(/^error: TABLE_DAMAGED: .*table gold\.daily_task_kpis \(version \d+\) cannot be read/m);
    expect(stackFrames(damaged.stderr)).toEqual([]);
  });

  it('a run record damaged by hand: `runs` shows it as UNREADABLE and the rest; runs go on', async () => {
    const folder = path.join(lake, '_state', 'records', 'runs', 'silver.tasks');
    const [first] = (await readdir(folder)).filter((name) => name.endsWith('.json'));
    await writeFile(path.join(folder, first!), '{"Id": "jr_x", "JobRunSt');
    const runs = await cli('runs', 'silver.tasks', 'silver.users');
    expect(runs.code, runs.stderr).toBe(0);
    const rows = boxTableRecords(runs.stdout);
    expect(rows[0]).toMatchObject({ job: 'silver.tasks', state: 'UNREADABLE' });
    expect(rows.some((row) => row.job === 'silver.users' && row.state === 'SUCCEEDED')).toBe(true);
    const again = await cli('run', '--all');
    expect(again.code, again.stderr).toBe(0);
    // A record of the wrong shape is as unreadable as broken JSON.
    await writeFile(path.join(folder, first!), JSON.stringify({ Id: 'jr_x', JobRunState: 'DANCING' }));
    expect(boxTableRecords((await cli('runs', 'silver.tasks')).stdout)[0]).toMatchObject({ state: 'UNREADABLE' });
  });

  it('a removed latest root is an error naming it (exit 1), never a silent rollback to the commit before', async () => {
    const head = (await readFile(path.join(lake, '_state', 'HEAD'), 'utf8')).trim();
    await rm(path.join(lake, '_state', 'roots', `${head.padStart(12, '0')}.json`));
    for (const command of [['tables'], ['query', 'SELECT 1'], ['run', '--all']]) {
      const result = await cli(...command);
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^error: STATE_CORRUPT: root ${head}, the lake's newest commit .* is missing`));
    }
  });

  it('a manifest of the wrong shape: reported with its id and what is wrong (exit 1); the other tables stay queryable', async () => {
    const state = openLocalLake(lake).state;
    const root = await state.readRoot();
    const id = root.tables['gold.daily_task_kpis']!.manifest;
    const file = path.join(lake, '_state', 'documents', `${id}.json`);
    const manifest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    delete manifest.partitions;
    await writeFile(file, JSON.stringify(manifest));

    const other = await cli('query', 'SELECT count(*) AS n FROM silver.tasks', '--format', 'json');
    expect(other.code, other.stderr).toBe(0);
    // Whatever the query asks of it: all rows, a count (whose columns DuckDB would not read), a column.
    for (const sql of ['SELECT count(*) FROM gold.daily_task_kpis', 'SELECT tasks_created FROM gold.daily_task_kpis']) {
      const result = await cli('query', sql);
      expect(result.code, `${sql}: ${result.stdout}${result.stderr}`).toBe(1);
      expect(result.stderr).toMatch(/TABLE_DAMAGED: .*table gold\.daily_task_kpis cannot be read/);
    }
    const damaged = await cli('query', 'SELECT * FROM gold.daily_task_kpis');
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(new RegExp(`TABLE_DAMAGED: .*table gold\\.daily_task_kpis cannot be read: state document ${id} .* is not a valid table manifest: partitions: `));
    const run = await cli('run', 'gold.daily_task_kpis');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/STATE_CORRUPT: state document .* is not a valid table manifest: partitions/);
    expect(run.stderr).not.toMatch(/Cannot convert undefined/);
    expect(stackFrames(run.stderr)).toEqual([]);
  });

  it('a bookmark of the wrong shape: reported with its id and the repair (exit 1), which works', async () => {
    await cli('run', '--all', '--job-bookmark-option', 'job-bookmark-enable');
    const root = await openLocalLake(lake).state.readRoot();
    const id = root.bookmarks['bronze.tasks_cdc']!;
    const file = path.join(lake, '_state', 'documents', `${id}.json`);
    const bookmark = JSON.parse(await readFile(file, 'utf8')) as { sources: Record<string, unknown> };
    bookmark.sources.landing = { kind: 'landing', watermarkMs: 'yesterday' };
    await writeFile(file, JSON.stringify(bookmark));

    const run = await cli('run', 'bronze.tasks_cdc', '--job-bookmark-option', 'job-bookmark-enable');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`STATE_CORRUPT: state document ${id} .* is not a valid job bookmark: sources\\.landing\\.watermarkMs: .*medallion bookmark reset bronze\\.tasks_cdc`));
    expect((await cli('bookmark', 'reset', 'bronze.tasks_cdc')).code).toBe(0);
    const again = await cli('run', 'bronze.tasks_cdc', '--job-bookmark-option', 'job-bookmark-enable');
    expect(again.code, again.stderr).toBe(0);
  });

  it('a root of the wrong shape: every command names it (exit 1)', async () => {
    const head = (await readFile(path.join(lake, '_state', 'HEAD'), 'utf8')).trim();
    const file = path.join(lake, '_state', 'roots', `${head.padStart(12, '0')}.json`);
    const root = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    root.tables = null;
    await writeFile(file, JSON.stringify(root));
    for (const command of [['tables'], ['query', 'SELECT 1'], ['run', '--all'], ['reconcile']]) {
      const result = await cli(...command);
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.stderr).toMatch(/^error: STATE_CORRUPT: state file .*roots.* is not a valid lake root: tables: /m);
    }
  });
});
