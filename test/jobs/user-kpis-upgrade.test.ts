import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { LocalStorage, type ObjectInfo } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { userKpisJob, userKpisTable } from '../../jobs/gold/user-kpis.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { queryLake, tableContents } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();
const ADDITIVE = ['tasks_timed', 'microseconds_to_complete'];

/** gold.user_kpis as the release before the additive columns wrote it. */
const olderTable = defineTable({ ...userKpisTable, columns: userKpisTable.columns.filter((column) => !ADDITIVE.includes(column.name)) });
const olderJob = defineJob({
  ...userKpisJob,
  outputs: [olderTable],
  incremental: false,
  transform: (context) => {
    const plan = userKpisJob.transform({ ...context, mode: 'full' });
    return { outputs: { 'gold.user_kpis': `SELECT * EXCLUDE (${ADDITIVE.join(', ')}) FROM (${plan.outputs['gold.user_kpis'] as string})` } };
  },
});

describe('gold.user_kpis committed by the release before its additive columns', () => {
  it('is recomputed in full by the next bookmarked run, and then equals a full run', async () => {
    const source = await tempDir('source');
    await generateLanding(new LocalStorage(source), { seed: 4, days: 2, users: 20, tasksPerDay: 30 });
    const objects: ObjectInfo[] = await collect(new LocalStorage(source).list('landing/'));
    const full = openLocalLake(source, { threads: 2 });
    await runJobs(full, PIPELINE_JOBS);

    const dir = await tempDir('upgraded');
    const lake = openLocalLake(dir, { threads: 2 });
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    const land = async (batch: readonly ObjectInfo[]) => {
      for (const object of batch) await lake.storage.put(object.key, await readFile(new LocalStorage(source).pathOf(object.key)));
    };
    // Every other object first (both sources), the rest after.
    await land(objects.filter((_, index) => index % 2 === 0));
    await runJobs(lake, [...PIPELINE_JOBS.filter((job) => job.name !== 'gold.user_kpis'), olderJob], enable);
    const older = await queryLake(lake, 'SELECT * FROM gold.user_kpis');
    expect(older.length).toBeGreaterThan(0);
    expect(Object.keys(older[0] ?? {})).not.toContain('tasks_timed');

    await land(objects.filter((_, index) => index % 2 === 1));
    const results = await runJobs(lake, PIPELINE_JOBS, enable);
    // Recomputed from all events: it read every task event, not only the new ones.
    const [events] = await queryLake(lake, 'SELECT count(*) AS n FROM silver.task_events');
    expect(results.find((result) => result.job === 'gold.user_kpis')?.recordsRead).toBeGreaterThanOrEqual(Number(events?.n));
    const tables = await tableContents(lake);
    const expected = await tableContents(full);
    expect(tables['gold.user_kpis']).toEqual(expected['gold.user_kpis']);
  });
});
