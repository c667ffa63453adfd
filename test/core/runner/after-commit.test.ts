import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, runJob, tableSource, type Lake, type TableName } from '../../../core/index.ts';
import type { Catalog, PublishOptions } from '../../../core/catalog/index.ts';
import { GlueCatalogError } from '../../../core/catalog/glue-catalog.ts';
import type { LakeRoot } from '../../../core/state/index.ts';
import { CATALOG_PUBLISH_FAILURES_METRIC, CATALOG_PUBLISH_RECORD, runJobs, type CatalogPublishOutcome, type JobRunRecord } from '../../../core/runner/index.ts';
import type { MetricDatum } from '../../../core/metrics/index.ts';
import { queryLake } from '../../support/pipeline-check.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** A job that counts the landing records of things/. */
function countJob(name: TableName) {
  return defineJob({
    name,
    description: 'Counts landed records.',
    sources: { things: landingSource('things') },
    outputs: [
      defineTable({
        name, description: 'How many records landed.', writeMode: 'replace_partitions', partitionBy: [],
        columns: [{ name: 'n', type: 'BIGINT', description: 'Records.' }],
      }),
    ],
    transform: ({ input }) => ({ steps: [], outputs: { [name]: `SELECT count(*)::BIGINT AS n FROM ${input('things')}` } }),
  });
}
const first = countJob('silver.thing_counts');
const second = defineJob({
  name: 'gold.thing_totals',
  description: 'Reads the counts.',
  sources: { counts: tableSource('silver.thing_counts') },
  outputs: [defineTable({ name: 'gold.thing_totals', description: 'Totals.', writeMode: 'replace_partitions', partitionBy: [], columns: [{ name: 'n', type: 'BIGINT', description: 'Records.' }] })],
  transform: ({ input }) => ({ steps: [], outputs: { 'gold.thing_totals': `SELECT sum(n)::BIGINT AS n FROM ${input('counts')}` } }),
});

/** A catalog that fails its first `failures` publishes with `error`, then publishes as the lake's own would. */
function failingCatalog(inner: Catalog, failures: number, error: () => Error): Catalog & { calls: LakeRoot[] } {
  const calls: LakeRoot[] = [];
  return {
    calls,
    async publish(root: LakeRoot, options?: PublishOptions) {
      calls.push(root);
      if (calls.length <= failures) throw error();
      await inner.publish(root, options);
    },
  };
}

async function lakeWith(catalogFailures: number, error: () => Error, metrics?: (datums: readonly MetricDatum[]) => Promise<void>) {
  const dir = await tempDir('after-commit');
  await mkdir(path.join(dir, 'landing/things/2025/11/01/00'), { recursive: true });
  await writeFile(path.join(dir, 'landing/things/2025/11/01/00/things-1'), '{"n":1}\n{"n":2}\n');
  const base = openLocalLake(dir);
  const emitted: MetricDatum[] = [];
  const catalog = failingCatalog(base.catalog, catalogFailures, error);
  const lake: Lake = {
    ...base,
    catalog,
    metrics: {
      emit: async (datums) => {
        if (metrics) await metrics(datums);
        emitted.push(...datums);
        await base.metrics.emit(datums);
      },
      emitEvent: (event) => base.metrics.emitEvent(event),
    },
  };
  return { dir, lake, catalog, emitted };
}

const denied = () => new GlueCatalogError('silver.thing_counts', 'AccessDeniedException: not authorized to perform glue:UpdateTable');

describe('what happens after a commit never fails the run', () => {
  it('a catalog publish that fails: the run succeeds, its commit is visible, the failure is recorded and emits a metric', async () => {
    const { lake, emitted } = await lakeWith(Infinity, denied);
    const result = await runJob(lake, first);
    expect(result.state).toBe('SUCCEEDED');
    expect(result.catalog).toMatchObject({ ok: false, tables: ['silver.thing_counts', 'quarantine.records'], jobs: ['silver.thing_counts'], attempts: 1 });
    expect(result.catalog?.error).toContain('AccessDenied');
    expect(await queryLake(lake, 'SELECT n FROM silver.thing_counts')).toEqual([{ n: 2 }]);
    expect(await lake.state.getRecord<CatalogPublishOutcome>(CATALOG_PUBLISH_RECORD.collection, CATALOG_PUBLISH_RECORD.id)).toMatchObject({ ok: false, rootSeq: result.commitSeq });
    expect(emitted.filter((datum) => datum.name === CATALOG_PUBLISH_FAILURES_METRIC)).toMatchObject([{ value: 1, dimensions: { JobName: 'silver.thing_counts' } }]);
  });

  it('runJobs: downstream jobs run, the run records say SUCCEEDED, and a transient failure is retried', async () => {
    const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const { lake, catalog } = await lakeWith(2, throttled);
    const outcomes: CatalogPublishOutcome[] = [];
    const results = await runJobs(lake, [first, second], { retryBaseDelayMs: 1, onCatalogPublish: (outcome) => outcomes.push(outcome) });
    expect(results.map((result) => result.job)).toEqual(['silver.thing_counts', 'gold.thing_totals']);
    expect(outcomes).toMatchObject([{ ok: true, attempts: 3, tables: ['silver.thing_counts', 'quarantine.records', 'gold.thing_totals'] }]);
    expect(catalog.calls).toHaveLength(3);
  });

  it('runJobs with a publish that keeps failing: every job succeeds; the next run, with nothing new, publishes what failed', async () => {
    const { lake, catalog } = await lakeWith(1, denied);
    const outcomes: CatalogPublishOutcome[] = [];
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }), onCatalogPublish: (outcome: CatalogPublishOutcome) => outcomes.push(outcome) };
    await runJobs(lake, [first, second], enable);
    for (const job of [first, second]) {
      const runs = await lake.state.listRecords<JobRunRecord>(`runs/${job.name}`);
      expect(runs.map((run) => run.JobRunState)).toEqual(['SUCCEEDED']);
    }
    expect(outcomes[0]).toMatchObject({ ok: false, jobs: ['silver.thing_counts', 'gold.thing_totals'] });
    const again = await runJobs(lake, [first, second], enable);
    expect(again.every((result) => result.nothingNew)).toBe(true);
    expect(outcomes[1]).toMatchObject({ ok: true, tables: ['silver.thing_counts', 'gold.thing_totals', 'quarantine.records'] });
    expect(catalog.calls.at(-1)?.seq).toBe((await lake.state.readRoot()).seq);
  });

  it('metrics that cannot be emitted (a damaged metrics file, CloudWatch refusing): the run succeeds with a warning, and so does the job after it', async () => {
    const { lake } = await lakeWith(0, denied, async (datums) => {
      if (datums.some((datum) => datum.name.startsWith('glue.'))) throw new Error('_metrics/latest.json: Unexpected token');
    });
    const results = await runJobs(lake, [first, second]);
    expect(results.map((result) => [result.job, result.state])).toEqual([['silver.thing_counts', 'SUCCEEDED'], ['gold.thing_totals', 'SUCCEEDED']]);
    expect(results[0]?.warnings?.[0]).toMatch(/metrics could not be emitted: .*latest\.json/);
    const runs = await lake.state.listRecords<JobRunRecord>('runs/silver.thing_counts');
    expect(runs.map((run) => run.JobRunState)).toEqual(['SUCCEEDED']);
  });

  it('a job state change event that cannot be emitted does not turn a SUCCEEDED run into FAILED', async () => {
    const { lake } = await lakeWith(0, denied);
    const broken: Lake = { ...lake, metrics: { ...lake.metrics, emitEvent: async () => { throw new Error('EventBridge: AccessDenied'); } } };
    const [result] = await runJobs(broken, [first]);
    expect(result?.state).toBe('SUCCEEDED');
    const runs = await lake.state.listRecords<JobRunRecord>('runs/silver.thing_counts');
    expect(runs.map((run) => run.JobRunState)).toEqual(['SUCCEEDED']);
  });
});
