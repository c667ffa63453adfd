import { qualityMetrics, type QualityEvaluation } from '../../quality/index.ts';
import type { LakeRoot } from '../../state/index.ts';
import { commitTables } from '../../table/index.ts';
import type { FaultPoint } from '../run-options.ts';
import { describeError } from '../../errors.ts';
import { publishCommitted } from '../publish-catalog.ts';
import { jobReach } from '../../alarms.ts';
import { runMetrics } from '../run-metrics.ts';
import type { JobRunResult } from '../run-result.ts';
import type { RunWrites } from './decide-writes.ts';
import type { NextBookmark } from './next-bookmark.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';

/** Makes the run's writes and bookmark visible in one atomic swap of the lake's root. */
export async function commitRun(run: RunContext, reads: ReadPlan, planned: RunWrites, bookmark: NextBookmark): Promise<LakeRoot> {
  const { lake, job, runId, now, options } = run;
  run.checkpoint();
  const { faultPoint, fence } = options;
  const { root } = await commitTables(lake.state, {
    runId,
    job: job.name,
    basedOn: reads.basedOn,
    writes: planned.writes,
    now,
    bookmarks: bookmark.bookmarks,
    ...(fence ? { fence } : {}),
    ...(faultPoint ? { faultPoint: (point: FaultPoint) => faultPoint(point, job.name) } : {}),
  });
  run.markCommitted();
  faultPoint?.('after-commit', job.name);
  return root;
}

/**
 * Shows the committed tables in the catalog (or hands them to the caller that publishes) and emits the run's
 * metrics. The run has committed: nothing here fails it. A catalog that cannot be published is retried,
 * recorded and alarmed (publishCommitted); metrics that cannot be emitted become a warning of the run.
 */
export async function publishRun(run: RunContext, root: LakeRoot, planned: RunWrites, result: JobRunResult, evaluations: readonly QualityEvaluation[]): Promise<JobRunResult> {
  const { lake, job, runId, options, now } = run;
  const written = planned.writes.map((write) => write.spec.name);
  let published: JobRunResult = result;
  if (options.deferCatalogPublish) options.deferCatalogPublish(root, written);
  else published = { ...published, catalog: await publishCommitted(lake, root, written, { jobs: [job.name], ownPartitionsOf: [job.name], now }) };
  const at = Date.parse(result.completedAt);
  try {
    await lake.metrics.emit([
      ...runMetrics(result, at, { quarantines: jobReach(job, [...(options.quality?.values() ?? [])]).quarantines }),
      ...(evaluations.length > 0 ? qualityMetrics(evaluations, { job: job.name, runId, at }) : []),
    ]);
  } catch (error) {
    published = { ...published, warnings: [...(published.warnings ?? []), `the run's metrics could not be emitted: ${describeError(error)}`] };
  }
  return published;
}
