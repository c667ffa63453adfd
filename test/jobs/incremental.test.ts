import { readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { LocalStorage, type ObjectInfo } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();

describe('incremental runs equal one full run', () => {
  for (const seed of [2, 9]) {
    it(`gives the same tables when landing arrives in batches with late and out-of-order objects (seed ${seed})`, async () => {
      const source = await tempDir('source');
      await generateLanding(new LocalStorage(source), { seed, days: 3, users: 30, tasksPerDay: 40, faultRate: 0.03 });
      const objects: ObjectInfo[] = await collect(new LocalStorage(source).list('landing/'));

      // One full run over everything, bookmarks disabled.
      const full = openLocalLake(source, { threads: 2 });
      await runJobs(full, PIPELINE_JOBS);

      // The same objects landing in six batches, each followed by a bookmarked run. Every 7th object is held
      // back one batch and lands with a modified time older than the previous batch's (a late file inside
      // the bookmark's band), as an object whose upload finished after later ones were listed.
      const dir = await tempDir('incremental');
      const incremental = openLocalLake(dir, { threads: 2 });
      const storage = new LocalStorage(dir);
      const batches: ObjectInfo[][] = Array.from({ length: 6 }, () => []);
      objects.forEach((object, index) => {
        const batch = Math.min(5, Math.floor((index * 6) / objects.length) + (index % 7 === 0 ? 1 : 0));
        batches[batch]?.push(object);
      });
      // Batches land 10 minutes apart, so earlier ones fall out of the bookmark's 15-minute band.
      let clock = Date.now() - 3 * 3_600_000;
      const silverReads: number[] = [];
      for (const [number, batch] of batches.entries()) {
        for (const object of batch) {
          await storage.put(object.key, await readFile(new LocalStorage(source).pathOf(object.key)));
          const late = objects.indexOf(object) % 7 === 0 && number > 0;
          // A late object is older than the newest object the previous run already read (clock - 10 min).
          const modified = new Date(late ? clock - 11 * 60_000 : clock);
          await utimes(storage.pathOf(object.key), modified, modified);
        }
        // Each object's folder last changed when the batch landed, as if written then (bookmarked runs skip
        // the files of folders unchanged since below their band).
        for (const folder of new Set(batch.map((object) => path.dirname(storage.pathOf(object.key))))) {
          await utimes(folder, new Date(clock), new Date(clock));
        }
        clock += 10 * 60_000;
        const results = await runJobs(incremental, PIPELINE_JOBS, { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }) });
        silverReads.push(results.find((result) => result.job === 'silver.tasks')?.recordsRead ?? -1);
      }

      expect(await tableContents(incremental)).toEqual(await tableContents(full));
      // Silver really read only what bronze gained in most batches (a batch whose late copy sorts before an
      // earlier one is recomputed in full, which reads all of bronze).
      const [bronzeRows] = await queryLake(incremental, 'SELECT count(*) AS n FROM bronze.tasks_cdc');
      expect(silverReads.slice(1).filter((read) => read < Number(bronzeRows?.n) / 2).length).toBeGreaterThan(0);
      // Nothing was read twice: each landing record went to bronze or quarantine exactly once.
      const [counts] = await queryLake(incremental, `
        SELECT (SELECT count(*) FROM bronze.tasks_cdc) + (SELECT count(*) FROM quarantine.records WHERE job = 'bronze.tasks_cdc') AS tasks_records`);
      const [fullCounts] = await queryLake(full, `
        SELECT (SELECT count(*) FROM bronze.tasks_cdc) + (SELECT count(*) FROM quarantine.records WHERE job = 'bronze.tasks_cdc') AS tasks_records`);
      expect(counts).toEqual(fullCounts);
    });
  }

  it('commits no new table versions when a bookmarked run finds nothing new', async () => {
    const dir = await tempDir('idle');
    const lake = openLocalLake(dir, { threads: 2 });
    await generateLanding(lake.storage, { seed: 1, days: 1, users: 10, tasksPerDay: 20 });
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    await runJobs(lake, PIPELINE_JOBS, enable);
    const before = await lake.state.readRoot();
    const results = await runJobs(lake, PIPELINE_JOBS, enable);
    expect(results.every((result) => result.nothingNew)).toBe(true);
    expect((await lake.state.readRoot()).seq).toBe(before.seq);
  });
});
