import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IRule } from 'aws-cdk-lib/aws-events';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Job } from '../../core/index.ts';
import { ConfigError, type InfraConfig } from '../config.ts';
import { type PipelineAlarmId, runbookUrl } from '../runbooks.ts';
import type { SourceName } from './source-tables.ts';

/**
 * Metric names the job runner emits (core/runner `runMetrics`), Glue's where Glue has one. The alarms
 * and widgets select them by the `JobName` dimension alone: CloudWatch only matches an exact dimension
 * set, so the EMF metrics sink (issue 8) must publish a `[JobName]` dimension set next to the full
 * `[JobName, JobRunId, Type]` one, or these alarms never see a data point.
 */
export const JOB_METRICS = {
  elapsedMs: 'glue.driver.aggregate.elapsedTime',
  recordsRead: 'glue.driver.aggregate.recordsRead',
  recordsWritten: 'medallion.job.recordsWritten',
  recordsQuarantined: 'medallion.job.recordsQuarantined',
} as const;

/** A job's duration alarm fires when a run takes longer than this share of its baseline. */
export const JOB_DURATION_ALARM_RATIO = 1.2;

/** One source table's monitored parts. */
export interface MonitoredSource {
  readonly table: ITable;
  readonly stream: IStream;
  readonly deliveryStreamName: string;
}

export interface PipelineMonitoringProps {
  readonly config: InfraConfig;
  readonly jobs: readonly Job[];
  readonly alertTopic: ITopic;
  readonly sources: Readonly<Record<SourceName, MonitoredSource>>;
  readonly stateTable: ITable;
  readonly stateMachine: IStateMachine;
  readonly schedule: IRule;
}

/** One CloudWatch alarm, with the runbook kind it belongs to and what it watches. */
export interface PipelineAlarm {
  readonly alarmId: PipelineAlarmId;
  /** What the alarm watches within its kind: a source, a table, a job; '' when there is one. */
  readonly subject: string;
  readonly alarm: Alarm;
}

interface AlarmSpec {
  readonly alarmId: PipelineAlarmId;
  readonly subject: string;
  readonly metric: IMetric;
  readonly threshold: number;
  readonly comparisonOperator?: ComparisonOperator;
  readonly evaluationPeriods?: number;
  readonly datapointsToAlarm?: number;
  /** One sentence: what is wrong when the alarm fires. */
  readonly meaning: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * The pipeline's alarms and dashboard. Every alarm publishes to the alert topic and its description
 * ends with its runbook's link (`<runbookBaseUrl>/docs/runbooks/<alarm-id>.md`):
 * - Firehose: `DeliveryToS3.DataFreshness` above the configured age, and throttled reads of its Kinesis source;
 * - Kinesis: `GetRecords.IteratorAgeMilliseconds` above the configured age;
 * - DynamoDB: read or write throttle events on the source tables and the state table;
 * - Step Functions: failed and timed-out executions, and failed starts by the nightly rule;
 * - each job: a run longer than 120% of its baseline (`jobBaselineMinutes`, else `defaultJobBaselineMinutes`).
 *
 * The quality issue's alarm registry does not exist yet; its alarms join `alarms` when it lands.
 *
 * @example
 * new PipelineMonitoring(stack, 'Monitoring', { config, jobs, alertTopic, sources, stateTable, stateMachine, schedule });
 */
export class PipelineMonitoring extends Construct {
  readonly alarms: readonly PipelineAlarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    const { config, jobs, sources } = props;
    const unknownJobs = Object.keys(config.jobBaselineMinutes).filter((name) => !jobs.some((job) => job.name === name));
    if (unknownJobs.length > 0) {
      throw new ConfigError(
        config.envName,
        `✖ jobBaselineMinutes names jobs that do not exist: ${unknownJobs.join(', ')} (jobs: ${jobs.map((job) => job.name).join(', ')})`,
      );
    }

    const alarms: PipelineAlarm[] = [];
    const addAlarm = (spec: AlarmSpec): void => {
      const name = `medallion-${config.envName}-${spec.alarmId}${spec.subject ? `-${spec.subject}` : ''}`;
      const alarm = new Alarm(this, `${spec.alarmId}${spec.subject ? `-${spec.subject}` : ''}`, {
        alarmName: name,
        alarmDescription: `${spec.meaning} Runbook: ${runbookUrl(config, spec.alarmId)}`,
        metric: spec.metric,
        threshold: spec.threshold,
        comparisonOperator: spec.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: spec.evaluationPeriods ?? 1,
        datapointsToAlarm: spec.datapointsToAlarm ?? spec.evaluationPeriods ?? 1,
        // No data means nothing happened (no delivery, no run): not a failure in itself.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new SnsAction(props.alertTopic));
      alarms.push({ alarmId: spec.alarmId, subject: spec.subject, alarm });
    };

    const firehose = (metricName: string, deliveryStreamName: string, statistic: string) =>
      new Metric({ namespace: 'AWS/Firehose', metricName, dimensionsMap: { DeliveryStreamName: deliveryStreamName }, statistic, period: FIVE_MINUTES });
    const throttles = (table: ITable, label: string) =>
      new MathExpression({
        expression: 'FILL(reads, 0) + FILL(writes, 0)',
        usingMetrics: {
          reads: table.metric('ReadThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES }),
          writes: table.metric('WriteThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES }),
        },
        label: `${label} throttle events`,
        period: FIVE_MINUTES,
      });

    for (const [source, monitored] of Object.entries(sources) as [SourceName, MonitoredSource][]) {
      addAlarm({
        alarmId: 'firehose-data-freshness',
        subject: source,
        metric: firehose('DeliveryToS3.DataFreshness', monitored.deliveryStreamName, 'Maximum'),
        threshold: config.firehoseFreshnessAlarmSeconds,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        meaning: `The oldest ${source} change waiting in its Firehose delivery stream is older than ${config.firehoseFreshnessAlarmSeconds} s: landing/${source}/ is falling behind.`,
      });
      addAlarm({
        alarmId: 'firehose-throttling',
        subject: source,
        metric: new MathExpression({
          expression: 'FILL(records, 0) + FILL(iterators, 0) + FILL(describes, 0)',
          usingMetrics: {
            records: firehose('ThrottledGetRecords', monitored.deliveryStreamName, 'Sum'),
            iterators: firehose('ThrottledGetShardIterator', monitored.deliveryStreamName, 'Sum'),
            describes: firehose('ThrottledDescribeStream', monitored.deliveryStreamName, 'Sum'),
          },
          label: `${source} Firehose throttled reads`,
          period: FIVE_MINUTES,
        }),
        threshold: 0,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        meaning: `The ${source} Firehose delivery stream is being throttled reading its Kinesis source: landing/${source}/ may fall behind.`,
      });
      addAlarm({
        alarmId: 'kinesis-iterator-age',
        subject: source,
        metric: monitored.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: FIVE_MINUTES }),
        threshold: config.kinesisIteratorAgeAlarmMinutes * 60_000,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        meaning: `The oldest unread record in the ${source} change stream is older than ${config.kinesisIteratorAgeAlarmMinutes} min: changes can expire unread after the stream's retention.`,
      });
      addAlarm({
        alarmId: 'dynamodb-throttling',
        subject: source,
        metric: throttles(monitored.table, source),
        threshold: 0,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        meaning: `The ${source} source table is throttling reads or writes.`,
      });
    }
    addAlarm({
      alarmId: 'dynamodb-throttling',
      subject: 'state',
      metric: throttles(props.stateTable, 'state'),
      threshold: 0,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      meaning: 'The lake state table (bookmarks, runs, locks, commits) is throttling reads or writes: job runs slow down or fail.',
    });

    addAlarm({
      alarmId: 'pipeline-executions-failed',
      subject: '',
      metric: props.stateMachine.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      meaning: 'A pipeline execution failed: a job failed after its retries and later stages did not run.',
    });
    addAlarm({
      alarmId: 'pipeline-executions-timed-out',
      subject: '',
      metric: props.stateMachine.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      meaning: `A pipeline execution ran longer than ${config.pipelineTimeoutMinutes} min and was stopped.`,
    });
    addAlarm({
      alarmId: 'pipeline-schedule-failed',
      subject: '',
      metric: new Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: props.schedule.ruleName },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      meaning: 'The nightly rule could not start the pipeline: no execution ran tonight.',
    });

    const jobMetric = (job: Job, metricName: string, statistic: string, period: Duration) =>
      new Metric({ namespace: config.metricsNamespace, metricName, dimensionsMap: { JobName: job.name }, statistic, period });
    for (const job of jobs) {
      const baselineMinutes = config.jobBaselineMinutes[job.name] ?? config.defaultJobBaselineMinutes;
      addAlarm({
        alarmId: 'job-duration',
        subject: job.name,
        metric: jobMetric(job, JOB_METRICS.elapsedMs, 'Maximum', FIVE_MINUTES),
        threshold: Math.round(baselineMinutes * 60_000 * JOB_DURATION_ALARM_RATIO),
        meaning: `A ${job.name} run took longer than ${Math.round(JOB_DURATION_ALARM_RATIO * 100)}% of its ${baselineMinutes} min baseline.`,
      });
    }
    this.alarms = alarms;

    const hourly = Duration.hours(1);
    const perJob = (title: string, metricName: string, statistic: string) =>
      new GraphWidget({ title, width: 8, left: jobs.map((job) => jobMetric(job, metricName, statistic, hourly).with({ label: job.name })) });
    const sourceEntries = Object.entries(sources) as [SourceName, MonitoredSource][];
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `medallion-${config.envName}`,
      defaultInterval: Duration.days(14),
      widgets: [
        [
          new TextWidget({
            width: 24,
            height: 2,
            markdown: `# medallion ${config.envName}\nEvery alarm names its runbook: ${config.runbookBaseUrl}/docs/runbooks/`,
          }),
        ],
        [
          new GraphWidget({
            title: 'Job duration (ms, longest run per hour)',
            width: 24,
            left: jobs.map((job) => jobMetric(job, JOB_METRICS.elapsedMs, 'Maximum', hourly).with({ label: job.name })),
          }),
        ],
        [
          perJob('Records read per job', JOB_METRICS.recordsRead, 'Sum'),
          perJob('Records written per job', JOB_METRICS.recordsWritten, 'Sum'),
          perJob('Records quarantined per job', JOB_METRICS.recordsQuarantined, 'Sum'),
        ],
        [
          new GraphWidget({
            title: 'Firehose data freshness (s)',
            width: 12,
            left: sourceEntries.map(([source, monitored]) =>
              firehose('DeliveryToS3.DataFreshness', monitored.deliveryStreamName, 'Maximum').with({ label: source }),
            ),
          }),
          new GraphWidget({
            title: 'Change stream iterator age (ms)',
            width: 12,
            left: sourceEntries.map(([source, monitored]) =>
              monitored.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: FIVE_MINUTES, label: source }),
            ),
          }),
        ],
        [
          new GraphWidget({
            title: 'Pipeline executions',
            width: 12,
            left: [
              props.stateMachine.metricSucceeded({ statistic: 'Sum', period: hourly, label: 'succeeded' }),
              props.stateMachine.metricFailed({ statistic: 'Sum', period: hourly, label: 'failed' }),
              props.stateMachine.metricTimedOut({ statistic: 'Sum', period: hourly, label: 'timed out' }),
            ],
          }),
          new AlarmStatusWidget({ title: 'Alarms', width: 12, alarms: alarms.map((entry) => entry.alarm) }),
        ],
      ],
    });
  }
}
