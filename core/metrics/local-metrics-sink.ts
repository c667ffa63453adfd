import { appendFile, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { METRIC_CATALOG, NOT_LABELS, prometheusLabelName, prometheusMetricName } from './metric-catalog.ts';
import type { MetricDatum, MetricsSink } from './metrics-sink.ts';

/**
 * Appends every datum to `history.jsonl` and keeps `medallion.prom` (Prometheus text format, for the
 * node exporter's textfile collector) holding the latest value of each gauge per series and the running
 * total of each counter (see METRIC_CATALOG). Emits of one sink
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
      // Other processes (a run beside the nightly chain) rewrite the same file: one at a time, across processes.
      await withFileLock(path.join(this.directory, 'latest.lock'), () => this.rewritePrometheus(datums));
    });
    this.pending = current.catch(() => undefined);
    await current;
  }

  /**
   * Keeps each series' value in `latest.json` (the latest for a gauge, the sum for a counter) and renders
   * `medallion.prom` from it in Prometheus' text exposition format, as node_exporter's textfile collector
   * takes it: `# HELP` and `# TYPE` for each metric, no client-side timestamps, and the same label names on
   * every series of a metric (a label a datum lacks is empty). The run id and Glue's Type are not labels (NOT_LABELS).
   */
  private async rewritePrometheus(datums: readonly MetricDatum[]): Promise<void> {
    const latest = new Map<string, PrometheusSample>(
      Object.entries(parseLatest(await readFile(this.latestPath, 'utf8').catch(() => '{}')))
        .filter(([, sample]) => Array.isArray(sample.labels)),
    );
    for (const datum of datums) {
      const metric = prometheusMetricName(datum.name);
      const labels = Object.entries(datum.dimensions)
        .filter(([key]) => !NOT_LABELS.has(key))
        .map(([key, value]): [string, string] => [prometheusLabelName(key), value])
        .sort(([a], [b]) => a.localeCompare(b));
      const series = `${metric}${JSON.stringify(labels)}`;
      const counter = METRIC_CATALOG[datum.name]?.type === 'counter';
      const value = counter ? (latest.get(series)?.value ?? 0) + datum.value : datum.value;
      latest.set(series, { name: datum.name, metric, labels, value });
    }
    await writeAtomically(this.latestPath, JSON.stringify(Object.fromEntries(latest)));
    await writeAtomically(this.prometheusPath, renderExposition([...latest.values()]));
  }
}

/** The text exposition format of `samples`: families sorted by name, each with its HELP and TYPE. */
export function renderExposition(samples: readonly PrometheusSample[]): string {
  const families = new Map<string, PrometheusSample[]>();
  for (const sample of samples) families.set(sample.metric, [...(families.get(sample.metric) ?? []), sample]);
  const lines: string[] = [];
  for (const metric of [...families.keys()].sort()) {
    const members = families.get(metric)!;
    const described = METRIC_CATALOG[members[0]!.name];
    const labelNames = [...new Set(members.flatMap((sample) => sample.labels.map(([name]) => name)))].sort();
    lines.push(`# HELP ${metric} ${escapeHelp(described?.help ?? `medallion metric ${members[0]!.name}`)}`, `# TYPE ${metric} ${described?.type ?? 'gauge'}`);
    const rendered = members.map((sample) => {
      const values = new Map(sample.labels);
      const labelText = labelNames.map((name) => `${name}="${escapeLabelValue(values.get(name) ?? '')}"`).join(',');
      return `${metric}${labelText ? `{${labelText}}` : ''} ${formatValue(sample.value)}`;
    });
    lines.push(...rendered.sort());
  }
  return `${lines.join('\n')}\n`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

/** `latest.json`, or nothing when it cannot be read (cut short by a crash): the next emits rebuild it. */
function parseLatest(text: string): Record<string, PrometheusSample> {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, PrometheusSample>) : {};
  } catch {
    return {};
  }
}

/** A lock older than this belongs to a process that died holding it. */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `work` holding `lockPath`, a file created exclusively (O_EXCL), so processes sharing the folder take turns;
 * one left by a process that died is taken over once older than STALE_LOCK_MS.
 */
async function withFileLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lockPath).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await unlink(lockPath).catch(() => undefined);
      else await new Promise((resolve) => setTimeout(resolve, Math.min(50, 5 + attempt)));
    }
  }
  try {
    return await work();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

export interface PrometheusSample {
  /** The datum's name (the catalog's key). */
  readonly name: string;
  /** The Prometheus metric name. */
  readonly metric: string;
  /** Label name and value pairs, sorted by name. */
  readonly labels: readonly (readonly [string, string])[];
  readonly value: number;
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
