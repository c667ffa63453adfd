import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ALARMS, RUNBOOK_PROCEDURES, alarmDefinition, alarmReaches, jobReach, type AlarmDefinition } from '../../../core/alarms.ts';
import { loadPipelineRuleSets } from '../../../jobs/quality.ts';
import { ALARM_THRESHOLD_SETTINGS, ConfigError, ENV_DEFAULTS, ENV_NAMES, PIPELINE_ALARM_IDS, loadInfraConfig } from '../../../infra/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { ENVS, buildApp, flatten, resourceByPrefix, stackOf, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const SOURCES = ['tasks', 'users'] as const;
const RULE_SETS = [...(await loadPipelineRuleSets()).values()];
/** The tables the shipped rule sets check for freshness: the gold tables and silver's current state. */
const FRESH_TABLES = ['silver.tasks', 'silver.users', 'gold.daily_task_kpis', 'gold.active_users', 'gold.user_kpis'] as const;

type AlarmProperties = Record<string, any>;
const alarmsOf = (template: Template): AlarmProperties[] =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm') as CfnResources).map((alarm) => alarm.Properties!);
const alarmNamed = (template: Template, name: string): AlarmProperties => {
  const found = alarmsOf(template).filter((alarm) => alarm.AlarmName === name);
  if (found.length !== 1) throw new Error(`expected one alarm named ${name}, found ${found.length}`);
  return found[0]!;
};

describe.each(ENVS)('pipeline monitoring (%s)', (envName) => {
  const config = loadInfraConfig(envName);
  const template = () => templates()[envName];

  it('has exactly the pipeline alarms: per source, for the state table, for the state machine and its schedule, per job that can fire it, per landing source', () => {
    const sourceAlarms = [
      'firehose-data-freshness', 'firehose-throttling', 'kinesis-iterator-age', 'dynamodb-throttling',
      'dynamodb-replication-lag', 'dynamodb-replication-failed', 'dynamodb-replication-throttled', 'kinesis-write-throttling',
    ];
    // Job alarms only where the job can emit the metric with the shipped rule sets: no anomaly alarm without a
    // DetectAnomalies rule, no warn alarm without a warn rule, no quarantine-rate alarm for a job that sets nothing aside.
    const every = PIPELINE_JOBS.map((job) => job.name);
    const jobAlarms: Record<string, readonly string[]> = {
      'job-failed': every,
      'job-duration': every,
      'catalog-publish-failed': every,
      'quality-gate-failed': every,
      'quality-rules-warn': every,
      'quality-anomaly': ['bronze.tasks_cdc', 'bronze.users_cdc'],
      'quarantine-rate': ['bronze.tasks_cdc', 'bronze.users_cdc', 'silver.tasks', 'silver.users'],
    };
    const expected = [
      ...SOURCES.flatMap((source) => sourceAlarms.map((id) => `${id}-${source}`)),
      'dynamodb-throttling-state',
      'pipeline-executions-failed',
      'pipeline-executions-timed-out',
      'pipeline-schedule-failed',
      'pipeline-no-success',
      'job-error-lines',
      'quality-check-failed',
      'reconcile-failed',
      ...Object.entries(jobAlarms).flatMap(([id, jobs]) => jobs.map((job) => `${id}-${job}`)),
      ...SOURCES.map((source) => `landing-stale-${source}`),
      ...FRESH_TABLES.map((table) => `table-stale-${table}`),
    ].map((suffix) => `medallion-${envName}-${suffix}`);
    expect(alarmsOf(template()).map((alarm) => alarm.AlarmName).sort()).toEqual(expected.sort());
  });

  it('builds every registry entry, and nothing else: each alarm belongs to exactly one entry, each entry has its alarms', () => {
    const subjectsOf: Record<AlarmDefinition['per'], readonly string[]> = {
      pipeline: [''],
      source: SOURCES,
      'source-and-state': [...SOURCES, 'state'],
      job: PIPELINE_JOBS.map((job) => job.name),
      landing: SOURCES,
      'fresh-table': FRESH_TABLES,
    };
    const byName = new Map(alarmsOf(template()).map((alarm) => [alarm.AlarmName as string, alarm]));
    const claimed = new Set<string>();
    for (const definition of ALARMS) {
      for (const subject of subjectsOf[definition.per]) {
        const job = PIPELINE_JOBS.find((candidate) => candidate.name === subject);
        if (definition.per === 'job' && !alarmReaches(definition, jobReach(job!, RULE_SETS))) continue;
        const name = `medallion-${envName}-${definition.id}${subject ? `-${subject}` : ''}`;
        const alarm = byName.get(name);
        expect(alarm, `${definition.id} has no alarm ${name}`).toBeDefined();
        // The registry's evaluation settings, as CloudWatch gets them.
        expect(alarm, name).toMatchObject({
          ComparisonOperator: definition.comparison,
          EvaluationPeriods: definition.evaluationPeriods,
          DatapointsToAlarm: definition.datapointsToAlarm,
          TreatMissingData: definition.treatMissingData,
        });
        const query = (alarm!.Metrics as Record<string, any>[] | undefined)?.find((metric) => String(metric.Expression ?? '').startsWith('SELECT '));
        const stats = query
          ? [[definition.statistic, query.Period]]
          : alarm!.Metrics
            ? (alarm!.Metrics as Record<string, any>[]).filter((metric) => metric.MetricStat).map((metric) => [metric.MetricStat.Stat, metric.MetricStat.Period])
            : [[alarm!.Statistic, alarm!.Period]];
        for (const [statistic, period] of stats) expect([statistic, period], name).toEqual([definition.statistic, definition.periodMinutes * 60]);
        if (typeof definition.threshold === 'number') expect(alarm!.Threshold, name).toBe(definition.threshold);
        // The description says how bad it is first, what it means, and ends with the runbook.
        expect(alarm!.AlarmDescription, name).toMatch(new RegExp(`^${definition.severity.toUpperCase()}: `));
        expect(alarm!.AlarmDescription.endsWith(`Runbook: ${config.runbookBaseUrl}/runbooks/${definition.id}.md`), name).toBe(true);
        claimed.add(name);
      }
    }
    expect([...byName.keys()].filter((name) => !claimed.has(name))).toEqual([]);
  });

  it('takes each threshold a registry entry leaves to the config from a setting the config has', () => {
    const settings = ALARMS.flatMap((definition) => (typeof definition.threshold === 'number' ? [] : [definition.threshold.setting]));
    expect(settings.length).toBeGreaterThan(0);
    for (const setting of settings) expect(ALARM_THRESHOLD_SETTINGS).toContain(setting);
    // Every setting is a field of every environment's config.
    for (const setting of settings) {
      for (const name of ENV_NAMES) expect(Object.keys(ENV_DEFAULTS[name]), setting).toContain(setting);
    }
  });

  it('links every alarm to an existing runbook and notifies the topic of its severity', () => {
    const topics = { CRITICAL: resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').logicalId, WARNING: resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsWarningTopic').logicalId };
    const used = new Set<string>();
    for (const alarm of alarmsOf(template())) {
      const link = new RegExp(`Runbook: ${config.runbookBaseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(runbooks/([a-z0-9-]+)\\.md)$`).exec(alarm.AlarmDescription);
      expect(link, `${alarm.AlarmName}: ${alarm.AlarmDescription}`).not.toBeNull();
      expect(existsSync(join(repoRoot, link![1]!)), link![1]).toBe(true);
      expect(alarm.AlarmName).toContain(link![2]);
      used.add(link![2]!);
      const severity = /^(CRITICAL|WARNING): /.exec(alarm.AlarmDescription)![1] as keyof typeof topics;
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([{ Ref: topics[severity] }]);
      expect(alarm.TreatMissingData).toBe(alarmDefinition(link![2]!).treatMissingData);
    }
    // Every runbook page belongs to an alarm kind, and every kind has its page.
    expect([...used].sort()).toEqual([...PIPELINE_ALARM_IDS].sort());
    expect([...PIPELINE_ALARM_IDS].sort()).toEqual(ALARMS.map((alarm) => alarm.id).sort());
    const pages = readdirSync(join(repoRoot, 'runbooks')).filter((file) => file.endsWith('.md') && file !== 'README.md');
    expect(pages.sort()).toEqual([...PIPELINE_ALARM_IDS, ...RUNBOOK_PROCEDURES].map((id) => `${id}.md`).sort());
  });

  it.each(SOURCES)('%s: Firehose freshness above the configured age, and Kinesis iterator age, on that source\'s streams', (source) => {
    const delivery = resourceByPrefix(template(), 'AWS::KinesisFirehose::DeliveryStream', `${source[0]!.toUpperCase()}${source.slice(1)}DeliveryDeliveryStream`).logicalId;
    expect(alarmNamed(template(), `medallion-${envName}-firehose-data-freshness-${source}`)).toMatchObject({
      Namespace: 'AWS/Firehose',
      MetricName: 'DeliveryToS3.DataFreshness',
      Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: delivery } }],
      Statistic: 'Maximum',
      Threshold: ENV_DEFAULTS[envName].firehoseFreshnessAlarmSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const throttling = alarmNamed(template(), `medallion-${envName}-firehose-throttling-${source}`);
    const throttled = (throttling.Metrics as Record<string, any>[]).filter((metric) => metric.MetricStat).map((metric) => metric.MetricStat.Metric);
    expect(throttled.map((metric) => metric.MetricName).sort()).toEqual(['ThrottledDescribeStream', 'ThrottledGetRecords', 'ThrottledGetShardIterator']);
    for (const metric of throttled) expect(metric.Dimensions).toEqual([{ Name: 'DeliveryStreamName', Value: { Ref: delivery } }]);

    const stream = resourceByPrefix(template(), 'AWS::Kinesis::Stream', `Sources${source[0]!.toUpperCase()}${source.slice(1)}ChangeStream`).logicalId;
    expect(alarmNamed(template(), `medallion-${envName}-kinesis-iterator-age-${source}`)).toMatchObject({
      Namespace: 'AWS/Kinesis',
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Dimensions: [{ Name: 'StreamName', Value: { Ref: stream } }],
      Threshold: ENV_DEFAULTS[envName].kinesisIteratorAgeAlarmMinutes * 60_000,
    });
  });

  it.each(SOURCES)('%s: DynamoDB to Kinesis replication lag, failures and throttling (any DelegatedOperation), and stream write throttling', (source) => {
    const table = resourceByPrefix(template(), 'AWS::DynamoDB::Table', `Sources${source[0]!.toUpperCase()}${source.slice(1)}Table`).logicalId;
    for (const [id, query] of [
      ['dynamodb-replication-lag', 'SELECT MAX(AgeOfOldestUnreplicatedRecord) FROM SCHEMA("AWS/DynamoDB", DelegatedOperation, TableName) WHERE TableName = \''],
      ['dynamodb-replication-failed', 'SELECT SUM(FailedToReplicateRecordCount) FROM SCHEMA("AWS/DynamoDB", DelegatedOperation, TableName) WHERE TableName = \''],
      ['dynamodb-replication-throttled', 'SELECT MAX(ThrottledPutRecordCount) FROM SCHEMA("AWS/DynamoDB", DelegatedOperation, TableName) WHERE TableName = \''],
    ] as const) {
      const alarm = alarmNamed(template(), `medallion-${envName}-${id}-${source}`);
      const [metric] = alarm.Metrics as Record<string, any>[];
      expect(flatten(metric!.Expression)).toBe(`${query}<${table}>'`);
      expect(metric!.Period).toBe(300);
    }
    const stream = resourceByPrefix(template(), 'AWS::Kinesis::Stream', `Sources${source[0]!.toUpperCase()}${source.slice(1)}ChangeStream`).logicalId;
    expect(alarmNamed(template(), `medallion-${envName}-kinesis-write-throttling-${source}`)).toMatchObject({
      Namespace: 'AWS/Kinesis', MetricName: 'WriteProvisionedThroughputExceeded', Dimensions: [{ Name: 'StreamName', Value: { Ref: stream } }], Threshold: 0,
    });
  });

  it('alarms when no pipeline execution succeeded in 26 hours, missing data breaching, and says when it recovers', () => {
    const stateMachine = resourceByPrefix(template(), 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').logicalId;
    const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').logicalId;
    expect(alarmNamed(template(), `medallion-${envName}-pipeline-no-success`)).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsSucceeded',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachine } }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      OKActions: [{ Ref: topic }],
    });
  });

  it.each(FRESH_TABLES)('%s: alarms when no quality step found it fresh in 26 hours, missing data breaching', (table) => {
    expect(alarmNamed(template(), `medallion-${envName}-table-stale-${table}`)).toMatchObject({
      Namespace: 'Medallion',
      MetricName: 'medallion.table.fresh',
      Dimensions: [{ Name: 'JobName', Value: 'quality' }, { Name: 'Table', Value: table }],
      Statistic: 'Maximum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('counts the error lines of the jobs\' logs with a metric filter, and alarms on one', () => {
    const logGroup = resourceByPrefix(template(), 'AWS::Logs::LogGroup', 'JobsJobLogs').logicalId;
    template().hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logGroup },
      FilterPattern: '%^error:%',
      MetricTransformations: [{ MetricNamespace: 'Medallion', MetricName: 'medallion.log.errorLines', MetricValue: '1' }],
    });
    expect(alarmNamed(template(), `medallion-${envName}-job-error-lines`)).toMatchObject({ Namespace: 'Medallion', MetricName: 'medallion.log.errorLines', Threshold: 1 });
  });

  it('alarms on read and write throttling of both source tables and the state table', () => {
    for (const [subject, prefix] of [['tasks', 'SourcesTasksTable'], ['users', 'SourcesUsersTable'], ['state', 'JobsStateTable']] as const) {
      const table = resourceByPrefix(template(), 'AWS::DynamoDB::Table', prefix).logicalId;
      const alarm = alarmNamed(template(), `medallion-${envName}-dynamodb-throttling-${subject}`);
      const metrics = (alarm.Metrics as Record<string, any>[]).filter((metric) => metric.MetricStat).map((metric) => metric.MetricStat.Metric);
      expect(metrics.map((metric) => metric.MetricName).sort()).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
      for (const metric of metrics) expect(metric.Dimensions).toEqual([{ Name: 'TableName', Value: { Ref: table } }]);
      expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    }
  });

  it('alarms on failed and timed-out executions and on failed nightly starts', () => {
    const stateMachine = resourceByPrefix(template(), 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').logicalId;
    const rule = resourceByPrefix(template(), 'AWS::Events::Rule', 'PipelineNightlySchedule').logicalId;
    for (const [suffix, metricName] of [['pipeline-executions-failed', 'ExecutionsFailed'], ['pipeline-executions-timed-out', 'ExecutionsTimedOut']]) {
      expect(alarmNamed(template(), `medallion-${envName}-${suffix}`)).toMatchObject({
        Namespace: 'AWS/States',
        MetricName: metricName,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachine } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    expect(alarmNamed(template(), `medallion-${envName}-pipeline-schedule-failed`)).toMatchObject({
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: rule } }],
    });
  });

  it.each(PIPELINE_JOBS.map((job) => [job.name] as const))('%s: alarms on a run longer than 1.2 times its baseline, and on a failed run', (jobName) => {
    expect(alarmNamed(template(), `medallion-${envName}-job-duration-${jobName}`)).toMatchObject({
      Namespace: 'Medallion',
      MetricName: 'medallion.job.durationRatio',
      Dimensions: [{ Name: 'JobName', Value: jobName }],
      Statistic: 'Maximum',
      Threshold: 1.2,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const failed = alarmNamed(template(), `medallion-${envName}-job-failed-${jobName}`);
    expect(failed).toMatchObject({ Namespace: 'Medallion', MetricName: 'medallion.job.failed', Dimensions: [{ Name: 'JobName', Value: jobName }], Statistic: 'Sum', Threshold: 1 });
    expect(failed.AlarmDescription).toMatch(/^WARNING: /);
  });

  it.each(['bronze.tasks_cdc', 'silver.users'] as const)('%s: alarms on a failed fail rule, a failed warn rule and an anomaly of its quality gate', (jobName) => {
    const checks = [
      ['quality-gate-failed', 'medallion.quality.rules.failed.fail'],
      ['quality-rules-warn', 'medallion.quality.rules.failed.warn'],
      ...(jobName.startsWith('bronze.') ? [['quality-anomaly', 'medallion.quality.anomalies']] : []),
    ] as const;
    for (const [id, metricName] of checks) {
      expect(alarmNamed(template(), `medallion-${envName}-${id}-${jobName}`)).toMatchObject({
        Namespace: 'Medallion',
        MetricName: metricName,
        Dimensions: [{ Name: 'JobName', Value: jobName }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    expect(alarmNamed(template(), `medallion-${envName}-quality-gate-failed-${jobName}`).AlarmDescription).toMatch(/^CRITICAL: /);
    expect(alarmNamed(template(), `medallion-${envName}-quality-rules-warn-${jobName}`).AlarmDescription).toMatch(/^WARNING: /);
  });

  it.each(['bronze.users_cdc', 'silver.tasks'] as const)('%s: alarms when a run quarantines more than 5% of what it read, per hour, never dividing by zero', (jobName) => {
    const alarm = alarmNamed(template(), `medallion-${envName}-quarantine-rate-${jobName}`);
    expect(alarm).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 });
    const metrics = alarm.Metrics as Record<string, any>[];
    const expression = metrics.find((metric) => metric.Expression)!;
    expect(expression.ReturnData).not.toBe(false);
    expect(expression.Expression).toBe('IF(recordsRead > 0, 100 * FILL(recordsQuarantined, 0) / recordsRead, 0)');
    const inputs = Object.fromEntries(metrics.filter((metric) => metric.MetricStat).map((metric) => [metric.Id, metric.MetricStat]));
    expect(inputs).toEqual({
      recordsRead: { Metric: { Namespace: 'Medallion', MetricName: 'glue.driver.aggregate.recordsRead', Dimensions: [{ Name: 'JobName', Value: jobName }] }, Period: 3600, Stat: 'Sum' },
      recordsQuarantined: { Metric: { Namespace: 'Medallion', MetricName: 'medallion.job.recordsQuarantined', Dimensions: [{ Name: 'JobName', Value: jobName }] }, Period: 3600, Stat: 'Sum' },
    });
  });

  it('alarms on a failed fail rule of the quality step, and per landing source on stale landing data', () => {
    expect(alarmNamed(template(), `medallion-${envName}-quality-check-failed`)).toMatchObject({
      Namespace: 'Medallion',
      MetricName: 'medallion.quality.rules.failed.fail',
      Dimensions: [{ Name: 'JobName', Value: 'quality' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    for (const source of SOURCES) {
      const alarm = alarmNamed(template(), `medallion-${envName}-landing-stale-${source}`);
      expect(alarm).toMatchObject({
        Namespace: 'Medallion',
        MetricName: 'medallion.quality.rules.failed.fail',
        Dimensions: [{ Name: 'JobName', Value: 'quality' }, { Name: 'Table', Value: `landing.${source}` }],
        Threshold: 1,
      });
      expect(alarm.AlarmDescription).toMatch(/^CRITICAL: /);
      expect(alarm.AlarmDescription).toContain(`landing/${source}/`);
      expect(alarm.AlarmDescription).not.toContain('<source>');
    }
  });

  it('shows job durations, records read, written and quarantined per job, quality, Firehose freshness and execution failures on its dashboard', () => {
    const dashboard = resourceByPrefix(template(), 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').resource.Properties!;
    expect(dashboard.DashboardName).toBe(`medallion-${envName}`);
    const body = JSON.parse(flatten(dashboard.DashboardBody)) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] };
    const metricsOf = (title: string) => {
      const widget = body.widgets.find((candidate) => candidate.properties.title === title);
      expect(widget, title).toBeDefined();
      return widget!.properties.metrics!.map((metric) => metric.filter((part) => typeof part === 'string').join(' '));
    };
    for (const [title, metricName] of [
      ['Job duration (ms, longest run per hour)', 'glue.driver.aggregate.elapsedTime'],
      ['Records read per job', 'glue.driver.aggregate.recordsRead'],
      ['Records written per job', 'medallion.job.recordsWritten'],
      ['Records quarantined per job', 'medallion.job.recordsQuarantined'],
    ] as const) {
      expect(metricsOf(title).sort()).toEqual(PIPELINE_JOBS.map((job) => `Medallion ${metricName} JobName ${job.name}`).sort());
    }
    // The quality row: the quality pass rate (Glue's score, the lowest of the hour), failed rules and quality-quarantined rows.
    const checkedBy = [...PIPELINE_JOBS.map((job) => job.name), 'quality'];
    expect(metricsOf('Quality pass rate per job (share of rules passed, lowest per hour)').sort()).toEqual(
      checkedBy.map((jobName) => `Medallion glue.data.quality.score JobName ${jobName}`).sort(),
    );
    const score = body.widgets.find((candidate) => candidate.properties.title?.startsWith('Quality pass rate'))!.properties.metrics!;
    for (const metric of score) expect(metric.at(-1)).toMatchObject({ stat: 'Minimum' });
    expect(metricsOf('Quality rules failed per job').sort()).toEqual(checkedBy.map((jobName) => `Medallion glue.data.quality.rules.failed JobName ${jobName}`).sort());
    expect(metricsOf('Rows quarantined by quality rules per job').sort()).toEqual(
      PIPELINE_JOBS.map((job) => `Medallion medallion.quality.rowsQuarantined JobName ${job.name}`).sort(),
    );
    expect(metricsOf('Firehose data freshness (s)').every((metric) => metric.startsWith('AWS/Firehose DeliveryToS3.DataFreshness'))).toBe(true);
    expect(metricsOf('Pipeline executions').map((metric) => metric.split(' ')[1])).toEqual(['ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut']);
  });

  it('has a cost row: stored bytes per bucket in every storage class, Athena bytes scanned, task time per job, change data in', () => {
    const dashboard = resourceByPrefix(template(), 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard').resource.Properties!;
    const text = flatten(dashboard.DashboardBody);
    const body = JSON.parse(text) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] };
    const widget = (title: string) => body.widgets.find((candidate) => candidate.properties.title === title)?.properties.metrics ?? [];
    const parts = (title: string) => widget(title).map((metric) => metric.filter((part) => typeof part === 'string').join(' '));
    // Each lake bucket's size, summed over the classes it tiers to.
    const stored = parts('Lake storage per bucket (bytes, all storage classes)');
    const buckets = Object.keys(template().findResources('AWS::S3::Bucket'));
    for (const logicalId of buckets) {
      for (const storageClass of ['StandardStorage', 'StandardIAStorage', 'GlacierInstantRetrievalStorage', 'IntelligentTieringFAStorage', 'IntelligentTieringIAStorage', 'IntelligentTieringAIAStorage']) {
        expect(stored.some((metric) => metric.includes(`BucketSizeBytes BucketName <${logicalId}> StorageType ${storageClass}`)), `${logicalId} ${storageClass}`).toBe(true);
      }
    }
    expect(parts('Athena bytes scanned (analysts workgroup, per day)')).toEqual([`AWS/Athena ProcessedBytes WorkGroup <${resourceByPrefix(template(), 'AWS::Athena::WorkGroup', 'Analysts').logicalId}>`]);
    const taskTime = parts('Fargate task time per job (minutes per day)');
    for (const job of PIPELINE_JOBS) expect(taskTime.some((metric) => metric.includes(`medallion.job.elapsedTime JobName ${job.name}`)), job.name).toBe(true);
    const changeData = parts('Change data in (bytes per day): Kinesis and Firehose');
    expect(changeData.filter((metric) => metric.startsWith('AWS/Kinesis IncomingBytes'))).toHaveLength(2);
    expect(changeData.filter((metric) => metric.startsWith('AWS/Firehose IncomingBytes'))).toHaveLength(2);
  });

  it('has a monthly cost budget over the stack\'s tags that alerts the warning topic on actual and forecast spend, which Budgets may publish to', () => {
    const budget = resourceByPrefix(template(), 'AWS::Budgets::Budget', 'Budget').resource.Properties!;
    expect(budget.Budget).toEqual({
      BudgetName: `medallion-${envName}`,
      BudgetType: 'COST',
      TimeUnit: 'MONTHLY',
      BudgetLimit: { Amount: ENV_DEFAULTS[envName].monthlyBudgetUsd, Unit: 'USD' },
      CostFilters: { TagKeyValue: [`user:medallion$${envName}`] },
    });
    const warning = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsWarningTopic').logicalId;
    expect(budget.NotificationsWithSubscribers.map((entry: Record<string, any>) => [entry.Notification.NotificationType, entry.Notification.Threshold, entry.Subscribers])).toEqual(
      ['ACTUAL', 'FORECASTED'].map((type) => [type, ENV_DEFAULTS[envName].budgetAlertPercent, [{ SubscriptionType: 'SNS', Address: { Ref: warning } }]]),
    );
    const topicPolicy = Object.values(template().findResources('AWS::SNS::TopicPolicy') as CfnResources).find((policy) => JSON.stringify(policy.Properties!.Topics).includes(warning))!;
    expect(topicPolicy.Properties!.PolicyDocument.Statement).toContainEqual(expect.objectContaining({ Sid: 'BudgetsPublish', Principal: { Service: 'budgets.amazonaws.com' }, Action: 'sns:Publish' }));
    const key = resourceByPrefix(template(), 'AWS::KMS::Key', 'AlertsKey').resource;
    expect(key.Properties!.KeyPolicy.Statement).toContainEqual(expect.objectContaining({ Sid: 'BudgetsPublish', Principal: { Service: 'budgets.amazonaws.com' }, Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }) }));
  });

  it('publishes alerts to two KMS-encrypted topics, critical and warning, that refuse unencrypted transport, whose key CloudWatch may use', () => {
    const key = resourceByPrefix(template(), 'AWS::KMS::Key', 'AlertsKey');
    for (const [prefix, name] of [['AlertsTopic', 'alerts'], ['AlertsWarningTopic', 'warnings']] as const) {
      const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', prefix);
      expect(topic.resource.Properties).toMatchObject({ TopicName: `medallion-${envName}-${name}`, KmsMasterKeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } });
      const policy = Object.values(template().findResources('AWS::SNS::TopicPolicy') as CfnResources).find((candidate) =>
        JSON.stringify(candidate.Properties!.Topics).includes(topic.logicalId),
      )!;
      expect(policy.Properties!.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      // The topic's own policy replaces SNS's default: CloudWatch is allowed to publish this account's alarms.
      expect(policy.Properties!.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Sid: 'CloudWatchAlarmsPublish', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }) }),
      );
    }
    expect(key.resource.Properties!.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        // This account's alarms only.
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
        },
      }),
    );
  });
});

describe('pipeline monitoring configuration', () => {
  it('takes a job baseline (the job\'s command passes it), the alert addresses, a Slack channel and the metrics namespace from the environment config', () => {
    const built = buildApp(['prod'], {
      medallion: {
        prod: {
          jobBaselineMinutes: { 'silver.tasks': 40 }, alertEmails: ['oncall@example.com'], warningEmails: ['team@example.com'], metricsNamespace: 'Lake/Prod',
          slackChannel: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' },
        },
      },
    });
    const stack = stackOf(built, 'prod');
    const template = Template.fromStack(stack);
    expect(alarmNamed(template, 'medallion-prod-job-duration-silver.tasks')).toMatchObject({ Namespace: 'Lake/Prod', Threshold: 1.2 });
    const commands = Object.values(template.findResources('AWS::ECS::TaskDefinition') as CfnResources).map((definition) => definition.Properties!.ContainerDefinitions[0].Command as string[]);
    const silver = commands.find((command) => command[1] === 'silver.tasks')!;
    expect(silver.slice(silver.indexOf('--duration-baseline-minutes'))).toEqual(['--duration-baseline-minutes', '40']);
    const bronze = commands.find((command) => command[1] === 'bronze.tasks_cdc')!;
    expect(bronze.slice(bronze.indexOf('--duration-baseline-minutes'))).toEqual(['--duration-baseline-minutes', String(ENV_DEFAULTS.prod.defaultJobBaselineMinutes)]);
    // oncall gets both topics, the team only warnings; the Slack channel both.
    const critical = resourceByPrefix(template, 'AWS::SNS::Topic', 'AlertsTopic').logicalId;
    const warning = resourceByPrefix(template, 'AWS::SNS::Topic', 'AlertsWarningTopic').logicalId;
    const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription') as CfnResources).map((entry) => [entry.Properties!.Endpoint, entry.Properties!.TopicArn.Ref]);
    expect(subscriptions.sort()).toEqual([['oncall@example.com', critical], ['oncall@example.com', warning], ['team@example.com', warning]].sort());
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', { SlackWorkspaceId: 'T0123ABCD', SlackChannelId: 'C0123ABCD', SnsTopicArns: [{ Ref: critical }, { Ref: warning }] });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no one is subscribed'))).toEqual([]);
  });

  it('warns at synthesis when an environment has no one subscribed to its critical alerts', () => {
    const stack = stackOf(buildApp(['dev'], {}), 'dev');
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no one is subscribed to the dev critical alerts'));
    expect(warnings).toHaveLength(1);
  });

  it('refuses a baseline for a job that does not exist, naming it and the jobs there are', () => {
    expect(() => buildApp(['dev'], { medallion: { dev: { jobBaselineMinutes: { 'silver.taks': 10 } } } })).toThrow(ConfigError);
    expect(() => buildApp(['dev'], { medallion: { dev: { jobBaselineMinutes: { 'silver.taks': 10 } } } })).toThrow(/silver\.taks.*silver\.tasks/s);
  });
});
