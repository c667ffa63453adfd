import { ALARMS, runbookPath } from '../core/alarms.ts';
import type { InfraConfig } from './config.ts';

/**
 * Every pipeline alarm kind, from the alarm registry (core/alarms.ts), each with its runbook at
 * `runbooks/<id>.md`. Several alarms can share a kind (one freshness alarm per delivery stream); the
 * runbook covers them all.
 */
export const PIPELINE_ALARM_IDS: readonly string[] = ALARMS.map((alarm) => alarm.id);

export { runbookPath };

/**
 * The runbook's web address, as alarm descriptions and failure messages carry it. An id the registry
 * does not have fails synthesis, naming the ids it has.
 *
 * @example
 * runbookUrl(config, 'job-duration'); // 'https://github.com/your-org/medallion/blob/main/runbooks/job-duration.md'
 */
export const runbookUrl = (config: InfraConfig, alarmId: string): string => `${config.runbookBaseUrl}/${runbookPath(alarmId)}`;
