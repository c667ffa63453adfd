import { jobRuleSets, type JobFootprint } from './layout/index.ts';
import type { TableRuleSet } from './quality/index.ts';

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
 * per landing source the quality step checks, `fresh-table` one per table whose rule set has a DataFreshness
 * rule (gold and silver current-state tables; landing sources have `landing`).
 */
export type AlarmScope = 'pipeline' | 'source' | 'source-and-state' | 'job' | 'landing' | 'fresh-table';

/**
 * When a `job` alarm is built for a job: only for jobs that can emit its metric with the shipped rule sets
 * (an alarm that can never fire is noise that looks like cover). `always` for every job.
 */
export type AlarmReach = 'always' | 'fail-rules' | 'warn-rules' | 'anomaly-rules' | 'quarantines';

export interface AlarmDefinition {
  /** Stable id: alarm names are `medallion-<env>-<id>[-<subject>]`, the runbook is `runbooks/<id>.md`. */
  readonly id: string;
  readonly title: string;
  /** One sentence: what is wrong when it fires. */
  readonly meaning: string;
  /** `critical` pages someone (data is late, wrong or lost); `warning` is for working hours. */
  readonly severity: AlarmSeverity;
  readonly per: AlarmScope;
  /** For `job` alarms: which jobs can emit the metric (default `always`). */
  readonly reach?: AlarmReach;
  /**
   * `medallion` is the namespace the jobs publish to (MEDALLION_METRICS_NAMESPACE); `medallion-logs` the jobs'
   * log metric filter publishes to (in the same namespace); the rest are AWS's.
   */
  readonly namespace: 'medallion' | 'medallion-logs' | 'AWS/Firehose' | 'AWS/Kinesis' | 'AWS/DynamoDB' | 'AWS/States' | 'AWS/Events';
  /** The metric, or the metrics a math expression combines (`a + b`, `100 * a / b`). */
  readonly metric: string;
  /**
   * Dimensions the metric is selected by (values per alarm subject); `Name=value` fixes a value, `Name=*` takes
   * the metric whatever that dimension's value (a Metrics Insights query: the value is AWS's to choose).
   */
  readonly dimensions: readonly string[];
  readonly statistic: AlarmStatistic;
  readonly comparison: AlarmComparison;
  /**
   * The threshold, or the infra setting that holds it per environment (the number is its default).
   */
  readonly threshold: number | { readonly setting: string; readonly default: number; readonly unit: string };
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /**
   * `notBreaching` for a metric emitted only when something happened (a run, a delivery); `breaching` for a
   * metric whose absence is the failure (no successful execution, no fresh table): those fire when nothing comes.
   */
  readonly treatMissingData: 'notBreaching' | 'breaching';
  /**
   * The same alarm for self-hosted runs, as a Prometheus alerting expression over the textfile's metrics (the
   * generated rules, monitoring/prometheus/): absent for AWS's own metrics, which self-hosted runs do not have.
   */
  readonly prometheus?: string;
}

/** A job's duration alarm fires when a run takes longer than this share of its baseline (see jobDurationBaseline). */
export const JOB_DURATION_ALARM_RATIO = 1.2;

/** Hours without a successful pipeline execution before `pipeline-no-success` fires: a nightly run and two hours' slack. */
export const NO_SUCCESS_ALARM_HOURS = 26;

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
    id: 'dynamodb-replication-lag',
    title: 'Changes not reaching the change stream',
    meaning: "A source table's oldest change not yet replicated to its Kinesis stream is older than 10 minutes: landing/<source>/ falls behind, and changes wait in DynamoDB (kept 24 h).",
    severity: 'critical', per: 'source', namespace: 'AWS/DynamoDB', metric: 'AgeOfOldestUnreplicatedRecord', dimensions: ['TableName', 'DelegatedOperation=*'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: 600_000, periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 3,
  },
  {
    ...base,
    id: 'dynamodb-replication-failed',
    title: 'Changes DynamoDB could not replicate',
    meaning: 'DynamoDB failed to replicate changes of a source table to its Kinesis stream (a change record over the 1 MB Kinesis limit, or a stream policy that refuses DynamoDB): those changes never land.',
    severity: 'critical', per: 'source', namespace: 'AWS/DynamoDB', metric: 'FailedToReplicateRecordCount', dimensions: ['TableName', 'DelegatedOperation=*'],
    statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: 0, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    ...base,
    id: 'kinesis-write-throttling',
    title: 'Change stream refusing writes',
    meaning: "A source table's Kinesis stream throttles writes (DynamoDB's replication, or any producer): replication slows, and landing/<source>/ may fall behind.",
    severity: 'warning', per: 'source', namespace: 'AWS/Kinesis', metric: 'WriteProvisionedThroughputExceeded', dimensions: ['StreamName'],
    statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: 0, periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 2,
  },
  {
    ...base,
    id: 'dynamodb-replication-throttled',
    title: 'Replication throttled by the change stream',
    meaning: "DynamoDB's replication of a source table to its Kinesis stream is throttled for lack of stream capacity: the stream needs more shards, or on-demand mode.",
    severity: 'warning', per: 'source', namespace: 'AWS/DynamoDB', metric: 'ThrottledPutRecordCount', dimensions: ['TableName', 'DelegatedOperation=*'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: 0, periodMinutes: 5, evaluationPeriods: 3, datapointsToAlarm: 3,
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
    id: 'pipeline-no-success',
    title: 'No successful pipeline run',
    meaning: `No pipeline execution succeeded in the last ${NO_SUCCESS_ALARM_HOURS} hours: the schedule is off, the pipeline did not start, or every run failed. The tables are a day old or older.`,
    severity: 'critical', per: 'pipeline', namespace: 'AWS/States', metric: 'ExecutionsSucceeded', dimensions: ['StateMachineArn'],
    statistic: 'Sum', comparison: 'LessThanThreshold', threshold: 1, periodMinutes: 60, evaluationPeriods: NO_SUCCESS_ALARM_HOURS, datapointsToAlarm: NO_SUCCESS_ALARM_HOURS,
    treatMissingData: 'breaching',
    prometheus: `time() - medallion_pipeline_last_success_timestamp_seconds > ${NO_SUCCESS_ALARM_HOURS} * 3600 or absent(medallion_pipeline_last_success_timestamp_seconds)`,
  },
  {
    ...base,
    id: 'job-failed',
    title: 'A job run failed',
    meaning: 'A job run ended FAILED, TIMEOUT or ERROR (its process died): it committed nothing. A retry may follow; the pipeline alarms say whether the night failed.',
    severity: 'warning', per: 'job', namespace: 'medallion', metric: 'medallion.job.failed', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'medallion_job_last_run_failed == 1',
  },
  {
    ...base,
    id: 'job-duration',
    title: 'Job run slower than its baseline',
    meaning: `A job run took longer than ${Math.round(JOB_DURATION_ALARM_RATIO * 100)}% of its baseline: the median of its last 14 successful runs, or the configured baseline while it has fewer than 5.`,
    severity: 'warning', per: 'job', namespace: 'medallion', metric: 'medallion.job.durationRatio', dimensions: ['JobName'],
    statistic: 'Maximum', comparison: 'GreaterThanThreshold', threshold: JOB_DURATION_ALARM_RATIO,
    periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: `medallion_job_duration_ratio > ${JOB_DURATION_ALARM_RATIO}`,
  },
  {
    ...base,
    id: 'quality-gate-failed',
    title: 'A fail rule stopped a job',
    meaning: "A quality rule with action fail did not pass on a job run's output: the run committed nothing, and the tables after it are not refreshed.",
    severity: 'critical', per: 'job', reach: 'fail-rules', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'max by (job_name) (medallion_quality_rules_failed_fail{job_name!="quality"}) >= 1',
  },
  {
    ...base,
    id: 'quality-rules-warn',
    title: 'A warn rule failed',
    meaning: 'A quality rule with action warn did not pass on a job run: the run committed, and analysts may see the problem the rule describes.',
    severity: 'warning', per: 'job', reach: 'warn-rules', namespace: 'medallion', metric: 'medallion.quality.rules.failed.warn', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'max by (job_name) (medallion_quality_rules_failed_warn{job_name!="quality"}) >= 1',
  },
  {
    ...base,
    id: 'quality-anomaly',
    title: 'A metric left its usual range',
    meaning: "A DetectAnomalies rule flagged a job run: a metric (row count, say) is far from what its history predicts for that day.",
    severity: 'warning', per: 'job', reach: 'anomaly-rules', namespace: 'medallion', metric: 'medallion.quality.anomalies', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'max by (job_name) (medallion_quality_anomalies{job_name!="quality"}) >= 1',
  },
  {
    ...base,
    id: 'quarantine-rate',
    title: 'Too many records quarantined',
    meaning: `A job run quarantined more than ${QUARANTINE_RATE_ALARM_PERCENT}% of the records it read: a producer, a format or a rule changed.`,
    severity: 'warning', per: 'job', reach: 'quarantines', namespace: 'medallion', metric: '100 * medallion.job.recordsQuarantined / glue.driver.aggregate.recordsRead',
    dimensions: ['JobName'], statistic: 'Sum', comparison: 'GreaterThanThreshold', threshold: QUARANTINE_RATE_ALARM_PERCENT, periodMinutes: 60, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: `100 * medallion_job_records_quarantined / (glue_driver_aggregate_records_read > 0) > ${QUARANTINE_RATE_ALARM_PERCENT}`,
  },
  {
    ...base,
    id: 'catalog-publish-failed',
    title: 'Committed tables not shown in the catalog',
    meaning: "A job's commit went in, but publishing it to the Glue Data Catalog failed after retries: Athena shows the previous version of its tables.",
    severity: 'critical', per: 'job', namespace: 'medallion', metric: 'medallion.catalog.publishFailures', dimensions: ['JobName'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'medallion_catalog_publish_failures >= 1',
  },
  {
    ...base,
    id: 'quality-check-failed',
    title: 'The quality step found a failing rule',
    meaning: "`medallion quality` (the pipeline's last step) found a rule with action fail that did not pass over a committed table (a stale landing source is landing-stale's).",
    severity: 'critical', per: 'pipeline', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName=quality'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'sum(medallion_quality_rules_failed_fail{job_name="quality",table!~"landing[.].+"}) >= 1',
  },
  {
    ...base,
    id: 'reconcile-failed',
    title: 'Records do not add up',
    meaning: "`medallion reconcile` (the pipeline's step after quality) found landing records or bronze rows that are missing, doubled or unaccounted for between landing, bronze and silver.",
    severity: 'critical', per: 'pipeline', namespace: 'medallion', metric: 'medallion.reconcile.differences', dimensions: ['JobName=reconcile'],
    statistic: 'Maximum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'medallion_reconcile_differences >= 1',
  },
  {
    ...base,
    id: 'job-error-lines',
    title: 'Errors in the job logs',
    meaning: 'A job or pipeline step logged an error line (`error: <code>: ...`), whether or not its run was retried or the night failed.',
    severity: 'warning', per: 'pipeline', namespace: 'medallion-logs', metric: 'medallion.log.errorLines', dimensions: [],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
  },
  {
    id: 'table-stale',
    title: 'Table not refreshed',
    meaning: "No evaluation by the quality step in the last 26 hours found the table fresh (its DataFreshness rule, quality/rules/<table>.dqdl): the pipeline did not run, or the table's newest data is older than the rule's window.",
    severity: 'critical', per: 'fresh-table', namespace: 'medallion', metric: 'medallion.table.fresh', dimensions: ['JobName=quality', 'Table'],
    statistic: 'Maximum', comparison: 'LessThanThreshold', threshold: 1, periodMinutes: 60, evaluationPeriods: NO_SUCCESS_ALARM_HOURS, datapointsToAlarm: NO_SUCCESS_ALARM_HOURS,
    treatMissingData: 'breaching',
    prometheus: `time() - medallion_table_last_fresh_timestamp_seconds{job_name="quality",table!~"landing[.].+"} > ${NO_SUCCESS_ALARM_HOURS} * 3600`,
  },
  {
    ...base,
    id: 'landing-stale',
    title: 'No new landing data',
    meaning: "No object landed under landing/<source>/ for longer than its rule set's freshness window (quality/rules/landing.<source>.dqdl).",
    severity: 'critical', per: 'landing', namespace: 'medallion', metric: 'medallion.quality.rules.failed.fail', dimensions: ['JobName=quality', 'Table'],
    statistic: 'Sum', comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, periodMinutes: 5, evaluationPeriods: 1, datapointsToAlarm: 1,
    prometheus: 'medallion_quality_rules_failed_fail{job_name="quality",table=~"landing[.].+"} >= 1',
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

/** What decides whether a job can emit a `job` alarm's metric: whether it can quarantine, and its outputs' rules. */
export interface AlarmReachJob {
  /** Whether the job can quarantine records: it reads landing, or its outputs have quarantine rules or SQL. */
  readonly quarantines: boolean;
  readonly rules: readonly { readonly action: 'warn' | 'quarantine' | 'fail'; readonly ruleType: string }[];
}

/** Whether `definition` (a `job` alarm) can fire for a job with these rules: see AlarmReach. */
export function alarmReaches(definition: AlarmDefinition, job: AlarmReachJob): boolean {
  switch (definition.reach ?? 'always') {
    case 'always': return true;
    case 'fail-rules': return job.rules.some((rule) => rule.action === 'fail');
    case 'warn-rules': return job.rules.some((rule) => rule.action === 'warn');
    case 'anomaly-rules': return job.rules.some((rule) => rule.ruleType === 'DetectAnomalies');
    case 'quarantines': return job.quarantines;
  }
}

/**
 * A job's reach (see AlarmReach): it can quarantine when it accounts for its records (`balance`: landing read,
 * events typed) or an output has a quarantine rule; its rules are its outputs' rule sets' (the ones its gate applies).
 */
export function jobReach(job: JobFootprint & { readonly balance?: unknown }, ruleSets: readonly TableRuleSet[]): AlarmReachJob {
  const rules = jobRuleSets(job, ruleSets).flatMap((set) => set.rules.map((rule) => ({ action: rule.action, ruleType: rule.rule.kind === 'rule' ? rule.rule.type : 'composite' })));
  return { quarantines: job.balance !== undefined || rules.some((rule) => rule.action === 'quarantine'), rules };
}
