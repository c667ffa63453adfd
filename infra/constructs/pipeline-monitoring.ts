import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IWidget,
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
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Job } from '../../core/index.ts';
import { ALARMS, alarmDefinition, alarmReaches, jobReach, type AlarmComparison, type AlarmDefinition, type AlarmScope, type AlarmSeverity } from '../../core/alarms.ts';
import { QUALITY_JOB } from '../../core/layout/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { ConfigError, type InfraConfig } from '../config.ts';
import { runbookUrl } from '../runbooks.ts';
import type { SourceName } from './source-tables.ts';

/**
 * Metric names the job runner emits (core/runner `runMetrics`, core/quality `qualityMetrics`), Glue's
 * where Glue has one. The alarms and widgets select them by `JobName` (and `Table`) alone: CloudWatch only
 * matches an exact dimension set, so the EMF metrics sink publishes `[JobName]` and `[JobName, Table]`
 * dimension sets next to the full one (core/metrics `cloudWatchDimensionSets`).
 */
export const JOB_METRICS = {
  elapsedMs: 'glue.driver.aggregate.elapsedTime',
  recordsRead: 'glue.driver.aggregate.recordsRead',
  recordsWritten: 'medallion.job.recordsWritten',
  recordsQuarantined: 'medallion.job.recordsQuarantined',
  qualityScore: 'glue.data.quality.score',
  qualityRulesFailed: 'glue.data.quality.rules.failed',
  qualityRowsQuarantined: 'medallion.quality.rowsQuarantined',
} as const;

/** One source table's monitored parts. */
export interface MonitoredSource {
  readonly table: ITable;
  readonly stream: IStream;
  readonly deliveryStreamName: string;
}

export interface PipelineMonitoringProps {
  readonly config: InfraConfig;
  readonly jobs: readonly Job[];
  /** The quality rule sets: each `landing.<source>` rule set gets its `landing-stale` alarm. */
  readonly ruleSets: readonly TableRuleSet[];
  /** Where each severity's alarms publish. */
  readonly alertTopics: Readonly<Record<AlarmSeverity, ITopic>>;
  /** The jobs' log group: the `job-error-lines` alarm counts its error lines through a metric filter. */
  readonly jobLogGroup: ILogGroup;
  readonly sources: Readonly<Record<SourceName, MonitoredSource>>;
  readonly stateTable: ITable;
  readonly stateMachine: IStateMachine;
  readonly schedule: IRule;
  /** What the dashboard's cost row measures: the lake's buckets by name, and the analysts' Athena workgroup. */
  readonly costs?: { readonly buckets: Readonly<Record<string, IBucket>>; readonly workGroupName: string };
}

/** One CloudWatch alarm, with the registry entry it was built from and what it watches. */
export interface PipelineAlarm {
  readonly alarmId: string;
  /** What the alarm watches within its kind: a source, a table, a job; '' when there is one. */
  readonly subject: string;
  readonly definition: AlarmDefinition;
  readonly alarm: Alarm;
}

/** One thing a registry entry is measured on: its name in the alarm name, and its dimension values. */
interface AlarmSubject {
  /** `tasks`, `state`, `silver.tasks`; '' for the pipeline. */
  readonly name: string;
  /** Values of the dimensions the registry names without a value (`DeliveryStreamName`, `JobName`, ...). */
  readonly dimensions: Readonly<Record<string, string>>;
  /** The landing source, for `<source>` in the registry's meaning. */
  readonly source?: string;
  /** The job, for a job's baseline. */
  readonly job?: Job;
}

const COMPARISONS: Readonly<Record<AlarmComparison, { readonly operator: ComparisonOperator; readonly words: string }>> = {
  GreaterThanThreshold: { operator: ComparisonOperator.GREATER_THAN_THRESHOLD, words: 'above' },
  GreaterThanOrEqualToThreshold: { operator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, words: 'at or above' },
  LessThanThreshold: { operator: ComparisonOperator.LESS_THAN_THRESHOLD, words: 'below' },
  LessThanOrEqualToThreshold: { operator: ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD, words: 'at or below' },
};

const MISSING_DATA: Readonly<Record<AlarmDefinition['treatMissingData'], TreatMissingData>> = {
  notBreaching: TreatMissingData.NOT_BREACHING,
  breaching: TreatMissingData.BREACHING,
};

/** The pattern of the jobs' error lines: the CLI writes every error as `error: <code>: ...` on a line of its own. */
export const JOB_ERROR_LINE_PATTERN = '%^error:%';

/** Metrics Insights' name of a registry statistic. */
const INSIGHTS_FUNCTIONS: Readonly<Record<AlarmDefinition['statistic'], string>> = { Sum: 'SUM', Maximum: 'MAX', Minimum: 'MIN', Average: 'AVG' };

/**
 * The config settings a registry threshold can name, each as the number the alarm compares its metric
 * with (in the metric's unit) and as words for the description.
 */
const THRESHOLD_SETTINGS: Readonly<Record<string, (config: InfraConfig, subject: AlarmSubject) => { readonly value: number; readonly text: string }>> = {
  // DeliveryToS3.DataFreshness is in seconds.
  firehoseFreshnessAlarmSeconds: (config) => ({ value: config.firehoseFreshnessAlarmSeconds, text: `${config.firehoseFreshnessAlarmSeconds} s` }),
  // GetRecords.IteratorAgeMilliseconds is in milliseconds.
  kinesisIteratorAgeAlarmMinutes: (config) => ({ value: config.kinesisIteratorAgeAlarmMinutes * 60_000, text: `${config.kinesisIteratorAgeAlarmMinutes} min` }),
};

/** The config settings an alarm threshold may name (`threshold.setting` in core/alarms.ts). */
export const ALARM_THRESHOLD_SETTINGS: readonly string[] = Object.keys(THRESHOLD_SETTINGS);

/** `medallion.job.recordsRead` -> `recordsRead`, `ReadThrottleEvents` -> `readThrottleEvents`: a metric's id in a math expression. */
const expressionId = (metricName: string): string => {
  const last = metricName.slice(metricName.lastIndexOf('.') + 1);
  return `${last[0]!.toLowerCase()}${last.slice(1)}`;
};

/**
 * The metric a registry entry watches for one subject: one metric, a sum of metrics (`a + b`, each missing
 * point counted as 0), or a percentage (`100 * a / b`, 0 when nothing was read).
 */
function registryMetric(definition: AlarmDefinition, namespace: string, dimensionsMap: Record<string, string>, label: string, anyValueOf: readonly string[] = []): IMetric {
  const period = Duration.minutes(definition.periodMinutes);
  if (anyValueOf.length > 0) {
    // A dimension whose value is AWS's to choose (DelegatedOperation): a Metrics Insights query over every value.
    if (!/^[A-Za-z][\w.]*$/.test(definition.metric)) throw new Error(`alarm ${definition.id}: a Metrics Insights alarm watches one metric`);
    const schema = [...Object.keys(dimensionsMap), ...anyValueOf].sort().join(', ');
    const where = Object.entries(dimensionsMap).map(([name, value]) => `${name} = '${value}'`).join(' AND ');
    return new MathExpression({
      expression: `SELECT ${INSIGHTS_FUNCTIONS[definition.statistic]}(${definition.metric}) FROM SCHEMA("${namespace}", ${schema})${where ? ` WHERE ${where}` : ''}`,
      usingMetrics: {},
      label,
      period,
    });
  }
  const metric = (metricName: string) => new Metric({ namespace, metricName, dimensionsMap, statistic: definition.statistic, period });
  const terms = definition.metric.split(' + ');
  if (terms.length > 1 && terms.every((term) => /^[\w.]+$/.test(term))) {
    return new MathExpression({
      expression: terms.map((term) => `FILL(${expressionId(term)}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(terms.map((term) => [expressionId(term), metric(term)])),
      label,
      period,
    });
  }
  const percentage = /^100 \* ([\w.]+) \/ ([\w.]+)$/.exec(definition.metric);
  if (percentage) {
    const [, part, whole] = percentage as unknown as [string, string, string];
    const [partId, wholeId] = [expressionId(part), expressionId(whole)];
    return new MathExpression({
      expression: `IF(${wholeId} > 0, 100 * FILL(${partId}, 0) / ${wholeId}, 0)`,
      usingMetrics: { [partId]: metric(part), [wholeId]: metric(whole) },
      label,
      period,
    });
  }
  if (/^[\w.]+$/.test(definition.metric)) return metric(definition.metric);
  throw new Error(`alarm ${definition.id}: cannot build CloudWatch metric ${JSON.stringify(definition.metric)} (a metric name, a + b, or 100 * a / b)`);
}

/**
 * The pipeline's alarms and dashboard. Every entry of the alarm registry (core/alarms.ts) becomes one
 * alarm per subject its `per` names (source, source and state table, pipeline, job, landing source),
 * named `medallion-<env>-<id>[-<subject>]`, with the registry's metric, statistic, comparison, period,
 * evaluation periods, datapoints and missing-data treatment, and its threshold (or the config setting the
 * registry names). Every alarm publishes to the alert topic; its description starts with the severity and
 * ends with its runbook's link (`<runbookBaseUrl>/runbooks/<alarm-id>.md`).
 *
 * @example
 * new PipelineMonitoring(stack, 'Monitoring', { config, jobs, ruleSets, alertTopic, sources, stateTable, stateMachine, schedule });
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

    const sourceEntries = Object.entries(sources) as [SourceName, MonitoredSource][];
    const sourceSubjects: AlarmSubject[] = sourceEntries.map(([source, monitored]) => ({
      name: source,
      source,
      dimensions: { DeliveryStreamName: monitored.deliveryStreamName, StreamName: monitored.stream.streamName, TableName: monitored.table.tableName },
    }));
    const landingSources = props.ruleSets.filter((set) => set.table.startsWith('landing.')).map((set) => set.table.slice('landing.'.length));
    const subjects: Readonly<Record<AlarmScope, readonly AlarmSubject[]>> = {
      pipeline: [{ name: '', dimensions: { StateMachineArn: props.stateMachine.stateMachineArn, RuleName: props.schedule.ruleName } }],
      source: sourceSubjects,
      'source-and-state': [...sourceSubjects, { name: 'state', dimensions: { TableName: props.stateTable.tableName } }],
      job: jobs.map((job) => ({ name: job.name, job, dimensions: { JobName: job.name } })),
      landing: landingSources.map((source) => ({ name: source, source, dimensions: { Table: `landing.${source}` } })),
      'fresh-table': props.ruleSets
        .filter((set) => !set.table.startsWith('landing.') && set.rules.some((rule) => rule.rule.kind === 'rule' && rule.rule.type === 'DataFreshness'))
        .map((set) => ({ name: set.table, dimensions: { Table: set.table } })),
    };

    // The job log group's error lines, as the metric job-error-lines watches.
    const errorLines = alarmDefinition('job-error-lines');
    new MetricFilter(this, 'JobErrorLines', {
      logGroup: props.jobLogGroup,
      filterPattern: FilterPattern.literal(JOB_ERROR_LINE_PATTERN),
      metricNamespace: config.metricsNamespace,
      metricName: errorLines.metric,
      metricValue: '1',
    });

    const alarms: PipelineAlarm[] = [];
    for (const definition of ALARMS) {
      for (const subject of subjects[definition.per]) {
        // A job alarm is built only where the job can emit its metric with the shipped rule sets.
        if (subject.job && !alarmReaches(definition, jobReach(subject.job, props.ruleSets))) continue;
        alarms.push(this.registryAlarm(definition, subject, props));
      }
    }
    this.alarms = alarms;
    this.dashboard = this.buildDashboard(props, sourceEntries, alarms);
  }

  private registryAlarm(definition: AlarmDefinition, subject: AlarmSubject, props: PipelineMonitoringProps): PipelineAlarm {
    const { config } = props;
    const suffix = `${definition.id}${subject.name ? `-${subject.name}` : ''}`;
    const dimensionsMap: Record<string, string> = {};
    const anyValueOf: string[] = [];
    for (const dimension of definition.dimensions) {
      const [name, fixed] = dimension.split('=') as [string, string | undefined];
      if (fixed === '*') {
        anyValueOf.push(name);
        continue;
      }
      const value = fixed ?? subject.dimensions[name];
      if (value === undefined) throw new Error(`alarm ${definition.id}: its ${definition.per} subject ${subject.name || '(pipeline)'} has no ${name} dimension`);
      dimensionsMap[name] = value;
    }
    const namespace = definition.namespace === 'medallion' || definition.namespace === 'medallion-logs' ? config.metricsNamespace : definition.namespace;

    let threshold: { readonly value: number; readonly text: string };
    if (typeof definition.threshold === 'number') {
      const unit = definition.metric.startsWith('100 * ') ? '%' : '';
      threshold = { value: definition.threshold, text: `${definition.threshold}${unit}` };
    } else {
      const setting = THRESHOLD_SETTINGS[definition.threshold.setting];
      if (!setting) throw new Error(`alarm ${definition.id}: no config setting ${definition.threshold.setting} (settings: ${ALARM_THRESHOLD_SETTINGS.join(', ')})`);
      threshold = setting(config, subject);
    }

    const comparison = COMPARISONS[definition.comparison];
    const meaning = subject.source ? definition.meaning.replaceAll('<source>', subject.source) : definition.meaning;
    const about = subject.name ? ` (${subject.name})` : '';
    const when =
      `Fires ${comparison.words} ${threshold.text}: ${definition.statistic} of ${definition.metric} over ${definition.periodMinutes} min, ` +
      `${definition.datapointsToAlarm} of ${definition.evaluationPeriods} period${definition.evaluationPeriods === 1 ? '' : 's'}.`;
    const alarm = new Alarm(this, suffix, {
      alarmName: `medallion-${config.envName}-${suffix}`,
      alarmDescription: `${definition.severity.toUpperCase()}: ${definition.title}${about}. ${meaning} ${when} Runbook: ${runbookUrl(config, definition.id)}`,
      metric: registryMetric(definition, namespace, dimensionsMap, `${definition.title}${about}`, anyValueOf),
      threshold: threshold.value,
      comparisonOperator: comparison.operator,
      evaluationPeriods: definition.evaluationPeriods,
      datapointsToAlarm: definition.datapointsToAlarm,
      treatMissingData: MISSING_DATA[definition.treatMissingData],
    });
    alarm.addAlarmAction(new SnsAction(props.alertTopics[definition.severity]));
    // A breaching-when-missing alarm tells the operator it recovered, too.
    if (definition.treatMissingData === 'breaching') alarm.addOkAction(new SnsAction(props.alertTopics[definition.severity]));
    return { alarmId: definition.id, subject: subject.name, definition, alarm };
  }

  private buildDashboard(props: PipelineMonitoringProps, sourceEntries: readonly [SourceName, MonitoredSource][], alarms: readonly PipelineAlarm[]): Dashboard {
    const { config, jobs } = props;
    const fiveMinutes = Duration.minutes(5);
    const hourly = Duration.hours(1);
    const jobMetric = (jobName: string, metricName: string, statistic: string) =>
      new Metric({ namespace: config.metricsNamespace, metricName, dimensionsMap: { JobName: jobName }, statistic, period: hourly, label: jobName });
    const perJob = (title: string, metricName: string, statistic: string, jobNames: readonly string[] = jobs.map((job) => job.name)) =>
      new GraphWidget({ title, width: 8, left: jobNames.map((jobName) => jobMetric(jobName, metricName, statistic)) });
    const firehose = (metricName: string, deliveryStreamName: string) =>
      new Metric({ namespace: 'AWS/Firehose', metricName, dimensionsMap: { DeliveryStreamName: deliveryStreamName }, statistic: 'Maximum', period: fiveMinutes });
    // The quality step's evaluations carry JobName=quality, next to each job's gate.
    const checkedBy = [...jobs.map((job) => job.name), QUALITY_JOB];

    return new Dashboard(this, 'Dashboard', {
      dashboardName: `medallion-${config.envName}`,
      defaultInterval: Duration.days(14),
      widgets: [
        [
          new TextWidget({
            width: 24,
            height: 2,
            markdown: `# medallion ${config.envName}\nEvery alarm names its runbook: ${config.runbookBaseUrl}/runbooks/`,
          }),
        ],
        [
          new GraphWidget({
            title: 'Job duration (ms, longest run per hour)',
            width: 24,
            left: jobs.map((job) => jobMetric(job.name, JOB_METRICS.elapsedMs, 'Maximum')),
          }),
        ],
        [
          perJob('Records read per job', JOB_METRICS.recordsRead, 'Sum'),
          perJob('Records written per job', JOB_METRICS.recordsWritten, 'Sum'),
          perJob('Records quarantined per job', JOB_METRICS.recordsQuarantined, 'Sum'),
        ],
        [
          new GraphWidget({
            title: 'Quality pass rate per job (share of rules passed, lowest per hour)',
            width: 8,
            left: checkedBy.map((jobName) => jobMetric(jobName, JOB_METRICS.qualityScore, 'Minimum')),
            leftYAxis: { min: 0, max: 1 },
          }),
          perJob('Quality rules failed per job', JOB_METRICS.qualityRulesFailed, 'Sum', checkedBy),
          perJob('Rows quarantined by quality rules per job', JOB_METRICS.qualityRowsQuarantined, 'Sum'),
        ],
        [
          new GraphWidget({
            title: 'Firehose data freshness (s)',
            width: 12,
            left: sourceEntries.map(([source, monitored]) => firehose('DeliveryToS3.DataFreshness', monitored.deliveryStreamName).with({ label: source })),
          }),
          new GraphWidget({
            title: 'Change stream iterator age (ms)',
            width: 12,
            left: sourceEntries.map(([source, monitored]) =>
              monitored.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: fiveMinutes, label: source }),
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
        ...(props.costs ? this.costRows(props, sourceEntries, props.costs) : []),
      ],
    });
  }

  /**
   * What drives the bill, per day: the lake's stored bytes per bucket (every storage class it tiers to), the bytes
   * Athena scanned for analysts, the Fargate task time of each job, and the change data flowing through Kinesis and
   * Firehose. The monthly budget (CostBudget) alerts on the total; these say where it goes.
   */
  private costRows(props: PipelineMonitoringProps, sourceEntries: readonly [SourceName, MonitoredSource][], costs: NonNullable<PipelineMonitoringProps['costs']>): IWidget[][] {
    const daily = Duration.days(1);
    // Every class the lake's buckets tier to (lake-storage.ts): landing to IA and Glacier IR, silver and gold to
    // Intelligent-Tiering's access tiers.
    const storageClasses = ['StandardStorage', 'StandardIAStorage', 'GlacierInstantRetrievalStorage', 'IntelligentTieringFAStorage', 'IntelligentTieringIAStorage', 'IntelligentTieringAIAStorage'];
    const stored = Object.entries(costs.buckets).map(([name, bucket], bucketIndex) => new MathExpression({
      label: name,
      period: daily,
      expression: storageClasses.map((_, index) => `FILL(s${bucketIndex}_${index}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(storageClasses.map((storageType, index) => [`s${bucketIndex}_${index}`, new Metric({
        namespace: 'AWS/S3', metricName: 'BucketSizeBytes', dimensionsMap: { BucketName: bucket.bucketName, StorageType: storageType }, statistic: 'Average', period: daily,
      })])),
    }));
    const taskMinutes = props.jobs.map((job, index) => new MathExpression({
      label: job.name,
      period: daily,
      expression: `m${index} / 60000`,
      usingMetrics: { [`m${index}`]: new Metric({ namespace: props.config.metricsNamespace, metricName: 'medallion.job.elapsedTime', dimensionsMap: { JobName: job.name }, statistic: 'Sum', period: daily }) },
    }));
    return [
      [new TextWidget({ width: 24, height: 1, markdown: `## Costs: what drives the bill, per day (budget: ${props.config.monthlyBudgetUsd > 0 ? `${props.config.monthlyBudgetUsd} USD a month, alert at ${props.config.budgetAlertPercent}%` : 'none'})` })],
      [
        new GraphWidget({ title: 'Lake storage per bucket (bytes, all storage classes)', width: 12, left: stored }),
        new GraphWidget({
          title: 'Athena bytes scanned (analysts workgroup, per day)',
          width: 12,
          left: [new Metric({ namespace: 'AWS/Athena', metricName: 'ProcessedBytes', dimensionsMap: { WorkGroup: costs.workGroupName }, statistic: 'Sum', period: daily, label: costs.workGroupName })],
        }),
      ],
      [
        new GraphWidget({ title: 'Fargate task time per job (minutes per day)', width: 12, left: taskMinutes }),
        new GraphWidget({
          title: 'Change data in (bytes per day): Kinesis and Firehose',
          width: 12,
          left: sourceEntries.flatMap(([source, monitored]) => [
            monitored.stream.metricIncomingBytes({ statistic: 'Sum', period: daily, label: `${source} (Kinesis)` }),
            new Metric({ namespace: 'AWS/Firehose', metricName: 'IncomingBytes', dimensionsMap: { DeliveryStreamName: monitored.deliveryStreamName }, statistic: 'Sum', period: daily, label: `${source} (Firehose)` }),
          ]),
        }),
      ],
    ];
  }
}
