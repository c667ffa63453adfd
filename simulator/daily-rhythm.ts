import type { SeededRandom } from './seeded-random.ts';
import { MS_PER_DAY, MS_PER_HOUR } from './utc-time.ts';

// Relative activity per UTC hour for European users of a todo app: quiet nights, a morning peak,
// a lunch dip, an afternoon peak and a long evening tail. Normalized below to a mean of 1.
const RAW_HOUR_WEIGHTS = [
  0.25, 0.15, 0.1, 0.1, 0.15, 0.35, 0.7, 1.3, 2.0, 2.3, 2.3, 2.1, 1.7, 1.9, 2.2, 2.2, 2.0, 1.7, 1.4, 1.2, 1.1, 0.9, 0.65, 0.4,
];
const RAW_MEAN = RAW_HOUR_WEIGHTS.reduce((sum, weight) => sum + weight, 0) / RAW_HOUR_WEIGHTS.length;

/** Activity of each UTC hour of the day relative to an average hour (mean 1). */
export const HOUR_OF_DAY_WEIGHTS: readonly number[] = RAW_HOUR_WEIGHTS.map((weight) => weight / RAW_MEAN);

// Weekdays are busier than weekends; 5 x 1.1 + 2 x 0.75 = 7, so a week averages to 1.
const WEEKDAY_FACTOR = 1.1;
const WEEKEND_FACTOR = 0.75;

/** Activity of the hour starting at `hourStartMs` relative to an average hour of an average week. */
export function hourlyActivity(hourStartMs: number): number {
  const date = new Date(hourStartMs);
  const weekday = date.getUTCDay();
  const dayFactor = weekday === 0 || weekday === 6 ? WEEKEND_FACTOR : WEEKDAY_FACTOR;
  return (HOUR_OF_DAY_WEIGHTS[date.getUTCHours()] ?? 1) * dayFactor;
}

/** A time of day (ms after midnight) drawn so that busy hours are drawn more often. */
export function sampleMsOfDay(random: SeededRandom): number {
  const hour = random.weightedIndex(HOUR_OF_DAY_WEIGHTS);
  return hour * MS_PER_HOUR + Math.floor(random.next() * MS_PER_HOUR);
}

/** Midnight (UTC) of the day holding `ms`. */
export function dayStartMs(ms: number): number {
  return Math.floor(ms / MS_PER_DAY) * MS_PER_DAY;
}
