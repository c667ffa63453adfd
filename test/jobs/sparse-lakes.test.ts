import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../jobs/quality.ts';
import { generateLanding } from '../../simulator/index.ts';
import { collect, useTempDirs } from '../core/test-resources.ts';
import { queryLake } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();

describe('a lake with little in it runs as `run --all` does, quality rules on', () => {
  it('users but no task events yet: every job succeeds; the KPIs that need tasks are NULL, and their rules have no rows to check', async () => {
    const lake = openLocalLake(await tempDir('sparse'), { threads: 2 });
    await generateLanding(lake.storage, { seed: 5, days: 1, users: 6, tasksPerDay: 4 });
    await lake.storage.delete((await collect(lake.storage.list('landing/tasks/'))).map((object) => object.key));
    const results = await runJobs(lake, PIPELINE_JOBS, { quality: await loadPipelineRuleSets() });
    expect(results.map((result) => result.state)).toEqual(PIPELINE_JOBS.map(() => 'SUCCEEDED'));
    const [kpis] = await queryLake(lake, 'SELECT count(*) AS users, count(completion_rate) AS rated FROM gold.user_kpis');
    expect(Number(kpis?.users)).toBeGreaterThan(0);
    expect(Number(kpis?.rated)).toBe(0);
    const checked = await queryLake(lake, `SELECT outcome, message FROM quality.results WHERE table_name = 'gold.user_kpis' AND rule LIKE '%completion_rate%'`);
    expect(checked).toEqual([{ outcome: 'PASS', message: expect.stringMatching(/^No rows to check/) }]);
  });
});
