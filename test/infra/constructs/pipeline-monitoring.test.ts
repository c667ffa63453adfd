import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ALARMS, RUNBOOK_PROCEDURES, type AlarmDefinition } from '../../../core/alarms.ts';
import { ALARM_THRESHOLD_SETTINGS, ConfigError, ENV_DEFAULTS, ENV_NAMES, PIPELINE_ALARM_IDS, loadInfraConfig } from '../../../infra/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { ENVS, buildApp, flatten, resourceByPrefix, stackOf, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const SOURCES = ['tasks', 'users'] as const;

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

  it('has exactly the pipeline alarms: per source, for the state table, for the state machine and its schedule, per job, per landing source', () => {
    const jobAlarms = ['job-duration', 'quality-gate-failed', 'quality-rules-warn', 'quality-anomaly', 'quarantine-rate', 'catalog-publish-failed'];
    const expected = [
      ...SOURCES.flatMap((source) => ['firehose-data-freshness', 'firehose-throttling', 'kinesis-iterator-age', 'dynamodb-throttling'].map((id) => `${id}-${source}`)),
      'dynamodb-throttling-state',
      'pipeline-executions-failed',
      'pipeline-executions-timed-out',
      'pipeline-schedule-failed',
      'quality-check-failed',
      'reconcile-failed',
      ...PIPELINE_JOBS.flatMap((job) => jobAlarms.map((id) => `${id}-${job.name}`)),
      ...SOURCES.map((source) => `landing-stale-${source}`),
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
    };
    const byName = new Map(alarmsOf(template()).map((alarm) => [alarm.AlarmName as string, alarm]));
    const claimed = new Set<string>();
    for (const definition of ALARMS) {
      for (const subject of subjectsOf[definition.per]) {
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
        const stats = alarm!.Metrics
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
    // Every setting but the per-job baseline is a field of every environment's config.
    for (const setting of settings.filter((name) => name !== 'jobBaseline')) {
      for (const name of ENV_NAMES) expect(Object.keys(ENV_DEFAULTS[name]), setting).toContain(setting);
    }
  });

  it('links every alarm to an existing runbook and notifies the alert topic', () => {
    const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').logicalId;
    const used = new Set<string>();
    for (const alarm of alarmsOf(template())) {
      const link = new RegExp(`Runbook: ${config.runbookBaseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(runbooks/([a-z0-9-]+)\\.md)$`).exec(alarm.AlarmDescription);
      expect(link, `${alarm.AlarmName}: ${alarm.AlarmDescription}`).not.toBeNull();
      expect(existsSync(join(repoRoot, link![1]!)), link![1]).toBe(true);
      expect(alarm.AlarmName).toContain(link![2]);
      used.add(link![2]!);
      expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.TreatMissingData).toBe('notBreaching');
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

  it.each(PIPELINE_JOBS.map((job) => [job.name] as const))('%s: alarms on a run longer than 1.2 times the default baseline', (jobName) => {
    expect(alarmNamed(template(), `medallion-${envName}-job-duration-${jobName}`)).toMatchObject({
      Namespace: 'Medallion',
      MetricName: 'glue.driver.aggregate.elapsedTime',
      Dimensions: [{ Name: 'JobName', Value: jobName }],
      Statistic: 'Maximum',
      Threshold: ENV_DEFAULTS[envName].defaultJobBaselineMinutes * 60_000 * 1.2,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it.each(PIPELINE_JOBS.map((job) => [job.name] as const))('%s: alarms on a failed fail rule, a failed warn rule and an anomaly of its quality gate', (jobName) => {
    for (const [id, metricName] of [
      ['quality-gate-failed', 'medallion.quality.rules.failed.fail'],
      ['quality-rules-warn', 'medallion.quality.rules.failed.warn'],
      ['quality-anomaly', 'medallion.quality.anomalies'],
    ] as const) {
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

  it.each(PIPELINE_JOBS.map((job) => [job.name] as const))('%s: alarms when a run quarantines more than 5% of what it read, per hour, never dividing by zero', (jobName) => {
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

  it('publishes alerts to a KMS-encrypted topic that refuses unencrypted transport, whose key CloudWatch may use', () => {
    const key = resourceByPrefix(template(), 'AWS::KMS::Key', 'AlertsKey');
    const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic');
    expect(topic.resource.Properties).toMatchObject({ TopicName: `medallion-${envName}-alerts`, KmsMasterKeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } });
    const policy = Object.values(template().findResources('AWS::SNS::TopicPolicy') as CfnResources).find((candidate) =>
      JSON.stringify(candidate.Properties!.Topics).includes(topic.logicalId),
    )!;
    expect(policy.Properties!.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(key.resource.Properties!.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
    );
  });
});

describe('pipeline monitoring configuration', () => {
  it('takes a job baseline, the alert addresses and the metrics namespace from the environment config', () => {
    const built = buildApp(['prod'], {
      medallion: { prod: { jobBaselineMinutes: { 'silver.tasks': 40 }, alertEmails: ['oncall@example.com'], metricsNamespace: 'Lake/Prod' } },
    });
    const template = Template.fromStack(stackOf(built, 'prod'));
    expect(alarmNamed(template, 'medallion-prod-job-duration-silver.tasks')).toMatchObject({ Namespace: 'Lake/Prod', Threshold: 40 * 60_000 * 1.2 });
    expect(alarmNamed(template, 'medallion-prod-job-duration-bronze.tasks_cdc')).toMatchObject({
      Threshold: ENV_DEFAULTS.prod.defaultJobBaselineMinutes * 60_000 * 1.2,
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('refuses a baseline for a job that does not exist, naming it and the jobs there are', () => {
    expect(() => buildApp(['dev'], { medallion: { dev: { jobBaselineMinutes: { 'silver.taks': 10 } } } })).toThrow(ConfigError);
    expect(() => buildApp(['dev'], { medallion: { dev: { jobBaselineMinutes: { 'silver.taks': 10 } } } })).toThrow(/silver\.taks.*silver\.tasks/s);
  });
});
