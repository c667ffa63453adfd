import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MetricDatum, MetricsSink } from './metrics-sink.ts';

/**
 * Appends every datum to `history.jsonl` and keeps `medallion.prom` (Prometheus text format, for the
 * node exporter's textfile collector) holding the latest value of each metric per job.
 */
export class LocalMetricsSink implements MetricsSink {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = path.resolve(directory);
  }

  get historyPath(): string {
    return path.join(this.directory, 'history.jsonl');
  }

  get prometheusPath(): string {
    return path.join(this.directory, 'medallion.prom');
  }

  async emit(datums: readonly MetricDatum[]): Promise<void> {
    if (datums.length === 0) return;
    await mkdir(this.directory, { recursive: true });
    await appendFile(this.historyPath, datums.map((datum) => `${JSON.stringify(datum)}\n`).join(''));
    await this.rewritePrometheus(datums);
  }

  private async rewritePrometheus(datums: readonly MetricDatum[]): Promise<void> {
    const latest = new Map<string, { metric: string; labels: string; value: number; timestampMs: number }>();
    for (const line of (await readFile(this.prometheusPath, 'utf8').catch(() => '')).split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+) (\d+)$/.exec(line);
      if (match) latest.set(`${match[1]}${match[2] ?? ''}`, { metric: match[1] as string, labels: match[2] ?? '', value: Number(match[3]), timestampMs: Number(match[4]) });
    }
    for (const datum of datums) {
      const metric = prometheusName(datum.name);
      // The run id changes every run; keeping it as a label would grow the file without bound.
      const labels = Object.entries(datum.dimensions)
        .filter(([key]) => key !== 'JobRunId')
        .map(([key, value]) => `${prometheusName(key)}="${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
        .join(',');
      const labelText = labels ? `{${labels}}` : '';
      latest.set(`${metric}${labelText}`, { metric, labels: labelText, value: datum.value, timestampMs: Math.round(datum.timestampMs) });
    }
    const lines = [...latest.values()]
      .sort((a, b) => (a.metric + a.labels).localeCompare(b.metric + b.labels))
      .map((entry) => `${entry.metric}${entry.labels} ${entry.value} ${entry.timestampMs}`);
    const temporary = `${this.prometheusPath}.tmp`;
    await writeFile(temporary, `${lines.join('\n')}\n`);
    await rename(temporary, this.prometheusPath);
  }
}

/** `glue.driver.aggregate.recordsRead` becomes `glue_driver_aggregate_recordsRead`. */
export function prometheusName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`;
}
