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
 * The dimension sets a datum is published under in CloudWatch: all of its dimensions, JobName alone
 * (alarms and dashboards select a job's metrics by JobName, and CloudWatch matches dimension sets exactly),
 * and for quality metrics JobName with Table (the landing-stale alarm watches one landing source).
 */
export function cloudWatchDimensionSets(dimensions: Readonly<Record<string, string>>): Readonly<Record<string, string>>[] {
  const jobName = dimensions.JobName;
  if (jobName === undefined || Object.keys(dimensions).length === 1) return [dimensions];
  const table = dimensions.Table;
  // A landing source's freshness is landing-stale's alone: not summed into the quality step's job-wide metrics too
  // (quality-check-failed would page a second time, with another runbook).
  const sets: Readonly<Record<string, string>>[] = table?.startsWith('landing.') ? [dimensions] : [dimensions, { JobName: jobName }];
  if (table !== undefined && Object.keys(dimensions).length > 2) sets.push({ JobName: jobName, Table: table });
  return sets;
}
