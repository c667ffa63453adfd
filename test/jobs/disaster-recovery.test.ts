import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { releaseJobLock, runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { useFileTempDirs } from '../support/lake-cli.ts';

/**
 * runbooks/disaster-recovery.md, the folder lake's procedure: back the lake folder up (its `_state` first, then
 * everything else, so every commit the copy holds finds its files), lose the lake, restore the copy and run on.
 * The backup is taken while a pipeline run commits; the restored lake reconciles and its next bookmarked runs end
 * where a lake that never broke would.
 */

const tempDir = useFileTempDirs();
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

/**
 * The runbook's backup (rsync -a --exclude='*.tmp'): `_state/HEAD`, then `_state/roots`, then the rest of `_state`,
 * then every other folder of the lake: each step copies only what the steps before it may name. Files
 * that vanish while it copies (temporary files renamed into place, staged files of a run that ended) are skipped,
 * as rsync skips them.
 */
async function backUp(lake: string, backup: string): Promise<void> {
  const copyTree = async (from: string, to: string): Promise<void> => {
    const entries = await readdir(from, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    await mkdir(to, { recursive: true });
    for (const entry of entries) {
      if (entry.name.endsWith('.tmp')) continue;
      const [source, target] = [path.join(from, entry.name), path.join(to, entry.name)];
      if (entry.isDirectory()) await copyTree(source, target);
      else {
        await cp(source, target, { preserveTimestamps: true }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
      }
    }
  };
  // The commit hint first (it may only lag), then the commits, then the documents they name, then the files.
  const [state, saved] = [path.join(lake, '_state'), path.join(backup, '_state')];
  await mkdir(saved, { recursive: true });
  await cp(path.join(state, 'HEAD'), path.join(saved, 'HEAD'), { preserveTimestamps: true });
  await copyTree(path.join(state, 'roots'), path.join(saved, 'roots'));
  for (const entry of await readdir(state)) {
    if (entry !== 'HEAD' && entry !== 'roots') await copyTree(path.join(state, entry), path.join(saved, entry));
  }
  for (const entry of await readdir(lake)) {
    if (entry !== '_state') await copyTree(path.join(lake, entry), path.join(backup, entry));
  }
}

describe('disaster recovery of a folder lake', () => {
  it('a backup taken while runs commit restores to a lake that reconciles and runs on to the same tables', async () => {
    const source = await tempDir('dr-source');
    await generateLanding(openLocalLake(source).storage, { seed: 43, days: 3, users: 15, tasksPerDay: 25, faultRate: 0.02, start: '2025-11-01' });
    const keys: { key: string; day: string }[] = [];
    const generated = openLocalLake(source);
    for await (const object of generated.storage.list('landing/')) keys.push({ key: object.key, day: /\/(\d{4}\/\d{2}\/\d{2})\//.exec(object.key)?.[1] ?? '' });
    const days = [...new Set(keys.map((entry) => entry.day))].sort();
    const land = async (dir: string, day: (d: string) => boolean) => {
      const lake = openLocalLake(dir);
      for (const { key } of keys.filter((entry) => day(entry.day))) await lake.storage.put(key, await generated.storage.get(key));
    };

    // What a lake that never broke ends as.
    const cleanDir = await tempDir('dr-clean');
    await land(cleanDir, () => true);
    const cleanLake = openLocalLake(cleanDir, { threads: 2 });
    await runJobs(cleanLake, PIPELINE_JOBS);
    const clean = await tableContents(cleanLake);

    // Night one, then night two's runs with the backup taken while they commit.
    const lakeDir = await tempDir('dr-lake');
    const lake = openLocalLake(lakeDir, { threads: 2 });
    await land(lakeDir, (day) => day === days[0]);
    await runJobs(lake, PIPELINE_JOBS, enable);
    await land(lakeDir, (day) => day === days[1]);
    const backupDir = path.join(await tempDir('dr-backup'), 'lake');
    const night = runJobs(lake, PIPELINE_JOBS, enable);
    await backUp(lakeDir, backupDir);
    await night;

    // The disaster: the lake folder is gone. The backup is restored in its place.
    await rm(lakeDir, { recursive: true, force: true });
    await cp(backupDir, lakeDir, { recursive: true, preserveTimestamps: true });
    const restored = openLocalLake(lakeDir, { threads: 2 });
    // Runs that were going when the backup was taken hold their locks in it: nothing runs now, so they are released.
    for (const job of PIPELINE_JOBS) await releaseJobLock(restored.state, job.name, { force: true, by: 'disaster-recovery' });
    const report = await reconcileLake(restored);
    expect(report.differences).toEqual([]);
    expect(report.checks.every((check) => check.balanced)).toBe(true);

    // Run on: what landed since the backup (and what the backup caught half-way) is read once.
    await land(lakeDir, (day) => day !== days[0]);
    await runJobs(restored, PIPELINE_JOBS, enable);
    const contents = await tableContents(restored);
    for (const [table, rows] of Object.entries(clean)) expect(contents[table], table).toEqual(rows);
    expect((await reconcileLake(restored)).differences).toEqual([]);
  }, 180_000);
});
