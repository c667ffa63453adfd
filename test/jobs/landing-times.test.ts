import { utimes } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { queryLake } from '../support/pipeline-check.ts';
import { generateLanding } from '../../simulator/index.ts';

const tempDir = useTempDirs();
const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
const bronze = PIPELINE_JOBS.filter((job) => job.name === 'bronze.tasks_cdc');

describe('landing objects with a modified time in the future', () => {
  it('are read once and flagged, and never hide the objects that land after them', async () => {
    const dir = await tempDir('landing-times');
    const lake = openLocalLake(dir, { threads: 2 });
    const storage = new LocalStorage(dir);
    await generateLanding(lake.storage, { seed: 9, days: 2, users: 6, tasksPerDay: 10 });
    const keys = (await collect(lake.storage.list('landing/tasks/'))).map((object) => object.key).sort();
    const [touched, ...rest] = keys;
    const later = rest.splice(-2);
    // One object's modified time set to 2100 (a wrong clock, a `touch`); two others land only later.
    const held = await Promise.all(later.map(async (key) => ({ key, body: await lake.storage.get(key) })));
    await lake.storage.delete(later);
    const year2100 = new Date(Date.UTC(2100, 0, 1));
    await utimes(storage.pathOf(touched!), year2100, year2100);

    const [first] = await runJobs(lake, bronze, enable);
    expect(first?.warnings).toEqual([expect.stringMatching(new RegExp(`landing object ${touched} was modified in the future \\(2100-01-01T00:00:00\\.000Z\\): read once`))]);
    const [again] = await runJobs(lake, bronze, enable);
    expect(again?.nothingNew).toBe(true);

    for (const object of held) await lake.storage.put(object.key, object.body);
    const [third] = await runJobs(lake, bronze, enable);
    expect(third?.nothingNew).toBe(false);
    const objects = await queryLake(lake, 'SELECT source_object, count(*) AS n FROM bronze.tasks_cdc GROUP BY ALL');
    expect(objects.map((row) => row.source_object).sort()).toEqual(keys);
    // Each object once: as many rows as a run over all of them would read.
    const fresh = openLocalLake(await tempDir('landing-times-fresh'), { threads: 2 });
    await generateLanding(fresh.storage, { seed: 9, days: 2, users: 6, tasksPerDay: 10 });
    const [all] = await runJobs(fresh, bronze);
    const [total] = await queryLake(lake, 'SELECT count(*) AS n FROM bronze.tasks_cdc');
    expect(Number(total?.n)).toBe(all?.recordsWritten['bronze.tasks_cdc']);
  });
});
