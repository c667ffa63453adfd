import { beforeAll, describe, expect, it } from 'vitest';
import { MALFORMED_KINDS } from '../../simulator/index.ts';
import { classifyLanding, countBy, keyArrivalMs, objectText, runInMemory, splitRecords, type LandingRun } from './landing-reader.ts';

const MODEST = { days: 3, users: 80, tasksPerDay: 400, seed: 11 } as const;
const MS_PER_DAY = 86_400_000;

/** The quarantine reason each malformed kind must produce (docs/semantics.md). */
const REASONS_OF_KIND: Record<(typeof MALFORMED_KINDS)[number], readonly string[]> = {
  truncatedJson: ['invalid_json'],
  notAnObject: ['not_an_object'],
  missingEventId: ['missing_event_id'],
  unknownEventName: ['unknown_event_name'],
  missingEventTime: ['missing_event_time'],
  missingKey: ['missing_key'],
  missingNewImage: ['missing_new_image'],
  missingAttribute: ['missing_attribute'],
  wrongAttributeType: ['wrong_attribute_type'],
  invalidValue: ['invalid_status', 'invalid_priority', 'invalid_date', 'invalid_timestamp', 'invalid_plan'],
};

interface Observed {
  reasons: Record<string, number>;
  duplicates: number;
  duplicatesByteIdentical: boolean;
  lateObjects: number;
  keysOutOfOrder: number;
  /** Records outside late objects that some later event of their key precedes in file order. */
  overtakenRecords: number;
}

/** Faults as a reader of the files sees them, independent of the summary. */
function observe(run: LandingRun): Observed {
  const records = classifyLanding(run.objects);
  const reasons = countBy(records, (record) => record.verdict.reason);
  const firstText = new Map<string, string>();
  let duplicates = 0;
  let duplicatesByteIdentical = true;
  const timesByObject = new Map<string, number[]>();
  // Effective events of each key in file order (object key, then position).
  const fileOrder = new Map<string, number[]>();
  for (const record of records) {
    if (!('good' in record.verdict)) continue;
    const { good } = record.verdict;
    const seen = firstText.get(good.eventId);
    if (seen !== undefined) {
      duplicates++;
      if (seen !== record.text) duplicatesByteIdentical = false;
      continue;
    }
    firstText.set(good.eventId, record.text);
    (timesByObject.get(record.key) ?? timesByObject.set(record.key, []).get(record.key))?.push(good.eventTimeUs / 1000);
    const itemKey = `${record.source}:${JSON.stringify(good.keys)}`;
    (fileOrder.get(itemKey) ?? fileOrder.set(itemKey, []).get(itemKey))?.push(good.eventTimeUs);
  }
  const lateKeys = new Set<string>();
  for (const [key, times] of timesByObject) if (keyArrivalMs(key) - Math.max(...times) > MS_PER_DAY) lateKeys.add(key);
  let keysOutOfOrder = 0;
  for (const times of fileOrder.values()) if (times.some((time, index) => index > 0 && time < (times[index - 1] ?? 0))) keysOutOfOrder++;

  const latestSoFar = new Map<string, number>();
  const counted = new Set<string>();
  let overtakenRecords = 0;
  for (const record of records) {
    if (!('good' in record.verdict) || lateKeys.has(record.key) || counted.has(record.verdict.good.eventId)) continue;
    const { good } = record.verdict;
    counted.add(good.eventId);
    const itemKey = `${record.source}:${JSON.stringify(good.keys)}`;
    const latest = latestSoFar.get(itemKey) ?? Number.NEGATIVE_INFINITY;
    if (latest > good.eventTimeUs) overtakenRecords++;
    latestSoFar.set(itemKey, Math.max(latest, good.eventTimeUs));
  }
  return { reasons, duplicates, duplicatesByteIdentical, lateObjects: lateKeys.size, keysOutOfOrder, overtakenRecords };
}

describe('fault injection', () => {
  let faulty: LandingRun;
  let clean: LandingRun;
  beforeAll(async () => {
    [faulty, clean] = await Promise.all([runInMemory(MODEST), runInMemory({ ...MODEST, faultRate: 0 })]);
  });

  it('injects every fault kind at the default rate, and the files show exactly what the summary counts', () => {
    const { faults } = faulty.summary;
    const observed = observe(faulty);
    expect(faults.duplicates).toBeGreaterThan(0);
    expect(observed.duplicates).toBe(faults.duplicates);
    expect(observed.duplicatesByteIdentical).toBe(true);
    expect(faults.lateObjects).toBeGreaterThan(0);
    expect(observed.lateObjects).toBe(faults.lateObjects);
    expect(faults.outOfOrder).toBeGreaterThan(0);
    expect(observed.keysOutOfOrder).toBeGreaterThanOrEqual(1);
    for (const kind of MALFORMED_KINDS) {
      expect(faults.malformed[kind], kind).toBeGreaterThan(0);
      const seen = REASONS_OF_KIND[kind].reduce((sum, reason) => sum + (observed.reasons[reason] ?? 0), 0);
      expect(seen, kind).toBe(faults.malformed[kind]);
    }
  });

  it('keeps each fault kind near faultRate', () => {
    const events = Object.values(faulty.summary.eventsPerSource).reduce(
      (sum, byName) => sum + byName.INSERT + byName.MODIFY + byName.REMOVE,
      0,
    );
    const { faults } = faulty.summary;
    for (const count of [faults.duplicates, faults.outOfOrder, ...Object.values(faults.malformed)]) {
      expect(count / events).toBeGreaterThan(0.004);
      expect(count / events).toBeLessThan(0.02);
    }
    expect(faults.lateObjects / faulty.summary.objectsWritten).toBeLessThan(0.03);
  });

  it('puts each out-of-order record in a later object than the next event of its key', () => {
    // Outside late objects, only the out-of-order fault lets a later event of a key come first; the
    // few held-back records that then landed in a late object themselves are not seen here.
    const { outOfOrder, lateRecords } = faulty.summary.faults;
    const { overtakenRecords } = observe(faulty);
    expect(overtakenRecords).toBeLessThanOrEqual(outOfOrder);
    expect(overtakenRecords).toBeGreaterThanOrEqual(outOfOrder - lateRecords);
    expect(overtakenRecords).toBeGreaterThan(0);
  });

  it('never opens an object with a malformed record, and keeps non-object records to newline-delimited objects', () => {
    const newlineDelimited = new Map([...faulty.objects].map(([key, body]) => [key, splitRecords(objectText(body)).newlineDelimited]));
    for (const record of classifyLanding(faulty.objects)) {
      if (record.verdict.reason === 'ok') continue;
      expect(record.index).toBeGreaterThan(0);
      if (['invalid_json', 'not_an_object'].includes(record.verdict.reason)) expect(newlineDelimited.get(record.key)).toBe(true);
    }
  });

  it('injects nothing with faultRate 0', () => {
    const { faults } = clean.summary;
    expect(faults.duplicates + faults.outOfOrder + faults.lateObjects + faults.lateRecords).toBe(0);
    expect(Object.values(faults.malformed).every((count) => count === 0)).toBe(true);
    const observed = observe(clean);
    expect(observed.reasons).toEqual({ ok: clean.summary.recordsPerSource.tasks + clean.summary.recordsPerSource.users });
    expect(observed.duplicates).toBe(0);
    expect(observed.lateObjects).toBe(0);
    expect(observed.keysOutOfOrder).toBe(0);
    expect(observed.overtakenRecords).toBe(0);
  });

  it('keeps the good traffic of a seed whatever the fault rate', () => {
    const normalize = (record: Record<string, unknown>): string => {
      const { ApproximateCreationDateTime, ApproximateCreationDateTimePrecision, ...dynamodb } = record.dynamodb as Record<string, unknown>;
      const precision = ApproximateCreationDateTimePrecision ?? 'MILLISECOND';
      const timeUs = (ApproximateCreationDateTime as number) * (precision === 'MICROSECOND' ? 1 : 1000);
      return JSON.stringify({ ...record, dynamodb: { ...dynamodb, timeUs } });
    };
    const events = (run: LandingRun): Map<string, string> => {
      const map = new Map<string, string>();
      for (const record of classifyLanding(run.objects)) {
        if ('good' in record.verdict) map.set(record.verdict.good.eventId, normalize(record.verdict.good.record));
      }
      return map;
    };
    const cleanEvents = events(clean);
    const faultyEvents = events(faulty);
    expect(faultyEvents.size).toBe(cleanEvents.size);
    for (const [eventId, text] of cleanEvents) expect(faultyEvents.get(eventId), eventId).toBe(text);
  });
});
