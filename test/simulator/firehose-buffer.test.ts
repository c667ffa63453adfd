import { describe, expect, it } from 'vitest';
import type { CdcEvent } from '../../simulator/cdc-event.ts';
import { MAX_BUFFER_INTERVAL_MS, MAX_RECORDS_PER_OBJECT } from '../../simulator/delivery-timing.ts';
import { FirehoseBuffer } from '../../simulator/firehose-buffer.ts';
import { SeededRandom } from '../../simulator/seeded-random.ts';

let sequence = 0;
function arriving(arrivalMs: number): CdcEvent {
  return {
    source: 'tasks',
    sequence: sequence++,
    eventId: `e${sequence}`,
    eventName: 'INSERT',
    eventTimeMs: arrivalMs - 1000,
    arrivalMs,
    keysJson: '{}',
    newImageJson: '{}',
    oldImageJson: undefined,
    sizeBytes: 1,
    deletedByTtl: false,
    pinnedInOrder: false,
  };
}

describe('FirehoseBuffer', () => {
  it('cuts objects in arrival order, each starting at its oldest record', () => {
    const buffer = new FirehoseBuffer(new SeededRandom(1, 'buffer'));
    const arrivals = [50_000, 10_000, 700_000, 20_000, 1_500_000];
    for (const arrivalMs of arrivals) buffer.add(arriving(arrivalMs));
    const objects = buffer.cut(Number.POSITIVE_INFINITY);
    expect(objects.flatMap((object) => object.records.map((record) => record.arrivalMs))).toEqual([...arrivals].sort((a, b) => a - b));
    for (const object of objects) {
      expect(object.firstArrivalMs).toBe(object.records[0]?.arrivalMs);
      for (const record of object.records) expect(record.arrivalMs).toBeLessThan(object.firstArrivalMs + MAX_BUFFER_INTERVAL_MS);
    }
  });

  it('keeps an object open across a horizon its buffer interval reaches past', () => {
    const buffer = new FirehoseBuffer(new SeededRandom(2, 'buffer'));
    buffer.add(arriving(3_590_000));
    expect(buffer.cut(3_600_000)).toEqual([]);
    expect(buffer.nextObjectNotBeforeMs).toBe(3_590_000);
    buffer.add(arriving(3_600_500));
    const [object] = buffer.cut(Number.POSITIVE_INFINITY);
    expect(object?.records.map((record) => record.arrivalMs)).toEqual([3_590_000, 3_600_500]);
  });

  it('closes a full object only at a new second, so keys never share a second', () => {
    const buffer = new FirehoseBuffer(new SeededRandom(3, 'buffer'));
    for (let index = 0; index < MAX_RECORDS_PER_OBJECT + 10; index++) buffer.add(arriving(1_000_000 + (index < MAX_RECORDS_PER_OBJECT + 5 ? 0 : 1000)));
    const objects = buffer.cut(Number.POSITIVE_INFINITY);
    expect(objects.map((object) => object.records.length)).toEqual([MAX_RECORDS_PER_OBJECT + 5, 5]);
    expect(objects[1]?.firstArrivalMs).toBe(1_001_000);
  });
});
