import type { InfraConfig } from './config.ts';

/**
 * Every pipeline alarm kind, each with its runbook at `docs/runbooks/<id>.md`. Several alarms can
 * share a kind (one freshness alarm per delivery stream); the runbook covers them all.
 */
export const PIPELINE_ALARM_IDS = [
  'firehose-data-freshness',
  'firehose-throttling',
  'kinesis-iterator-age',
  'dynamodb-throttling',
  'pipeline-executions-failed',
  'pipeline-executions-timed-out',
  'pipeline-schedule-failed',
  'job-duration',
] as const;
export type PipelineAlarmId = (typeof PIPELINE_ALARM_IDS)[number];

/** The runbook's path inside the repository. */
export const runbookPath = (alarmId: PipelineAlarmId): string => `docs/runbooks/${alarmId}.md`;

/**
 * The runbook's web address, as alarm descriptions and failure messages carry it.
 *
 * @example
 * runbookUrl(config, 'job-duration'); // 'https://github.com/your-org/medallion/blob/main/docs/runbooks/job-duration.md'
 */
export const runbookUrl = (config: InfraConfig, alarmId: PipelineAlarmId): string => `${config.runbookBaseUrl}/${runbookPath(alarmId)}`;
