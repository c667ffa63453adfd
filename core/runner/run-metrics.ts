import type { MetricDatum } from '../metrics/index.ts';
import { runDurationMs, type JobRunRecord, type JobRunState } from './job-run-record.ts';
import type { JobRunResult } from './run-result.ts';

/**
 * Glue's job metric names, plus the record accounting Glue does not have: what a successful run did. The
 * quarantine counts only for a job that can quarantine (`quarantines`, see jobReach): a series that is always 0
 * would carry an alarm that can never fire.
 */
export function runMetrics(result: JobRunResult, timestampMs: number, options: { readonly quarantines?: boolean } = {}): MetricDatum[] {
  const quarantines = options.quarantines ?? true;
  const dimensions = { JobName: result.job, JobRunId: result.runId, Type: 'count' };
  const gauge = { JobName: result.job, JobRunId: result.runId, Type: 'gauge' };
  const written = Object.values(result.recordsWritten).reduce((sum, value) => sum + value, 0);
  return [
    { name: 'glue.driver.aggregate.recordsRead', value: result.recordsRead, unit: 'Count', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.bytesRead', value: result.bytesRead, unit: 'Bytes', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.elapsedTime', value: result.elapsedMs, unit: 'Milliseconds', dimensions: gauge, timestampMs },
    { name: 'medallion.job.recordsWritten', value: written, unit: 'Count', dimensions, timestampMs },
    ...(quarantines ? [{ name: 'medallion.job.recordsQuarantined', value: result.recordsQuarantined, unit: 'Count', dimensions, timestampMs } as const] : []),
    { name: 'medallion.job.recordsDuplicated', value: result.recordsDuplicated, unit: 'Count', dimensions, timestampMs },
    ...Object.entries(quarantines ? result.recordsQuarantinedByReason ?? {} : {}).map(([reason, value]): MetricDatum => ({
      name: 'medallion.job.recordsQuarantinedByReason', value, unit: 'Count', dimensions: { JobName: result.job, Reason: reason }, timestampMs,
    })),
  ];
}

/** The final states a run of the runner ends in (STOPPED: on a SIGINT or SIGTERM, before its commit). */
const RUN_END_STATES: readonly JobRunState[] = ['SUCCEEDED', 'FAILED', 'TIMEOUT', 'ERROR', 'STOPPED'];

/** The states a run ends in that count as a failure of the job. */
export const FAILED_STATES: ReadonlySet<JobRunState> = new Set(['FAILED', 'TIMEOUT', 'ERROR']);

/** The metric a pipeline run in which every job succeeded ends with: Unix seconds of its end. */
export const PIPELINE_LAST_SUCCESS_METRIC = 'medallion.pipeline.lastSuccess';

/** `medallion.pipeline.lastSuccess` at `at`: what `run --all` emits when every job succeeded (the no-success alert reads it). */
export function pipelineSuccessMetric(at: Date): MetricDatum {
  return { name: PIPELINE_LAST_SUCCESS_METRIC, value: Math.floor(at.getTime() / 1000), unit: 'None', dimensions: { JobName: 'pipeline' }, timestampMs: at.getTime() };
}

/** A run's duration against its job's baseline (see jobDurationBaseline). */
export interface DurationAgainstBaseline {
  readonly baselineMs: number;
  /** `learned` from the job's recent successful runs, or the `configured` fallback while there are too few. */
  readonly source: 'learned' | 'configured';
  /** The run's duration divided by the baseline (at least DURATION_RATIO_FLOOR_MS): the job-duration alarm fires above JOB_DURATION_ALARM_RATIO. */
  readonly ratio: number;
}

/**
 * What every run emits when it ends, whatever its state (SUCCEEDED, FAILED, TIMEOUT, ERROR, STOPPED), so alarms and
 * dashboards count failures, retries and success rate and see the time of runs that failed:
 * - `medallion.job.runs` 1 by JobName and State, and `medallion.job.failed` 1 for FAILED, TIMEOUT and ERROR;
 * - `medallion.job.retries` 1 when the run was a retry of a failed attempt;
 * - `medallion.job.elapsedTime` (ms) by JobName and State;
 * - for a success, `medallion.job.lastSuccess` (Unix seconds of its end) and, once the job has a baseline,
 *   `medallion.job.durationRatio` and `medallion.job.durationBaseline` (ms).
 */
export function terminalRunMetrics(record: JobRunRecord, duration?: DurationAgainstBaseline): MetricDatum[] {
  const endMs = Date.parse(record.CompletedOn ?? record.LastModifiedOn);
  const elapsedMs = Math.max(0, endMs - Date.parse(record.StartedOn) - (record.WaitTimeMs ?? 0));
  const job = { JobName: record.JobName };
  const byState = { JobName: record.JobName, State: record.JobRunState };
  const datums: MetricDatum[] = [
    // Every final state's series, 0 but the run's own: a first failure is then an increase Prometheus can see.
    ...RUN_END_STATES.map((state): MetricDatum => ({ name: 'medallion.job.runs', value: state === record.JobRunState ? 1 : 0, unit: 'Count', dimensions: { JobName: record.JobName, State: state }, timestampMs: endMs })),
    { name: 'medallion.job.failed', value: FAILED_STATES.has(record.JobRunState) ? 1 : 0, unit: 'Count', dimensions: job, timestampMs: endMs },
    { name: 'medallion.job.retries', value: record.Attempt > 0 ? 1 : 0, unit: 'Count', dimensions: job, timestampMs: endMs },
    { name: 'medallion.job.elapsedTime', value: elapsedMs, unit: 'Milliseconds', dimensions: byState, timestampMs: endMs },
  ];
  if (record.JobRunState === 'SUCCEEDED') {
    datums.push({ name: 'medallion.job.lastSuccess', value: Math.floor(endMs / 1000), unit: 'None', dimensions: job, timestampMs: endMs });
    if (duration) {
      datums.push(
        { name: 'medallion.job.durationRatio', value: Number(duration.ratio.toFixed(4)), unit: 'None', dimensions: job, timestampMs: endMs },
        { name: 'medallion.job.durationBaseline', value: Math.round(duration.baselineMs), unit: 'Milliseconds', dimensions: job, timestampMs: endMs },
      );
    }
  }
  return datums;
}

/** How many of a job's latest successful runs its learned baseline is the median of. */
export const BASELINE_RUNS = 14;
/** Fewer successful runs than this, and the configured baseline stands in. */
export const BASELINE_MIN_RUNS = 5;
/** The configured baseline when none is given (`--duration-baseline-minutes`). */
export const DEFAULT_DURATION_BASELINE_MINUTES = 60;

/**
 * A run's duration is held to its baseline or this, whichever is longer: a 12 s job that took 15 s is not slow in
 * any way an operator must hear about.
 */
export const DURATION_RATIO_FLOOR_MS = 5 * 60_000;

/** Arguments that make a run unlike a scheduled one: it reads more than a night's worth, so it teaches no baseline. */
const UNUSUAL_RUN_ARGUMENTS = ['full-refresh', 'replay-quarantine', 'replay-range'];

/** Whether a run was a full refresh or a replay (see UNUSUAL_RUN_ARGUMENTS). */
export function isUnusualRun(record: Pick<JobRunRecord, 'Arguments'>): boolean {
  return UNUSUAL_RUN_ARGUMENTS.some((name) => record.Arguments[name] !== undefined);
}

/** The ratio the job-duration alarm watches: the run's time over its baseline, or over DURATION_RATIO_FLOOR_MS if longer. */
export function durationRatio(elapsedMs: number, baselineMs: number): number {
  return elapsedMs / Math.max(baselineMs, DURATION_RATIO_FLOOR_MS);
}

/**
 * A job's duration baseline: the median duration of its last BASELINE_RUNS successful runs (ending before
 * `before`), once it has BASELINE_MIN_RUNS of them; until then the configured minutes. The same for the alarm
 * (through `medallion.job.durationRatio`), `medallion status` and the report.
 */
export function jobDurationBaseline(records: readonly JobRunRecord[], options: { readonly configuredMinutes?: number; readonly before?: string; readonly excludeRunId?: string } = {}): { baselineMs: number; source: 'learned' | 'configured'; runs: number } {
  const before = options.before === undefined ? Number.POSITIVE_INFINITY : Date.parse(options.before);
  const durations = records
    .filter((record) => record.JobRunState === 'SUCCEEDED' && record.CompletedOn !== undefined && record.Id !== options.excludeRunId && Date.parse(record.CompletedOn) <= before && !isUnusualRun(record))
    .sort((a, b) => Date.parse(b.CompletedOn!) - Date.parse(a.CompletedOn!))
    .slice(0, BASELINE_RUNS)
    .map((record) => runDurationMs(record as JobRunRecord & { CompletedOn: string }))
    .sort((a, b) => a - b);
  if (durations.length < BASELINE_MIN_RUNS) {
    return { baselineMs: (options.configuredMinutes ?? DEFAULT_DURATION_BASELINE_MINUTES) * 60_000, source: 'configured', runs: durations.length };
  }
  const middle = Math.floor(durations.length / 2);
  const median = durations.length % 2 === 1 ? durations[middle]! : (durations[middle - 1]! + durations[middle]!) / 2;
  // A baseline of 0 ms (runs faster than the clock) would make every ratio infinite.
  return { baselineMs: Math.max(median, 1), source: 'learned', runs: durations.length };
}
