import type { CdcEvent } from './cdc-event.ts';
import { MAX_BUFFER_INTERVAL_MS, MAX_RECORDS_PER_OBJECT, MIN_BUFFER_INTERVAL_MS } from './delivery-timing.ts';
import type { SeededRandom } from './seeded-random.ts';
import { MS_PER_SECOND } from './utc-time.ts';

/** A run of records Firehose delivers as one object. */
export interface BufferedObject {
  readonly records: readonly CdcEvent[];
  /** Arrival of the oldest record: the time in the object's key. */
  readonly firstArrivalMs: number;
  /** When Firehose closed the object. */
  readonly closedAtMs: number;
}

/**
 * One delivery stream's buffer. Records arrive in any order (each has its own delay); Firehose puts them
 * into objects in arrival order, opening an object at its first record and closing it when its buffer
 * interval ends or it is full.
 */
export class FirehoseBuffer {
  private pending: CdcEvent[] = [];
  private open: { startMs: number; closeAtMs: number } | undefined;

  constructor(private readonly random: SeededRandom) {}

  add(event: CdcEvent): void {
    this.pending.push(event);
  }

  /**
   * Start of the object left open by the last cut (+Infinity when none): objects still to come start no
   * earlier than this or the last cut's horizon, whichever is smaller.
   */
  get nextObjectNotBeforeMs(): number {
    return this.open?.startMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Objects that are complete once every record arriving before `horizonMs` has been added. The caller
   * promises that records added later all arrive at or after `horizonMs`; pass +Infinity to cut everything.
   */
  cut(horizonMs: number): BufferedObject[] {
    const pending = this.pending.sort((a, b) => a.arrivalMs - b.arrivalMs || a.sequence - b.sequence);
    const objects: BufferedObject[] = [];
    let first = 0;
    while (first < pending.length && (pending[first]?.arrivalMs ?? Number.POSITIVE_INFINITY) < horizonMs) {
      const startMs = pending[first]?.arrivalMs ?? 0;
      this.open ??= { startMs, closeAtMs: startMs + this.random.int(MIN_BUFFER_INTERVAL_MS, MAX_BUFFER_INTERVAL_MS) };
      const open = this.open;
      const limitMs = Math.min(open.closeAtMs, horizonMs);
      const startSecond = Math.floor(open.startMs / MS_PER_SECOND);
      let end = first;
      let full = false;
      for (; end < pending.length; end++) {
        const arrivalMs = pending[end]?.arrivalMs ?? Number.POSITIVE_INFINITY;
        if (arrivalMs >= limitMs) break;
        // A full object closes only once the stream reaches a new second, so the next object's key
        // (which has second resolution) sorts strictly after this one's.
        if (end - first >= MAX_RECORDS_PER_OBJECT && Math.floor(arrivalMs / MS_PER_SECOND) > startSecond) {
          full = true;
          break;
        }
      }
      if (!full && open.closeAtMs > horizonMs) break; // still open: later records may join it
      const records = pending.slice(first, end);
      const closedAtMs = full ? (records[records.length - 1]?.arrivalMs ?? open.startMs) : open.closeAtMs;
      objects.push({ records, firstArrivalMs: open.startMs, closedAtMs });
      this.open = undefined;
      first = end;
    }
    this.pending = pending.slice(first);
    return objects;
  }
}
