import pRetry from 'p-retry';
import { describeError } from '../errors.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot } from '../state/index.ts';
import { isTransientError } from './transient-errors.ts';
import { CATALOG_PUBLISH_RECORD } from '../state/state-keys.ts';
export { CATALOG_PUBLISH_RECORD };

/** How the catalog publish after a commit went; recorded in the state store (see CATALOG_PUBLISH_RECORD). */
export interface CatalogPublishOutcome {
  readonly ok: boolean;
  /** The root published (a publish shows that root or a newer one). */
  readonly rootSeq: number;
  /** The tables it was to bring up to date; every table when empty. */
  readonly tables: readonly string[];
  /** Jobs whose commits it published. */
  readonly jobs: readonly string[];
  readonly attempts: number;
  readonly at: string;
  readonly error?: string;
}


/** The metric a failed publish emits, per job whose tables it left unpublished (the catalog-publish-failed alarm). */
export const CATALOG_PUBLISH_FAILURES_METRIC = 'medallion.catalog.publishFailures';

export interface PublishCommittedOptions {
  /** The jobs whose commits these are: the metric and the record name them. */
  readonly jobs: readonly string[];
  /**
   * Publish the tables every job appends to only for these jobs' partitions (PublishOptions.jobs): what a job's
   * role may write. Absent (a restore, with an operator's rights): every partition.
   */
  readonly ownPartitionsOf?: readonly string[];
  readonly now?: () => Date;
  /** Retries of a publish that failed for a transient reason (throttling, a dropped connection); default 3. */
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
}

/**
 * Shows committed tables in the catalog after their commit. The commit already stands, so this never
 * throws: a transient failure is retried with backoff, and one that persists is recorded in the state
 * store and emits `medallion.catalog.publishFailures` 1 for each job (an alarm; 0 after a publish that went in), while the run still
 * succeeds. Athena then shows the previous version of those tables until a publish succeeds: the next
 * run's, or `medallion catalog publish`.
 */
export async function publishCommitted(lake: Lake, root: LakeRoot, tables: readonly string[], options: PublishCommittedOptions): Promise<CatalogPublishOutcome> {
  const now = options.now ?? (() => new Date());
  let attempts = 0;
  let outcome: CatalogPublishOutcome;
  try {
    await pRetry(
      async () => {
        attempts += 1;
        await lake.catalog.publish(root, { tables, ...(options.ownPartitionsOf ? { jobs: options.ownPartitionsOf } : {}) });
      },
      { retries: options.retries ?? 3, minTimeout: options.retryBaseDelayMs ?? 1000, factor: 2, randomize: true, shouldRetry: ({ error }) => isTransientError(error) },
    );
    outcome = { ok: true, rootSeq: root.seq, tables, jobs: options.jobs, attempts, at: now().toISOString() };
  } catch (error) {
    outcome = { ok: false, rootSeq: root.seq, tables, jobs: options.jobs, attempts, at: now().toISOString(), error: describeError(error) };
  }
  // 1 for each job whose publish failed, 0 once one succeeds (a self-hosted alert on the textfile's gauge clears then).
  const at = now().getTime();
  await lake.metrics
    .emit(options.jobs.map((job) => ({ name: CATALOG_PUBLISH_FAILURES_METRIC, value: outcome.ok ? 0 : 1, unit: 'Count' as const, dimensions: { JobName: job, Type: 'count' }, timestampMs: at })))
    .catch(() => undefined);
  // Losing this record loses only what `catalog status` shows; the metric and the run's output carry the failure too.
  await lake.state.putRecord(CATALOG_PUBLISH_RECORD.collection, CATALOG_PUBLISH_RECORD.id, outcome).catch(() => undefined);
  return outcome;
}
