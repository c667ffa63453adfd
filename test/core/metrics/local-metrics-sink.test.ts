import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalMetricsSink, METRIC_CATALOG, prometheusName, type MetricDatum } from '../../../core/metrics/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** One sample line of the Prometheus text format: name, optional labels, value; no timestamp (the textfile collector refuses them). */
const PROMETHEUS_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? -?[0-9.e+]+$/;

function datum(name: string, value: number, dimensions: Record<string, string>, timestampMs = 1_762_000_000_000): MetricDatum {
  return { name, value, unit: 'Count', dimensions, timestampMs };
}

async function sink(): Promise<LocalMetricsSink> {
  return new LocalMetricsSink(path.join(await tempDir('metrics'), '_metrics'));
}

async function promText(metrics: LocalMetricsSink): Promise<string> {
  const text = await readFile(metrics.prometheusPath, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text;
}

/** The sample lines (not HELP or TYPE). */
async function promLines(metrics: LocalMetricsSink): Promise<string[]> {
  return (await promText(metrics)).slice(0, -1).split('\n').filter((line) => !line.startsWith('#'));
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

  it('keeps one Prometheus line per metric and labels, with the latest value, without the run id or a timestamp', async () => {
    const metrics = await sink();
    await metrics.emit([
      datum('glue.driver.aggregate.recordsRead', 10, { JobName: 'bronze.a', JobRunId: 'jr_1', Type: 'count' }, 1000),
      datum('glue.driver.aggregate.recordsRead', 20, { JobName: 'bronze.b', JobRunId: 'jr_2', Type: 'count' }, 1000),
    ]);
    await metrics.emit([datum('glue.driver.aggregate.recordsRead', 11, { JobName: 'bronze.a', JobRunId: 'jr_3', Type: 'count' }, 2000)]);
    expect((await promLines(metrics)).sort()).toEqual([
      'glue_driver_aggregate_records_read{job_name="bronze.a"} 11',
      'glue_driver_aggregate_records_read{job_name="bronze.b"} 20',
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
    expect(lines).toContain('glue_driver_aggregate_elapsed_time{job_name="gold.kpis"} 1234.5');
    expect(lines).toContain('medallion_job_records_written{job_name="say \\"hi\\" \\\\ bye"} 3');
    expect(lines).toContain('_9lives 1');
  });

  it('keeps series with escaped quotes across later emits', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'a "quoted" value' })]);
    await metrics.emit([datum('other', 2, {})]);
    expect((await promLines(metrics)).sort()).toEqual(['m{note="a \\"quoted\\" value"} 1', 'other 2']);
  });

  // The text format escapes a line feed in a label value as \n; it is written raw, which splits the series in two broken lines.
  it('escapes a line feed in a label value', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'two\nlines' })]);
    const lines = await promLines(metrics);
    expect(lines).toEqual(['m{note="two\\nlines"} 1']);
  });

  // On reading medallion.prom back, labels are matched with `\{[^}]*\}`, so a series whose label value holds `}`
  // is not recognized and silently disappears at the next emit.
  it('keeps a series whose label value contains a closing brace across later emits', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, { Note: 'a}b' })]);
    await metrics.emit([datum('other', 2, {})]);
    expect((await promLines(metrics)).sort()).toEqual(['m{note="a}b"} 1', 'other 2']);
  });

  // Both emits write the same `medallion.prom.tmp`; the later rename fails with ENOENT, and one batch's
  // latest values are lost or doubled. Overlapping emits happen when two runs finish together.
  it('survives overlapping emits and keeps every series', async () => {
    const metrics = await sink();
    for (let round = 0; round < 10; round += 1) {
      await Promise.all(['a', 'b', 'c'].map((name) => metrics.emit([datum(name, round, { JobName: 'j' })])));
    }
    expect((await promLines(metrics)).sort()).toEqual(['a{job_name="j"} 9', 'b{job_name="j"} 9', 'c{job_name="j"} 9']);
  });
});

describe('medallion.prom as node_exporter\'s textfile collector reads it', () => {
  it('gives every metric its HELP and TYPE once, before its samples', async () => {
    const metrics = await sink();
    await metrics.emit([
      datum('glue.driver.aggregate.recordsRead', 10, { JobName: 'bronze.a' }),
      datum('glue.driver.aggregate.recordsRead', 20, { JobName: 'bronze.b' }),
      datum('medallion.job.runs', 1, { JobName: 'bronze.a', State: 'FAILED' }),
    ]);
    expect((await promText(metrics)).split('\n')).toEqual([
      `# HELP glue_driver_aggregate_records_read ${METRIC_CATALOG['glue.driver.aggregate.recordsRead']!.help}`,
      '# TYPE glue_driver_aggregate_records_read gauge',
      'glue_driver_aggregate_records_read{job_name="bronze.a"} 10',
      'glue_driver_aggregate_records_read{job_name="bronze.b"} 20',
      `# HELP medallion_job_runs_total ${METRIC_CATALOG['medallion.job.runs']!.help}`,
      '# TYPE medallion_job_runs_total counter',
      'medallion_job_runs_total{job_name="bronze.a",state="FAILED"} 1',
      '',
    ]);
  });

  it('adds a counter up across emits (and processes), and keeps the latest value of a gauge', async () => {
    const metrics = await sink();
    const run = (state: string) => datum('medallion.job.runs', 1, { JobName: 'silver.t', State: state });
    await metrics.emit([run('FAILED'), datum('medallion.job.failed', 1, { JobName: 'silver.t' })]);
    await metrics.emit([run('SUCCEEDED'), datum('medallion.job.failed', 0, { JobName: 'silver.t' })]);
    // Another process's sink on the same folder goes on from the same totals.
    const again = new LocalMetricsSink(metrics.directory);
    await again.emit([run('FAILED')]);
    expect((await promLines(again)).sort()).toEqual([
      'medallion_job_last_run_failed{job_name="silver.t"} 0',
      'medallion_job_runs_total{job_name="silver.t",state="FAILED"} 2',
      'medallion_job_runs_total{job_name="silver.t",state="SUCCEEDED"} 1',
    ]);
  });

  it('adds up a counter that several processes write at once, and never shows it going down', async () => {
    const metrics = await sink();
    const root = path.join(import.meta.dirname, '..', '..', '..');
    const child = path.join(root, 'test', 'support', 'emit-counter-child.ts');
    const seen: number[] = [];
    let writing = true;
    const watch = (async () => {
      while (writing) {
        const line = (await readFile(metrics.prometheusPath, 'utf8').catch(() => '')).split('\n').find((text) => text.startsWith('medallion_job_runs_total'));
        if (line) seen.push(Number(line.split(' ').at(-1)));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await Promise.all([0, 1, 2].map(() => promisify(execFile)(process.execPath, ['--import', 'tsx', child, metrics.directory, '40'], { cwd: root })));
    writing = false;
    await watch;
    expect(await promLines(metrics)).toEqual(['medallion_job_runs_total{job_name="silver.t",state="SUCCEEDED"} 120']);
    expect(seen.every((value, index) => index === 0 || value >= seen[index - 1]!), `seen ${seen.join(' ')}`).toBe(true);
  }, 60_000);

  it('starts over from an unreadable latest.json (cut short by a crash) instead of failing every emit', async () => {
    const metrics = await sink();
    await metrics.emit([datum('m', 1, {})]);
    await writeFile(metrics.latestPath, '{"m[]": {"na');
    await metrics.emit([datum('other', 2, {})]);
    expect(await promLines(metrics)).toEqual(['other 2']);
  });

  it('gives every series of a metric the same label names, empty where a datum lacks one', async () => {
    const metrics = await sink();
    await metrics.emit([datum('medallion.quality.value', 5, { JobName: 'quality', Table: 'gold.k', Metric: 'RowCount' }), datum('medallion.quality.value', 7, { JobName: 'quality', Table: 'gold.k' })]);
    expect((await promLines(metrics)).sort()).toEqual([
      'medallion_quality_value{job_name="quality",metric="",table="gold.k"} 7',
      'medallion_quality_value{job_name="quality",metric="RowCount",table="gold.k"} 5',
    ]);
  });

  it('passes `promtool check metrics` (Debian\'s prometheus package) after a pipeline\'s worth of metrics', async () => {
    const metrics = await sink();
    const jobs = ['bronze.tasks_cdc', 'silver.tasks', 'gold.daily_task_kpis'];
    for (const [name, described] of Object.entries(METRIC_CATALOG)) {
      await metrics.emit(jobs.map((job, index) => datum(name, index + 0.5, described.type === 'counter' ? { JobName: job, State: 'SUCCEEDED' } : { JobName: job, JobRunId: `jr_${index}`, Type: 'count', Table: 'silver.tasks' })));
    }
    const check = spawnSync('promtool', ['check', 'metrics'], { input: await promText(metrics), encoding: 'utf8' });
    expect(check.error, 'promtool is installed by .ci/run (Debian package prometheus)').toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('prometheusName', () => {
  it.each([
    ['glue.driver.aggregate.recordsRead', 'glue_driver_aggregate_records_read'],
    ['medallion.job.recordsQuarantined', 'medallion_job_records_quarantined'],
    ['already_valid:name', 'already_valid:name'],
    ['with space-and/slash', 'with_space_and_slash'],
    ['1starts_with_digit', '_1starts_with_digit'],
    ['ünïcode', '_n_code'],
  ])('%s becomes %s', (name, expected) => {
    expect(prometheusName(name)).toBe(expected);
    expect(prometheusName(name)).toMatch(/^[a-z_:][a-z0-9_:]*$/);
  });
});
