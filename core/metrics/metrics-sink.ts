export type MetricUnit = 'Count' | 'Milliseconds' | 'Bytes' | 'Percent' | 'None';

/** One measurement, shaped like a CloudWatch datum so the AWS sink can pass it through. */
export interface MetricDatum {
  /** e.g. `glue.driver.aggregate.recordsRead` */
  readonly name: string;
  readonly value: number;
  readonly unit: MetricUnit;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

/**
 * Where metrics go: a history file and a Prometheus text file locally, CloudWatch in AWS.
 *
 * @example
 * await sink.emit([{ name: 'glue.driver.aggregate.recordsRead', value: 10, unit: 'Count', dimensions: { JobName: 'silver.tasks' }, timestampMs: Date.now() }]);
 */
export interface MetricsSink {
  emit(datums: readonly MetricDatum[]): Promise<void>;
  /** An event such as Glue's "Glue Job State Change"; locally a line of `events.jsonl`, in AWS EventBridge. */
  emitEvent(event: object): Promise<void>;
}

/**
 * The dimension sets a datum is published under in CloudWatch: its dimensions but the run id, JobName alone
 * (alarms and dashboards select a job's metrics by JobName, and CloudWatch matches dimension sets exactly),
 * and for quality metrics JobName with Table (the landing-stale alarm watches one landing source). A run id is
 * never a dimension: each run would make new metric series, billed by the month, that no alarm reads; EMF keeps it
 * as a property of the log line (CloudWatch Logs Insights finds a run's figures by it).
 */
export function cloudWatchDimensionSets(dimensions: Readonly<Record<string, string>>): Readonly<Record<string, string>>[] {
  const { JobRunId: _runId, ...kept } = dimensions;
  const jobName = kept.JobName;
  if (jobName === undefined || Object.keys(kept).length === 1) return [kept];
  const table = kept.Table;
  // A landing source's freshness is landing-stale's alone: not summed into the quality step's job-wide metrics too
  // (quality-check-failed would page a second time, with another runbook).
  const sets: Readonly<Record<string, string>>[] = table?.startsWith('landing.') ? [kept] : [kept, { JobName: jobName }];
  if (table !== undefined && Object.keys(kept).length > 2) sets.push({ JobName: jobName, Table: table });
  return sets;
}
