import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { MetricDatum, MetricsSink } from './metrics-sink.ts';

/**
 * Appends every datum to `history.jsonl` and keeps `medallion.prom` (Prometheus text format, for the
 * node exporter's textfile collector) holding the latest value of each metric per job. Emits of one sink
 * are serialized; two processes emitting at the same instant may drop a series from the .prom file (never
 * from the history).
 */
export class LocalMetricsSink implements MetricsSink {
  readonly directory: string;
  private pending: Promise<void> = Promise.resolve();

  constructor(directory: string) {
    this.directory = path.resolve(directory);
  }

  get historyPath(): string {
    return path.join(this.directory, 'history.jsonl');
  }

  get prometheusPath(): string {
    return path.join(this.directory, 'medallion.prom');
  }

  get eventsPath(): string {
    return path.join(this.directory, 'events.jsonl');
  }

  async emitEvent(event: object): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    await appendFile(this.eventsPath, `${JSON.stringify(event)}\n`);
  }

  get latestPath(): string {
    return path.join(this.directory, 'latest.json');
  }

  async emit(datums: readonly MetricDatum[]): Promise<void> {
    if (datums.length === 0) return;
    // One emit at a time per sink: each rewrites the latest values, and must see the one before it.
    const previous = this.pending;
    const current = previous.then(async () => {
      await mkdir(this.directory, { recursive: true });
      await appendFile(this.historyPath, datums.map((datum) => `${JSON.stringify(datum)}\n`).join(''));
      await this.rewritePrometheus(datums);
    });
    this.pending = current.catch(() => undefined);
    await current;
  }

  /** Keeps the latest value per series in `latest.json` and renders `medallion.prom` from it. */
  private async rewritePrometheus(datums: readonly MetricDatum[]): Promise<void> {
    const latest = new Map<string, PrometheusSample>(
      Object.entries(JSON.parse(await readFile(this.latestPath, 'utf8').catch(() => '{}')) as Record<string, PrometheusSample>),
    );
    for (const datum of datums) {
      const metric = prometheusName(datum.name);
      // The run id changes every run; keeping it as a label would grow the file without bound.
      const labels = Object.entries(datum.dimensions)
        .filter(([key]) => key !== 'JobRunId')
        .map(([key, value]) => `${prometheusLabelName(key)}="${escapeLabelValue(value)}"`)
        .join(',');
      const labelText = labels ? `{${labels}}` : '';
      latest.set(`${metric}${labelText}`, { metric, labels: labelText, value: datum.value, timestampMs: Math.round(datum.timestampMs) });
    }
    const lines = [...latest.values()]
      .sort((a, b) => (a.metric + a.labels).localeCompare(b.metric + b.labels))
      .map((entry) => `${entry.metric}${entry.labels} ${entry.value} ${entry.timestampMs}`);
    await writeAtomically(this.latestPath, JSON.stringify(Object.fromEntries(latest)));
    await writeAtomically(this.prometheusPath, `${lines.join('\n')}\n`);
  }
}

interface PrometheusSample {
  readonly metric: string;
  readonly labels: string;
  readonly value: number;
  readonly timestampMs: number;
}

/** Writes through a temporary file of its own, so concurrent writers never trip over each other's. */
async function writeAtomically(target: string, text: string): Promise<void> {
  const temporary = `${target}.${randomUUID()}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, target);
}

function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Label names may not contain ':' (metric names may). */
function prometheusLabelName(name: string): string {
  return prometheusName(name).replaceAll(':', '_');
}

/** `glue.driver.aggregate.recordsRead` becomes `glue_driver_aggregate_recordsRead`. */
export function prometheusName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`;
}
