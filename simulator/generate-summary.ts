import { EVENT_NAMES, SOURCE_NAMES, type EventName, type SourceName } from './cdc-event.ts';
import { MALFORMED_KINDS, type MalformedKind } from './malformed-record.ts';

/**
 * What a simulation wrote, for people (the CLI's `demo` prints it). The landing objects are the truth:
 * tests of the lake recompute their expectations from the files, not from this summary.
 */
export interface GenerateSummary {
  objectsWritten: number;
  bytesWritten: number;
  objectsPerSource: Record<SourceName, number>;
  /** Every record written: good, duplicate copies and malformed ones. */
  recordsPerSource: Record<SourceName, number>;
  /** Distinct well-formed change events, by eventName. */
  eventsPerSource: Record<SourceName, Record<EventName, number>>;
  faults: {
    /** Extra copies of a record (same bytes, same eventID) in the same or a later object. */
    duplicates: number;
    /** Events held back so that the key's next event lands in an earlier object. */
    outOfOrder: number;
    /** Objects that arrived days after their records, and the events they held. */
    lateObjects: number;
    lateRecords: number;
    /** Extra bad records, by kind. */
    malformed: Record<MalformedKind, number>;
  };
  /** ISO time of the earliest and latest well-formed event; null when there were none. */
  firstEventTime: string | null;
  lastEventTime: string | null;
}

export function emptySummary(): GenerateSummary {
  const perSource = <T>(make: () => T): Record<SourceName, T> =>
    Object.fromEntries(SOURCE_NAMES.map((source) => [source, make()])) as Record<SourceName, T>;
  return {
    objectsWritten: 0,
    bytesWritten: 0,
    objectsPerSource: perSource(() => 0),
    recordsPerSource: perSource(() => 0),
    eventsPerSource: perSource(() => Object.fromEntries(EVENT_NAMES.map((name) => [name, 0])) as Record<EventName, number>),
    faults: {
      duplicates: 0,
      outOfOrder: 0,
      lateObjects: 0,
      lateRecords: 0,
      malformed: Object.fromEntries(MALFORMED_KINDS.map((kind) => [kind, 0])) as Record<MalformedKind, number>,
    },
    firstEventTime: null,
    lastEventTime: null,
  };
}
