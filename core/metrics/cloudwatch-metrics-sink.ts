import { PutMetricDataCommand, type CloudWatchClient, type MetricDatum as CloudWatchDatum } from '@aws-sdk/client-cloudwatch';
import { cloudWatchDimensionSets, type MetricDatum, type MetricsSink } from './metrics-sink.ts';

/** PutMetricData takes at most 1000 datums per request. */
const DATUMS_PER_REQUEST = 1000;

/**
 * Metrics straight to CloudWatch with PutMetricData (for runs outside a log driver that extracts EMF):
 * each datum under `namespace` twice, with all its dimensions and with JobName alone, in requests of
 * up to 1000 datums. Events are printed as JSON lines, as the EMF sink prints them.
 *
 * @example
 * const sink = new CloudWatchMetricsSink(new CloudWatchClient({}), 'Medallion');
 */
export class CloudWatchMetricsSink implements MetricsSink {
  private readonly client: CloudWatchClient;
  readonly namespace: string;
  private readonly write: (line: string) => void;

  constructor(client: CloudWatchClient, namespace: string, write: (line: string) => void = (line) => void process.stdout.write(line)) {
    this.client = client;
    this.namespace = namespace;
    this.write = write;
  }

  async emit(datums: readonly MetricDatum[]): Promise<void> {
    const data: CloudWatchDatum[] = datums.flatMap((datum) => {
      return cloudWatchDimensionSets(datum.dimensions).map((dimensions) => ({
        MetricName: datum.name,
        Value: datum.value,
        Unit: datum.unit,
        Timestamp: new Date(datum.timestampMs),
        Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      }));
    });
    for (let start = 0; start < data.length; start += DATUMS_PER_REQUEST) {
      await this.client.send(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: data.slice(start, start + DATUMS_PER_REQUEST) }));
    }
  }

  async emitEvent(event: object): Promise<void> {
    this.write(`${JSON.stringify({ 'medallion.event': true, ...event })}\n`);
  }
}
