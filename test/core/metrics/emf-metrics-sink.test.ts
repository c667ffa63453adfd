import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, defineTable, openLocalLake, runJob, tableSource, type Lake } from '../../../core/index.ts';
import { EmfMetricsSink } from '../../../core/metrics/index.ts';
import { parseTableRuleSet } from '../../../core/quality/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/**
 * The CloudWatch Embedded Metric Format, as its specification states it
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * a JSON object whose `_aws` member holds a Timestamp (ms since the epoch) and MetricDirectives (a Namespace,
 * DimensionSets of at most 30 keys, at most 100 MetricDefinitions with a Name and an optional valid Unit);
 * every dimension key a directive names is a root member with a string value, every metric Name a root
 * member with a number (or an array of at most 100 numbers).
 */
const UNITS = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits',
  'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second',
  'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
] as const;
const EmfDocument = z.object({
  _aws: z.object({
    Timestamp: z.number().int().nonnegative(),
    CloudWatchMetrics: z
      .array(
        z.object({
          Namespace: z.string().min(1).max(255),
          Dimensions: z.array(z.array(z.string().min(1)).max(30)),
          Metrics: z.array(z.object({ Name: z.string().min(1).max(1024), Unit: z.enum(UNITS).optional(), StorageResolution: z.union([z.literal(1), z.literal(60)]).optional() }).strict()).max(100),
        }).strict(),
      )
      .min(1),
  }),
}).loose();

function emfProblems(line: string): string[] {
  let document: unknown;
  try {
    document = JSON.parse(line);
  } catch {
    return ['not JSON'];
  }
  const parsed = EmfDocument.safeParse(document);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  const root = document as Record<string, unknown>;
  const problems: string[] = [];
  for (const directive of parsed.data._aws.CloudWatchMetrics) {
    for (const key of directive.Dimensions.flat()) {
      const value = root[key];
      // Dimension values: ASCII, at least one non-whitespace character, at most 1024 (CloudWatch's Dimension).
      if (typeof value !== 'string' || !/^[\x20-\x7e]*\S[\x20-\x7e]*$/.test(value) || value.length > 1024) problems.push(`dimension ${key} is ${JSON.stringify(value)}`);
    }
    for (const metric of directive.Metrics) {
      const value = root[metric.Name];
      const numbers = Array.isArray(value) ? value : [value];
      if (numbers.length > 100 || !numbers.every((number) => typeof number === 'number' && Number.isFinite(number))) problems.push(`metric ${metric.Name} is ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

const items = defineTable({
  name: 'silver.items',
  description: 'Items.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'id', type: 'BIGINT', description: 'Item id.' }, { name: 'name', type: 'VARCHAR', description: 'Name.' }],
});
const seed = defineTable({ name: 'bronze.seed', description: 'Seed rows.', writeMode: 'append', partitionBy: [], columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }] });
const itemsJob = defineJob({
  name: 'silver.items',
  description: 'Ten items, two without a name.',
  sources: { seed: tableSource('bronze.seed') },
  outputs: [items],
  transform: () => ({ outputs: { 'silver.items': "SELECT i::BIGINT AS id, CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END AS name FROM range(10) t(i)" } }),
});

describe('EmfMetricsSink', () => {
  it('writes every job and quality metric of a run as an EMF document the specification accepts, under [all], [JobName] and [JobName, Table]', async () => {
    const local = openLocalLake(await tempDir('emf'), { threads: 1 });
    const lines: string[] = [];
    const lake: Lake = { ...local, metrics: new EmfMetricsSink('Medallion', (line) => void lines.push(line)) };
    // The job's one source: a committed table.
    await runJob(lake, defineJob({ name: 'bronze.seed', description: 'Seed.', sources: { s: { kind: 'landing', prefix: 'landing/none/' } }, outputs: [seed], transform: () => ({ outputs: { 'bronze.seed': 'SELECT 1::BIGINT AS id' } }) }));
    const quality = new Map([['silver.items', parseTableRuleSet('silver.items', 'Rules = [\n  IsComplete "name",\n  RowCount = 10,\n  ColumnValues "name" matches "n[0-9]+"  # action: quarantine\n]', 'quality/rules/silver.items.dqdl')]]);
    const result = await runJob(lake, itemsJob, { quality });

    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(emfProblems(line), line).toEqual([]);
    }
    const documents = lines.map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } });
    const named = (name: string) => documents.filter((document) => document._aws.CloudWatchMetrics[0]?.Metrics[0]?.Name === name && document.JobRunId === result.runId);
    const failed = named('glue.data.quality.rules.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ JobName: 'silver.items', Table: 'silver.items', 'glue.data.quality.rules.failed': 2 });
    expect(failed[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['JobName', 'Type', 'Table'], ['JobName'], ['JobName', 'Table']]);
    expect(named('glue.data.quality.rules.passed')[0]).toMatchObject({ 'glue.data.quality.rules.passed': 1 });
    expect(named('medallion.quality.rowsQuarantined')[0]).toMatchObject({ 'medallion.quality.rowsQuarantined': 2 });
    // Each rule's measured value, by its metric name.
    expect(named('medallion.quality.value').map((document) => [document.Metric, document['medallion.quality.value']])).toEqual(
      expect.arrayContaining([['Dataset.*.RowCount', 8], ['Column.name.Completeness', 1]]),
    );
    // Job metrics keep their two dimension sets.
    expect(named('glue.driver.aggregate.recordsRead')[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['JobName', 'Type'], ['JobName']]);
  });

  it('the specification check finds what a broken document gets wrong', () => {
    const good = { _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['JobName']], Metrics: [{ Name: 'm', Unit: 'Count' }] }] }, JobName: 'j', m: 1 };
    expect(emfProblems(JSON.stringify(good))).toEqual([]);
    expect(emfProblems(JSON.stringify({ ...good, m: 'one' }))).toEqual(['metric m is "one"']);
    expect(emfProblems(JSON.stringify({ ...good, JobName: 3 }))).toEqual(['dimension JobName is 3']);
    expect(emfProblems(JSON.stringify({ ...good, _aws: { ...good._aws, CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'm', Unit: 'Things' }] }] } }))).not.toEqual([]);
    expect(emfProblems('{"_aws": {}}')).not.toEqual([]);
  });
});
