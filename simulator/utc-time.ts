export const MS_PER_SECOND = 1_000;
export const MS_PER_MINUTE = 60 * MS_PER_SECOND;
export const MS_PER_HOUR = 60 * MS_PER_MINUTE;
export const MS_PER_DAY = 24 * MS_PER_HOUR;

/** Milliseconds since the epoch of 00:00 UTC on a `YYYY-MM-DD` date. */
export function utcMidnightMs(isoDate: string): number {
  const ms = Date.parse(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new RangeError(`not a date: ${isoDate}`);
  return ms;
}

// A million events format several million timestamps; `Date#toISOString` was a tenth of the run, so
// dates come from a per-day cache and the time of day from lookup tables.
const isoDateByDay = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/** `YYYY-MM-DD` of a day counted from the epoch. */
export function isoDateOfDay(epochDay: number): string {
  let date = isoDateByDay.get(epochDay);
  if (date === undefined) {
    date = new Date(epochDay * MS_PER_DAY).toISOString().slice(0, 10);
    isoDateByDay.set(epochDay, date);
  }
  return date;
}

/** `2025-11-01T09:00:00.123Z` (what `Date#toISOString` gives): what the Todo API writes into `createdAt` and `updatedAt`. */
export function isoTimestamp(ms: number): string {
  const day = Math.floor(ms / MS_PER_DAY);
  let rest = ms - day * MS_PER_DAY;
  const hours = Math.floor(rest / MS_PER_HOUR);
  rest -= hours * MS_PER_HOUR;
  const minutes = Math.floor(rest / MS_PER_MINUTE);
  rest -= minutes * MS_PER_MINUTE;
  const seconds = Math.floor(rest / MS_PER_SECOND);
  const millis = Math.floor(rest - seconds * MS_PER_SECOND);
  return `${isoDateOfDay(day)}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}Z`;
}

export function epochDayOf(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

/** The two spellings of an arrival time in a Firehose key: the `YYYY/MM/DD/HH` folder and the `YYYY-MM-DD-HH-mm-ss` stamp. */
export function firehoseKeyTime(ms: number): { folder: string; stamp: string } {
  const iso = new Date(ms).toISOString(); // 2025-11-01T09:05:33.000Z
  const date = iso.slice(0, 10);
  const hour = iso.slice(11, 13);
  return {
    folder: `${date.replaceAll('-', '/')}/${hour}`,
    stamp: `${date}-${hour}-${iso.slice(14, 16)}-${iso.slice(17, 19)}`,
  };
}
