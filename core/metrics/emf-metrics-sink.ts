import { cloudWatchDimensionSets, type MetricDatum, type MetricsSink } from './metrics-sink.ts';

/**
 * CloudWatch Embedded Metric Format on a stream (stdout in the job container, which the awslogs driver
 * ships to CloudWatch Logs, where the metrics are extracted): one JSON line per datum under `namespace`,
 * with two dimension sets: all its dimensions, and JobName alone. Events go out as lines of their own (`"medallion.event": true`),
 * for a metric filter or a subscription to pick up.
 *
 * @example
 * const sink = new EmfMetricsSink('Medallion', (line) => process.stdout.write(line));
 */
export class EmfMetricsSink implements MetricsSink {
  readonly namespace: string;
  private readonly write: (line: string) => void;

  constructor(namespace: string, write: (line: string) => void = (line) => void process.stdout.write(line)) {
    this.namespace = namespace;
    this.write = write;
  }

  async emit(datums: readonly MetricDatum[]): Promise<void> {
    for (const datum of datums) {
      const sets = cloudWatchDimensionSets(datum.dimensions).map((dimensions) => Object.keys(dimensions));
      this.write(`${JSON.stringify({
        _aws: {
          Timestamp: datum.timestampMs,
          CloudWatchMetrics: [{ Namespace: this.namespace, Dimensions: sets, Metrics: [{ Name: datum.name, Unit: datum.unit }] }],
        },
        ...datum.dimensions,
        [datum.name]: datum.value,
      })}\n`);
    }
  }

  async emitEvent(event: object): Promise<void> {
    this.write(`${JSON.stringify({ 'medallion.event': true, ...event })}\n`);
  }
}
