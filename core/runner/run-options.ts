import type { Engine } from '../engine/index.ts';
import type { BookmarkOption } from '../job/index.ts';
import type { TableRuleSet } from '../quality/index.ts';
import type { LakeRoot, LockLease } from '../state/index.ts';
import type { QuarantineFilter } from './quarantine-selection.ts';

/** Where a run can be made to fail, in order (see RunOptions.faultPoint). */
export const FAULT_POINTS = ['input-read', 'outputs-staged', 'manifests-written', 'before-swap', 'after-commit'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/**
 * How one run of a job behaves. `runJob` takes all of it; `startJobRun` and `runJobs` take the fields
 * that are the same for every attempt and every job (`RunTuning`), and set the rest themselves.
 */
export interface RunOptions {
  readonly runId?: string;
  /** The job's arguments, over its defaults. */
  readonly args?: Readonly<Record<string, string>>;
  readonly now?: () => Date;
  /** Landing bytes per batch for `perRecord` jobs (default 128 MiB). */
  readonly batchBytes?: number;
  /**
   * Aborts the run (a timeout, a lost lock): the running statement is interrupted, nothing is committed
   * and staged files are removed. A run already past its commit completes.
   */
  readonly signal?: AbortSignal;
  /**
   * The lease of the job's lock as last renewed (`startJobRun` passes its heartbeat's): every commit of the
   * run goes in only while that lease still holds the lock, so a run that lost its lock to another (its
   * lease ran out while it was stopped or stalled) commits nothing. A run without a lock is not fenced.
   */
  readonly fence?: () => LockLease;
  /**
   * Glue's job bookmark option (default disable: read everything, leave the bookmark alone). `enable` reads
   * only what is new and commits the bookmark with the outputs; `pause` reads what is new since the last
   * committed bookmark (or between the bookmarks of runs `from` and `to`) and never commits it.
   */
  readonly bookmark?: {
    readonly option: BookmarkOption;
    readonly from?: string;
    readonly to?: string;
    /** Glue's Attempt and PreviousRunId, recorded in the committed bookmark. */
    readonly attempt?: number;
    readonly previousRunId?: string;
  };
  /**
   * Called at named points of the run: after the first input batch is read, after outputs are staged,
   * while publishing (manifests written), just before and just after the commit. Crash tests kill the
   * process there; nothing else should use it.
   */
  readonly faultPoint?: (point: FaultPoint, job: string) => void;
  /**
   * When given, the run does not publish its commit to the catalog: it hands the committed root and the
   * tables it wrote here, and the caller publishes them (`runJobs` publishes once, after its last job).
   */
  readonly deferCatalogPublish?: (root: LakeRoot, tables: readonly string[]) => void;
  /**
   * Quality rule sets by table (see `loadRuleSets`). The rules of each output are applied to what the run
   * writes: quarantine rules set failing rows aside, fail rules stop the commit, and every evaluation is
   * committed to quality.results (with the outputs, or alone when a fail rule stopped the run).
   */
  readonly quality?: ReadonlyMap<string, TableRuleSet>;
  /**
   * Where a run that reads only what is new since its bookmark gets its engine (default `lake.createEngine()`);
   * `runJobs` gives such runs isolates of one shared instance. A run that reads everything opens an instance
   * of its own, so the memory of a large run is all returned when it ends.
   */
  readonly incrementalEngine?: () => Promise<Engine>;
  /**
   * Waits for the turn of a run that opens an engine of its own (one that reads everything), and returns what
   * ends the turn, called once that engine is closed. `runJobs` gives one such turn at a time: an engine takes
   * every core and up to the memory limit, so two at once only contend for the cores and hold twice the memory
   * (bookmarked runs share one instance and run side by side). The wait is the run's `wait` phase; under
   * `startJobRun` the run is WAITING meanwhile, and the wait counts neither toward its timeout nor its time
   * (JobRunRecord.WaitTimeMs). Default: no wait.
   */
  readonly engineTurn?: (signal?: AbortSignal) => Promise<() => void>;
  /**
   * Rebuild the job's outputs from all of their inputs, as a first run would, never reading what the job
   * committed before (its `previous` tables read as empty): the repair for a lost or damaged file of an output.
   * The bookmark option still decides whether the bookmark is committed (enable: as a first run's).
   */
  readonly fullRefresh?: boolean;
  /**
   * Re-offer the job's quarantined records the filter selects (`medallion quarantine replay`), for a `perRecord`
   * job: the run reads just those records again from their landing objects; what it accepts is added to its table
   * and leaves the quarantine, what it refuses again stays there with this run's reason. No bookmark moves.
   */
  readonly replayQuarantine?: QuarantineFilter;
  /**
   * Re-read the landing objects that arrived from `from` to `to` (UTC dates, both included; the arrival date is
   * the object's YYYY/MM/DD key folders, else its modified date) and replace what the job made of them: the
   * output's date partitions in that range and the job's quarantine rows of those objects (`medallion replay`).
   * For a `perRecord` job whose output is partitioned by its arrival date. No bookmark moves.
   */
  readonly replayRange?: { readonly from: string; readonly to: string };
}

/** The run options that hold for every attempt of a job, and every job of `runJobs`. */
export type RunTuning = Pick<RunOptions, 'now' | 'batchBytes' | 'faultPoint' | 'deferCatalogPublish' | 'quality' | 'incrementalEngine' | 'engineTurn'>;
