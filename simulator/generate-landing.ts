import { SOURCE_NAMES, type SourceName } from './cdc-event.ts';
import { FirehoseDelivery } from './firehose-delivery.ts';
import { parseGenerateOptions, type GenerateOptionsInput } from './generate-options.ts';
import { emptySummary, type GenerateSummary } from './generate-summary.ts';
import type { LandingSink } from './landing-sink.ts';
import { TodoTraffic } from './todo-traffic.ts';
import { isoTimestamp } from './utc-time.ts';

/**
 * Writes simulated DynamoDB change data for the Todo API into `sink` as Firehose would land it in S3:
 * one delivery stream per table, objects under `<keyPrefix><tasks|users>/YYYY/MM/DD/HH/`, with the
 * faults real pipelines see. The same options give byte-identical objects under identical keys.
 *
 * Runs hour by hour: an hour's events are generated, then every object they complete is written before
 * the next hour starts, so memory holds item state and a few minutes of records, not the event history.
 *
 * @example
 * const summary = await generateLanding(new LocalStorage('./lake'), { days: 2, users: 50, seed: 7 });
 * console.log(summary.objectsWritten, summary.eventsPerSource.tasks);
 */
export async function generateLanding(sink: LandingSink, options: GenerateOptionsInput = {}, progress: { onDay?: (day: number, days: number, summary: GenerateSummary) => void } = {}): Promise<GenerateSummary> {
  const parsed = parseGenerateOptions(options);
  const summary = emptySummary();
  const deliveries: Record<SourceName, FirehoseDelivery> = {
    tasks: new FirehoseDelivery('tasks', parsed, sink, summary),
    users: new FirehoseDelivery('users', parsed, sink, summary),
  };
  const traffic = new TodoTraffic(parsed, (event) => {
    summary.eventsPerSource[event.source][event.eventName]++;
    deliveries[event.source].add(event);
  });

  for (let hour = 0; hour < traffic.hourCount; hour++) {
    traffic.generateHour(hour);
    // Later hours' events happen, and so arrive, at or after this hour's end: what arrived before it is final.
    const horizonMs = traffic.hourEndMs(hour);
    await Promise.all(SOURCE_NAMES.map((source) => deliveries[source].deliver(horizonMs)));
    if ((hour + 1) % 24 === 0) progress.onDay?.((hour + 1) / 24, parsed.days, summary);
  }
  await Promise.all(SOURCE_NAMES.map((source) => deliveries[source].finish()));

  summary.faults.outOfOrder = traffic.outOfOrderInjected;
  if (Number.isFinite(traffic.firstEventMs)) summary.firstEventTime = isoTimestamp(traffic.firstEventMs);
  if (Number.isFinite(traffic.lastEventMs)) summary.lastEventTime = isoTimestamp(traffic.lastEventMs);
  return summary;
}
