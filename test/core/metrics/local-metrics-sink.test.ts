import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalMetricsSink, prometheusName, type MetricDatum } from '../../../core/metrics/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** One line of the Prometheus text format: name, optional labels, value, millisecond timestamp. */
const PROMETHEUS_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? -?[0-9.e+]+ [0-9]+$/;

function datum(name: string, value: number, dimensions: Record<string, string>, timestampMs = 1_762_000_000_000): MetricDatum {
  return { name, value, unit: 'Count', dimensions, timestampMs };
}

async function sink(): Promise<LocalMetricsSink> {
  return new LocalMetricsSink(path.join(await tempDir('metrics'), '_metrics'));
}

async function promLines(metrics: LocalMetricsSink): Promise<string[]> {
  const text = await readFile(metrics.prometheusPath, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

describe('LocalMetricsSink', () => {
  it('appends every datum to history.jsonl, one JSON object a line', async () => {
    const metrics = await sink();
    const first = [datum('glue.driver.aggregate.recordsRead', 10, { JobName: 'bronze.a', JobRunId: 'jr_1' }), datum('glue.driver.aggregate.bytesRead', 999, { JobName: 'bronze.a', JobRunId: 'jr_1' })];
    const second = [datum('glue.driver.aggregate.recordsRead', 12, { JobName: 'bronze.a', JobRunId: 'jr_2' })];
    await metrics.emit(first);
    await metrics.emit(second);
    const lines = (await readFile(metrics.historyPath, 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => JSON.parse(line) as unknown)).toEqual([...first, ...second]);
    expect(metrics.historyPath).toBe(path.join(metrics.directory, 'history.jsonl'));
  });

  it('writes nothing for an empty batch', async () => {
    const metrics = await sink();
    await metrics.emit([]);
    await expect(readFile(metrics.historyPath, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps one Prometheus line per metric and labels, with the latest value, without the run id', async () => {
    const metrics = await sink();
    await metrics.emit([
      datum('glue.driver.aggregate.recordsRead', 10, { JobName: 'bronze.a', JobRunId: 'jr_1', Type: 'count' }, 1000),
      datum('glue.driver.aggregate.recordsRead', 20, { JobName: 'bronze.b', JobRunId: 'jr_2', Type: 'count' }, 1000),
    ]);
    await metrics.emit([datum('glue.driver.aggregate.recordsRead', 11, { JobName: 'bronze.a', JobRunId: 'jr_3', Type: 'count' }, 2000)]);
    expect((await promLines(metrics)).sort()).toEqual([
      'glue_driver_aggregate_recordsRead{JobName="bronze.a",Type="count"} 11 2000',
      'glue_driver_aggregate_recordsRead{JobName="bronze.b",Type="count"} 20 1000',
    ]);
  });

  it('writes valid text-format lines: names cleaned, quotes and backslashes escaped, fractional values kept', async () => {
    const metrics = await sink();
    await metrics.emit([
      datum('glue.driver.aggregate.elapsedTime', 1234.5, { JobName: 'gold.kpis', JobRunId: 'jr_1' }, 1500.4),
      datum('medallion.job-records/written', 3, { 'Job.Name': 'say "hi" \\ bye' }),
      datum('9lives', 1, {}),
    ]);
    const lines = await promLines(metrics);
    for (const line of lines) expect(line).toMatch(PROMETHEUS_LINE);
    expect(lines).toContain('glue_driver_aggregate_elapsedTime{JobName="gold.kpis"} 1234.5 1500');
    expect(lines).toContain('medallion_job_records_written{Job_Name="say \\"hi\\" \\\\ bye"} 3 1762000000000');
    expect(lines).toContain('_9lives 1 1762000000000');
  });

  it('keeps series with escaped quotes across later emits', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'a "quoted" value' })]);
    await metrics.emit([datum('other', 2, {})]);
    expect((await promLines(metrics)).sort()).toEqual(['m{Note="a \\"quoted\\" value"} 1 1762000000000', 'other 2 1762000000000']);
  });

  // The text format escapes a line feed in a label value as \n; it is written raw, which splits the series in two broken lines.
  it('escapes a line feed in a label value', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'two\nlines' })]);
    const lines = await promLines(metrics);
    expect(lines).toEqual(['m{Note="two\\nlines"} 1 1762000000000']);
  });

  // On reading medallion.prom back, labels are matched with `\{[^}]*\}`, so a series whose label value holds `}`
  // is not recognized and silently disappears at the next emit.
  it('keeps a series whose label value contains a closing brace across later emits', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'a}b' })]);
    await metrics.emit([datum('other', 2, {})]);
    expect((await promLines(metrics)).sort()).toEqual(['m{Note="a}b"} 1 1762000000000', 'other 2 1762000000000']);
  });

  // Both emits write the same `medallion.prom.tmp`; the later rename fails with ENOENT, and one batch's
  // latest values are lost or doubled. Overlapping emits happen when two runs finish together.
  it('survives overlapping emits and keeps every series', async () => {
    const metrics = await sink();
    for (let round = 0; round < 10; round += 1) {
      await Promise.all(['a', 'b', 'c'].map((name) => metrics.emit([datum(name, round, { JobName: 'j' })])));
    }
    expect((await promLines(metrics)).sort()).toEqual(['a{JobName="j"} 9 1762000000000', 'b{JobName="j"} 9 1762000000000', 'c{JobName="j"} 9 1762000000000']);
  });
});

describe('prometheusName', () => {
  it.each([
    ['glue.driver.aggregate.recordsRead', 'glue_driver_aggregate_recordsRead'],
    ['medallion.job.recordsQuarantined', 'medallion_job_recordsQuarantined'],
    ['already_valid:name', 'already_valid:name'],
    ['with space-and/slash', 'with_space_and_slash'],
    ['1starts_with_digit', '_1starts_with_digit'],
    ['ünïcode', '_n_code'],
  ])('%s becomes %s', (name, expected) => {
    expect(prometheusName(name)).toBe(expected);
    expect(prometheusName(name)).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
  });
});
