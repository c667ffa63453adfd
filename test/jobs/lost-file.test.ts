import { cp, rm, truncate } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs, cli, ok, ENABLE } from '../support/lake-cli.ts';

/**
 * A committed data file that is gone or cut short: every reader names the table, its version and the file,
 * with the way to repair it, and `run <job> --full-refresh` rebuilds the table from its inputs without
 * reading the damaged version, after which the bookmarked runs go on.
 */

const tempDir = useFileTempDirs();
let base: string;
let clean: Record<string, unknown[]>;
const enable = ENABLE;

/** The committed version of `table` and its largest file. */
async function committedFile(lake: Lake, table: string): Promise<{ version: number; key: string }> {
  const root = await lake.state.readRoot();
  const manifest = await lake.state.getDocument<TableManifest>(root.tables[table]!.manifest);
  const [file] = manifestFiles(manifest).sort((a, b) => b.rows - a.rows);
  return { version: manifest.version, key: file!.key };
}

async function copyOfBase(): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('lost-file');
  await cp(base, dir, { recursive: true });
  return { dir, lake: openLocalLake(dir, { threads: 2 }) };
}

/** Objects of the second day kept back: the next night's landing. */
let nextNight: { key: string; body: Buffer }[];

async function landNextNight(lake: Lake): Promise<void> {
  for (const object of nextNight) await lake.storage.put(object.key, object.body);
}

beforeAll(async () => {
  // Two bookmarked nights, the last objects kept back for a third; the clean lake ran once over all of it.
  const source = await tempDir('lost-file-source');
  const generated = openLocalLake(source, { threads: 2 });
  await generateLanding(generated.storage, { seed: 17, days: 2, users: 15, tasksPerDay: 25, faultRate: 0.02, start: '2025-11-01' });
  const objects: { key: string; body: Buffer }[] = [];
  for await (const object of generated.storage.list('landing/')) objects.push({ key: object.key, body: await generated.storage.get(object.key) });
  objects.sort((a, b) => a.key.localeCompare(b.key));
  const firstDay = objects.filter((object) => object.key.includes('/2025/11/01/'));
  const rest = objects.filter((object) => !firstDay.includes(object));
  nextNight = rest.slice(-6);
  base = await tempDir('lost-file-base');
  const lake = openLocalLake(base, { threads: 2 });
  for (const object of firstDay) await lake.storage.put(object.key, object.body);
  await ok(['--lake', base, 'run', '--all', ...enable]);
  for (const object of rest.slice(0, -6)) await lake.storage.put(object.key, object.body);
  await ok(['--lake', base, 'run', '--all', ...enable]);
  const cleanDir = await tempDir('lost-file-clean');
  await cp(path.join(source, 'landing'), path.join(cleanDir, 'landing'), { recursive: true });
  await ok(['--lake', cleanDir, 'run', '--all']);
  clean = await tableContents(openLocalLake(cleanDir, { threads: 2 }));
}, 240_000);

const damages = [
  { name: 'deleted', damage: (file: string) => rm(file), word: 'missing' },
  { name: 'truncated', damage: (file: string) => truncate(file, 100), word: 'damaged' },
] as const;

describe('a lost or damaged committed file', () => {
  for (const { name, damage, word } of damages) {
    it(`${name} in gold.daily_task_kpis: query and runs name table, version and file; --full-refresh repairs it`, async () => {
      const { dir, lake } = await copyOfBase();
      const { version, key } = await committedFile(lake, 'gold.daily_task_kpis');
      await damage(path.join(dir, key));

      const query = await cli(['--lake', dir, 'query', 'SELECT count(*) FROM gold.daily_task_kpis']);
      expect(query.code).toBe(1);
      expect(query.stderr).toContain(`table gold.daily_task_kpis (version ${version})`);
      expect(query.stderr).toContain(key);
      expect(query.stderr).toContain(word);
      expect(query.stderr).toContain('medallion run gold.daily_task_kpis --full-refresh');
      expect(query.stderr).not.toMatch(/internal|IO Error/);

      // The next night: the bookmarked gold run reads what it committed before, and fails naming the file and the fix.
      await landNextNight(lake);
      const night = await cli(['--lake', dir, 'run', '--all', ...enable]);
      expect(night.code).toBe(1);
      expect(night.stderr).toContain(`gold.daily_task_kpis (version ${version})`);
      expect(night.stderr).toContain(key);
      expect(night.stderr).toContain('medallion run gold.daily_task_kpis --full-refresh');
      // A run with bookmarks disabled recomputes from silver and never reads the damaged version; so does a full refresh.
      await ok(['--lake', dir, 'run', 'gold.daily_task_kpis', '--job-bookmark-option', 'job-bookmark-disable']);
      await ok(['--lake', dir, 'run', 'gold.daily_task_kpis', '--full-refresh', ...enable]);
      await ok(['--lake', dir, 'run', '--all', ...enable]);
      const contents = await tableContents(lake);
      for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
    }, 120_000);
  }

  it('a bookmarked run that needs the damaged version fails by name, and --full-refresh then rebuilds it', async () => {
    const { dir, lake } = await copyOfBase();
    const { version, key } = await committedFile(lake, 'silver.tasks_history');
    await truncate(path.join(dir, key), 50);
    // The next night's events: the bookmarked silver run refolds their keys from the committed history.
    await landNextNight(lake);
    await ok(['--lake', dir, 'run', 'bronze.tasks_cdc', ...enable]);
    const run = await cli(['--lake', dir, 'run', 'silver.tasks', ...enable]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`silver.tasks_history (version ${version})`);
    expect(run.stderr).toContain(key);
    expect(run.stderr).toContain('medallion run silver.tasks --full-refresh');
    await ok(['--lake', dir, 'run', 'silver.tasks', '--full-refresh', ...enable]);
    await ok(['--lake', dir, 'run', '--all', ...enable]);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
    expect((await reconcileLake(lake)).differences).toEqual([]);
  }, 120_000);

  it('a lost bronze file: silver names it, and a full refresh of bronze reads it again from landing', async () => {
    const { dir, lake } = await copyOfBase();
    const { version, key } = await committedFile(lake, 'bronze.tasks_cdc');
    await rm(path.join(dir, key));
    await landNextNight(lake);
    const run = await cli(['--lake', dir, 'run', 'silver.tasks', '--job-bookmark-option', 'job-bookmark-disable']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`bronze.tasks_cdc (version ${version})`);
    expect(run.stderr).toContain(key);
    expect(run.stderr).toContain('medallion run bronze.tasks_cdc --full-refresh');
    await ok(['--lake', dir, 'run', 'bronze.tasks_cdc', '--full-refresh', ...enable]);
    await ok(['--lake', dir, 'run', '--all', ...enable]);
    const contents = await tableContents(lake);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
  }, 120_000);
});
