import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { cloudWatchDimensionSets, type MetricDatum } from '../../core/metrics/index.ts';
import { JOB_ERROR_LINE_PATTERN, loadInfraConfig } from '../../infra/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { cli, ENABLE, useFileTempDirs } from '../support/lake-cli.ts';
import { buildApp, stackOf, type CfnResources } from './infra-fixtures.ts';

/**
 * Every alarm the stack builds on the pipeline's own metrics watches a metric the code emits, with the dimensions
 * the alarm selects, when the shipped jobs and rule sets run as the pipeline runs them (bookmarked runs of every job,
 * then `medallion quality` and `medallion reconcile`), on a lake with faults. An alarm on a metric nothing emits can
 * never fire: it is not built (core/alarms.ts `reach`), and this test fails if one is.
 */

const tempDir = useFileTempDirs();
/** `metric|Dim=value,...` for every dimension set CloudWatch receives a datum under. */
const emitted = new Set<string>();
let errorLines: string[] = [];

const key = (name: string, dimensions: Readonly<Record<string, string>>) =>
  `${name}|${Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)).map(([dimension, value]) => `${dimension}=${value}`).join(',')}`;

beforeAll(async () => {
  const dir = await tempDir('reach');
  const lake = openLocalLake(dir, { threads: 2 });
  await generateLanding(lake.storage, { seed: 31, days: 3, users: 15, tasksPerDay: 25, faultRate: 0.05 });
  for (const args of [['run', '--all', ...ENABLE], ['run', '--all', ...ENABLE], ['quality'], ['reconcile']]) {
    const result = await cli(['--lake', dir, ...args]);
    expect([0, 1], `${args.join(' ')}: ${result.stderr}`).toContain(result.code);
  }
  const history = (await readFile(path.join(dir, '_metrics', 'history.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as MetricDatum);
  for (const datum of history) for (const dimensions of cloudWatchDimensionSets(datum.dimensions)) emitted.add(key(datum.name, dimensions));
  // An error, as a job container's log shows it.
  errorLines = (await cli(['--lake', dir, 'run', 'silver.no_such_job'])).stderr.split('\n');
}, 240_000);

describe('every alarm on the pipeline\'s own metrics can fire', () => {
  const config = loadInfraConfig('dev');
  const template = Template.fromStack(stackOf(buildApp(['dev']), 'dev'));
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm') as CfnResources).map((alarm) => alarm.Properties!);
  /** Each alarm's metrics in the jobs' namespace, with the dimensions it selects. */
  const watched = alarms.flatMap((alarm) => {
    const metrics = alarm.Metrics
      ? (alarm.Metrics as Record<string, any>[]).filter((metric) => metric.MetricStat).map((metric) => metric.MetricStat.Metric as Record<string, any>)
      : [{ Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: alarm.Dimensions ?? [] }];
    return metrics
      .filter((metric) => metric.Namespace === config.metricsNamespace)
      .map((metric) => ({
        alarm: alarm.AlarmName as string,
        metric: metric.MetricName as string,
        dimensions: Object.fromEntries((metric.Dimensions as { Name: string; Value: string }[]).map((dimension) => [dimension.Name, dimension.Value])),
      }));
  });

  it('watches the jobs\' metrics in many alarms (the test looks at something)', () => {
    expect(watched.length).toBeGreaterThan(40);
  });

  it.each(watched.filter((entry) => entry.metric !== 'medallion.log.errorLines').map((entry) => [entry.alarm, entry.metric, entry] as const))(
    '%s: %s is emitted with the dimensions it selects',
    (_alarm, metric, entry) => {
      expect(emitted.has(key(metric, entry.dimensions)), `${key(metric, entry.dimensions)} was never emitted`).toBe(true);
    },
  );

  it('job-error-lines counts the lines a failing command prints, through the log metric filter\'s pattern', () => {
    expect(watched.some((entry) => entry.metric === 'medallion.log.errorLines')).toBe(true);
    const pattern = new RegExp(JOB_ERROR_LINE_PATTERN.slice(1, -1));
    expect(errorLines.filter((line) => pattern.test(line))).toHaveLength(1);
  });
});
