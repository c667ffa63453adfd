import type { CdcEvent, SourceName } from './cdc-event.ts';
import { MAX_LATE_DELAY_MS, MIN_LATE_DELAY_MS } from './delivery-timing.ts';
import { FirehoseBuffer } from './firehose-buffer.ts';
import { encodeObject, firehoseObjectKey, type ObjectEncoding } from './firehose-object.ts';
import type { GenerateOptions } from './generate-options.ts';
import type { GenerateSummary } from './generate-summary.ts';
import { serializeKdsRecord, TIMESTAMP_PRECISIONS, type TimestampPrecision } from './kds-record.ts';
import type { LandingSink } from './landing-sink.ts';
import { MALFORMED_KINDS, malformedRecord, NEWLINE_ONLY_KINDS } from './malformed-record.ts';
import { SeededRandom } from './seeded-random.ts';
import { MS_PER_MINUTE, MS_PER_SECOND } from './utc-time.ts';

/** Most objects carry microseconds; a few come from a stream set to milliseconds, some of those unlabelled. */
const PRECISION_WEIGHTS: Readonly<Record<TimestampPrecision, number>> = {
  MICROSECOND: 0.94,
  MILLISECOND: 0.03,
  MILLISECOND_UNLABELLED: 0.03,
};

/** An object's records, ready to encode and name. */
interface RenderedObject {
  readonly lines: readonly string[];
  readonly encoding: ObjectEncoding;
  readonly uuid: string;
}

interface LateObject extends RenderedObject {
  readonly arrivalMs: number;
}

/**
 * One Firehose delivery stream: buffers a source's events into objects, writes each object to the
 * landing zone under a key that sorts by arrival time, and injects the delivery faults — duplicate
 * records, malformed records, late objects. Every key second is used once per stream, so keys sort
 * strictly by arrival even at second resolution.
 */
export class FirehoseDelivery {
  private readonly buffer: FirehoseBuffer;
  /** How objects look: buffer intervals, encodings, precisions, uuids. */
  private readonly layoutRandom: SeededRandom;
  private readonly faultRandom: SeededRandom;
  private readonly faultRate: number;
  /** Copies of records delivered again, waiting for the next object. */
  private redeliveries: string[] = [];
  private lateObjects: LateObject[] = [];
  private readonly usedKeySeconds = new Set<number>();
  private latestKeyMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: SourceName,
    private readonly options: GenerateOptions,
    private readonly sink: LandingSink,
    private readonly summary: GenerateSummary,
  ) {
    this.buffer = new FirehoseBuffer(new SeededRandom(options.seed, `buffer:${source}`));
    this.layoutRandom = new SeededRandom(options.seed, `layout:${source}`);
    this.faultRandom = new SeededRandom(options.seed, `faults:${source}`);
    this.faultRate = options.faultRate;
  }

  add(event: CdcEvent): void {
    this.buffer.add(event);
  }

  /** Writes every object that is complete once all records arriving before `horizonMs` are known. */
  async deliver(horizonMs: number): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const object of this.buffer.cut(horizonMs)) {
      const rendered = this.render(object.records);
      const pinned = object.records.some((record) => record.pinnedInOrder);
      if (this.faultRate > 0 && this.faultRandom.chance(this.faultRate) && !pinned) {
        const delayMs = this.faultRandom.int(MIN_LATE_DELAY_MS, MAX_LATE_DELAY_MS);
        this.lateObjects.push({ ...rendered, arrivalMs: object.closedAtMs + delayMs });
        this.summary.faults.lateObjects++;
        this.summary.faults.lateRecords += object.records.length;
        continue;
      }
      writes.push(this.write(this.claimKeySecond(object.firstArrivalMs), rendered));
    }
    writes.push(...this.deliverLateObjects(Math.min(horizonMs, this.buffer.nextObjectNotBeforeMs)));
    await Promise.all(writes);
  }

  /** Writes everything still buffered or held back; call once, after the last hour. */
  async finish(): Promise<void> {
    await this.deliver(Number.POSITIVE_INFINITY);
    if (this.redeliveries.length > 0) {
      // The last object's redelivered copies had no later object to go into: Firehose retries them alone.
      const lines = this.redeliveries;
      this.redeliveries = [];
      const arrivalMs = this.claimFreeSecond(this.latestKeyMs + MS_PER_MINUTE);
      await this.write(arrivalMs, { lines, encoding: this.drawEncoding(), uuid: this.layoutRandom.uuid() });
    }
  }

  private render(records: readonly CdcEvent[]): RenderedObject {
    const random = this.layoutRandom;
    const precision = TIMESTAMP_PRECISIONS[random.weightedIndex(TIMESTAMP_PRECISIONS.map((name) => PRECISION_WEIGHTS[name]))] ?? 'MICROSECOND';
    let encoding = this.drawEncoding();
    const uuid = random.uuid();
    // Redelivered copies come first, as a retried batch would; a good record always opens the object.
    const lines = this.redeliveries;
    this.redeliveries = [];
    const copiesInThisObject: string[] = [];
    for (const event of records) {
      const line = serializeKdsRecord(event, precision);
      lines.push(line);
      if (this.faultRate === 0) continue;
      const faults = this.faultRandom;
      if (faults.chance(this.faultRate)) {
        this.summary.faults.duplicates++;
        (faults.chance(0.5) ? copiesInThisObject : this.redeliveries).push(line);
      }
      for (const kind of MALFORMED_KINDS) {
        if (!faults.chance(this.faultRate)) continue;
        lines.push(malformedRecord(kind, event, precision, faults));
        this.summary.faults.malformed[kind]++;
        if (NEWLINE_ONLY_KINDS.has(kind)) encoding = { ...encoding, newlineDelimited: true };
      }
    }
    lines.push(...copiesInThisObject);
    return { lines, encoding, uuid };
  }

  private drawEncoding(): ObjectEncoding {
    return { gzip: this.layoutRandom.chance(0.5), newlineDelimited: this.layoutRandom.chance(0.5) };
  }

  /** Late objects whose arrival comes before any object still to be cut. */
  private deliverLateObjects(notAfterMs: number): Promise<void>[] {
    const writes: Promise<void>[] = [];
    const limitSecond = Math.floor(notAfterMs / MS_PER_SECOND);
    this.lateObjects.sort((a, b) => a.arrivalMs - b.arrivalMs);
    const waiting: LateObject[] = [];
    for (const late of this.lateObjects) {
      const arrivalMs = this.freeSecondFrom(late.arrivalMs);
      if (Math.floor(arrivalMs / MS_PER_SECOND) >= limitSecond) {
        waiting.push(late);
        continue;
      }
      writes.push(this.write(this.claimKeySecond(arrivalMs), late));
    }
    this.lateObjects = waiting;
    return writes;
  }

  /** The first arrival time at or after `arrivalMs` whose second no object of this stream has taken. */
  private freeSecondFrom(arrivalMs: number): number {
    let second = Math.floor(arrivalMs / MS_PER_SECOND);
    while (this.usedKeySeconds.has(second)) second++;
    return Math.max(arrivalMs, second * MS_PER_SECOND);
  }

  private claimFreeSecond(arrivalMs: number): number {
    return this.claimKeySecond(this.freeSecondFrom(arrivalMs));
  }

  private claimKeySecond(arrivalMs: number): number {
    this.usedKeySeconds.add(Math.floor(arrivalMs / MS_PER_SECOND));
    if (arrivalMs > this.latestKeyMs) this.latestKeyMs = arrivalMs;
    return arrivalMs;
  }

  private async write(arrivalMs: number, object: RenderedObject): Promise<void> {
    const key = firehoseObjectKey(this.options.keyPrefix, this.source, arrivalMs, object.uuid, object.encoding.gzip);
    this.summary.objectsWritten++;
    this.summary.objectsPerSource[this.source]++;
    this.summary.recordsPerSource[this.source] += object.lines.length;
    const body = await encodeObject(object.lines, object.encoding);
    this.summary.bytesWritten += body.length;
    await this.sink.put(key, body);
  }
}
