/**
 * Every alarm of the pipeline, in one place: what it watches, when it fires, how bad it is, and the
 * runbook an operator opens when it does (`runbooks/<id>.md`). The CDK app (infra/) turns each entry into
 * CloudWatch alarms (one per source, job or table, as `per` says); a test checks that every alarm has its
 * runbook, that every runbook has its alarm, and that every `medallion` command a runbook names exists.
 */

export type AlarmSeverity = 'critical' | 'warning';
export type AlarmComparison =
  | 'GreaterThanThreshold'
  | 'GreaterThanOrEqualToThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';
export type AlarmStatistic = 'Sum' | 'Maximum' | 'Minimum' | 'Average';

/**
 * What one registry entry becomes in CloudWatch: `pipeline` one alarm, `source` one per source table
 * (tasks, users), `source-and-state` those plus the lake state table, `job` one per job, `landing` one
 * per landing source the quality step checks.
 */
export type AlarmScope = 'pipeline' | 'source' | 'source-and-state' | 'job' | 'landing';

export interface AlarmDefinition {
  /** Stable id: alarm names are `medallion-<env>-<id>[-<subject>]`, the runbook is `runbooks/<id>.md`. */
  readonly id: string;
  readonly title: string;
  /** One sentence: what is wrong when it fires. */
  readonly meaning: string;
  /** `critical` pages someone (data is late, wrong or lost); `warning` is for working hours. */
  readonly severity: AlarmSeverity;
  readonly per: AlarmScope;
  /** `medallion` is the namespace the jobs publish to (MEDALLION_METRICS_NAMESPACE); the rest are AWS's. */
  readonly namespace: 'medallion' | 'AWS/Firehose' | 'AWS/Kinesis' | 'AWS/DynamoDB' | 'AWS/States' | 'AWS/Events';
  /** The metric, or the metrics a math expression combines (`a + b`, `100 * a / b`). */
  readonly metric: string;
  /** Dimensions the metric is selected by (values per alarm subject). */
  readonly dimensions: readonly string[];
  readonly statistic: AlarmStatistic;
  readonly comparison: AlarmComparison;
  /**
   * The threshold, or the infra setting that holds it per environment (the number is its default).
   * `jobBaseline` means the job's baseline (jobBaselineMinutes) times `JOB_DURATION_ALARM_RATIO`.
   */
  readonly threshold: number | { readonly setting: string; readonly default: number; readonly unit: string };
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** Missing data is not a failure for any of them: no delivery or no run is what other alarms watch. */
  readonly treatMissingData: 'notBreaching';
}

/** A job's duration alarm fires when a run takes longer than this share of its baseline. */
export const JOB_DURATION_ALARM_RATIO = 1.2;

/** The quarantine-rate alarm: quarantined records above this percentage of records read in a run. */
export const QUARANTINE_RATE_ALARM_PERCENT = 5;

const base = { treatMissingData: 'notBreaching' } as const;

export const ALARMS: readonly AlarmDefinition[] = [
  {
    ...base,
    id: 'firehose-data-freshness',
    title: 'Firehose delivery falling behind',
    meaning: 'The oldest change waiting in a Firehose delivery stream is older than the configured age: landing/<source>/ is falling behind.',
    severity: 'critical', per: 'source', namespace: 'AWS/Firehose', metric: 'DeliveryToS3.DataFreshness', dimensions: ['DeliveryStreamName'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: { setting: 'firehoseFreshnessAlarmSeconds', default: 900, unit: 's' },
    periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 2,
  },
  {
    ...base,
    id: 'firehose-throttling',
    title: 'Firehose throttled reading Kinesis',
    meaning: 'A Firehose delivery stream is throttled reading its Kinesis source: landing/<source>/ may fall behind.',
    severity: 'warning', per: 'source', namespace: 'AWS/Firehose', metric: 'ThrottledGetRecords + ThrottledGetShardIterator + ThrottledDescribeStream',
    dimensions: ['DeliveryStreamName'], statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: 0, periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 2,
  },
  {
    ...base,
    id: 'kinesis-iterator-age',
    title: 'Change stream read too late',
    meaning: "The oldest unread record of a change stream is older than the configured age: changes can expire unread after the stream's retention.",
    severity: 'critical', per: 'source', namespace: 'AWS/Kinesis', metric: 'GetRecords.IteratorAgeMilliseconds', dimensions: ['StreamName'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: { setting: 'kinesisIteratorAgeAlarmMinutes', default: 60, unit: 'min' },
    periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 2,
  },
  {
    ...base,
    id: 'dynamodb-throttling',
    title: 'DynamoDB throttling',
    meaning: 'A source table, or the lake state table (bookmarks, runs, locks, commits), is throttling reads or writes.',
    severity: 'warning', per: 'source-and-state', namespace: 'AWS/DynamoDB', metric: 'ReadThrottleEvents + WriteThrottleEvents', dimensions: ['TableName'],
    statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: 0, periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 2,
  },
  {
    ...base,
    id: 'pipeline-executions-failed',
    title: 'Pipeline execution failed',
    meaning: 'A pipeline execution failed: a job failed after its retries (or the quality step failed) and later stages did not run.',
    severity: 'critical', per: 'pipeline', namespace: 'AWS/States', metric: 'ExecutionsFailed', dimensions: ['StateMachineArn'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'pipeline-executions-timed-out',
    title: 'Pipeline execution timed out',
    meaning: 'A pipeline execution ran longer than its timeout and was stopped.',
    severity: 'critical', per: 'pipeline', namespace: 'AWS/States', metric: 'ExecutionsTimedOut', dimensions: ['StateMachineArn'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'pipeline-schedule-failed',
    title: 'Nightly start failed',
    meaning: 'The nightly rule could not start the pipeline: no execution ran tonight.',
    severity: 'critical', per: 'pipeline', namespace: 'AWS/Events', metric: 'FailedInvocations', dimensions: ['RuleName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'job-duration',
    title: 'Job run slower than its baseline',
    meaning: `A job run took longer than ${Math.round(JOB_DURATION_ALARM_RATIO * 100)}% of its baseline.`,
    severity: 'warning', per: 'job', namespace: 'medallion', metric: 'glue.driver.aggregate.elapsedTime', dimensions: ['JobName'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: { setting: 'jobBaseline', default: 60 * 60_000 * JOB_DURATION_ALARM_RATIO, unit: 'ms' },
    periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'quality-gate-failed',
    title: 'A fail rule stopped a job',
    meaning: "A quality rule with action fail did not pass on a job run's output: the run committed nothing, and the tables after it are not refreshed.",
    severity: 'critical', per: 'job', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'quality-rules-warn',
    title: 'A warn rule failed',
    meaning: 'A quality rule with action warn did not pass on a job run: the run committed, and analysts may see the problem the rule describes.',
    severity: 'warning', per: 'job', namespace: 'medallion', metric: 'medallion.quality.rules.failed.warn', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'quality-anomaly',
    title: 'A metric left its usual range',
    meaning: "A DetectAnomalies rule flagged a job run: a metric (row count, say) is far from what its history predicts for that day.",
    severity: 'warning', per: 'job', namespace: 'medallion', metric: 'medallion.quality.anomalies', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'quarantine-rate',
    title: 'Too many records quarantined',
    meaning: `A job run quarantined more than ${QUARANTINE_RATE_ALARM_PERCENT}% of the records it read: a producer, a format or a rule changed.`,
    severity: 'warning', per: 'job', namespace: 'medallion', metric: '100 * medallion.job.recordsQuarantined / glue.driver.aggregate.recordsRead',
    dimensions: ['JobName'], statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: QUARANTINE_RATE_ALARM_PERCENT, periodMinutes: 60, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'catalog-publish-failed',
    title: 'Committed tables not shown in the catalog',
    meaning: "A job's commit went in, but publishing it to the Glue Data Catalog failed after retries: Athena shows the previous version of its tables.",
    severity: 'critical', per: 'job', namespace: 'medallion', metric: 'medallion.catalog.publishFailures', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'quality-check-failed',
    title: 'The quality step found a failing rule',
    meaning: "`medallion quality` (the pipeline's last step) found a rule with action fail that did not pass over a committed table.",
    severity: 'critical', per: 'pipeline', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName=quality'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'reconcile-failed',
    title: 'Records do not add up',
    meaning: "`medallion reconcile` (the pipeline's step after quality) found landing records or bronze rows that are missing, doubled or unaccounted for between landing, bronze and silver.",
    severity: 'critical', per: 'pipeline', namespace: 'medallion', metric: 'medallion.reconcile.differences', dimensions: ['JobName=reconcile'],
    statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'landing-stale',
    title: 'No new landing data',
    meaning: "No object landed under landing/<source>/ for longer than its rule set's freshness window (quality/rules/landing.<source>.dqdl).",
    severity: 'critical', per: 'landing', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName=quality', 'Table'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
];

/** The registry entry of an alarm id; a typo fails loudly. */
export function alarmDefinition(id: string): AlarmDefinition {
  const found = ALARMS.find((alarm) => alarm.id === id);
  if (!found) throw new Error(`no alarm ${id} in the registry (core/alarms.ts); alarms: ${ALARMS.map((alarm) => alarm.id).join(', ')}`);
  return found;
}

/** The runbook's path inside the repository. */
export function runbookPath(id: string): string {
  return `runbooks/${alarmDefinition(id).id}.md`;
}

/**
 * Runbook pages for a situation rather than an alarm: an error a run or a query reports, a recovery. They live
 * next to the alarms' pages in runbooks/ and are listed under "Procedures" in runbooks/README.md.
 */
export const RUNBOOK_PROCEDURES = ['lost-or-corrupt-file', 'disaster-recovery'] as const;
