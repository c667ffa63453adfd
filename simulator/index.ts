export type { LandingSink } from './landing-sink.ts';
export {
  GenerateOptionsSchema,
  parseGenerateOptions,
  type GenerateOptions,
  type GenerateOptionsInput,
} from './generate-options.ts';
export type { GenerateSummary } from './generate-summary.ts';
export { generateLanding } from './generate-landing.ts';
export { estimateEventCount, tasksPerDayForEvents } from './event-volume.ts';
export { EVENT_NAMES, SOURCES, SOURCE_NAMES, type EventName, type SourceName } from './cdc-event.ts';
export { MALFORMED_KINDS, type MalformedKind } from './malformed-record.ts';
export { generateTraffic, type TrafficOptions, type TrafficSummary } from './generate-traffic.ts';
export { FIREHOSE_BATCH_BYTES, FIREHOSE_BATCH_RECORDS, generateFirehose, type FirehoseSummary } from './generate-firehose.ts';
