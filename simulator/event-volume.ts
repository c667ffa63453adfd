import { hourlyActivity } from './daily-rhythm.ts';
import { parseGenerateOptions, type GenerateOptionsInput } from './generate-options.ts';
import { MS_PER_HOUR, utcMidnightMs } from './utc-time.ts';

// Fitted to runs of the simulator (days 1..60): a task's chain averages about 3.09 events when it has
// time to finish; tasks created near the end of the period are cut short, which costs the whole run
// about 1.45 task-days' worth of events per task-per-day, mostly within the last day or two.
const EVENTS_PER_FINISHED_TASK = 3.085;
const END_OF_PERIOD_LOSS = 1.45;
const END_OF_PERIOD_LOSS_DAYS = 1.27;
// Each user signs up once; about 1.1% of live users change plan or leave each day, and on average
// about 77% of the final user base has signed up at any time.
const USER_CHANGES_PER_DAY = 0.011;
const MEAN_SIGNED_UP_SHARE = 0.77;

/**
 * About how many well-formed change events `generateLanding` writes for these options (within a few
 * percent for runs of a few thousand events or more; malformed records and duplicate copies not included).
 *
 * @example
 * estimateEventCount({ days: 30, users: 20_000, tasksPerDay: 9_000 }); // ≈ 830_000
 */
export function estimateEventCount(options: GenerateOptionsInput = {}): number {
  const parsed = parseGenerateOptions(options);
  const tasks = parsed.tasksPerDay * creationDays(parsed.start, parsed.days);
  return Math.round(tasks * eventsPerTask(parsed.days) + userEvents(parsed.users, parsed.days));
}

/**
 * The `tasksPerDay` that makes a run of `days` days with `users` users come out at about `targetEvents` events.
 *
 * @example
 * const tasksPerDay = tasksPerDayForEvents(1_000_000, { days: 30, users: 20_000 }); // ≈ 10_900
 * await generateLanding(storage, { days: 30, users: 20_000, tasksPerDay });
 */
export function tasksPerDayForEvents(targetEvents: number, options: GenerateOptionsInput = {}): number {
  const parsed = parseGenerateOptions(options);
  const perTaskPerDay = creationDays(parsed.start, parsed.days) * eventsPerTask(parsed.days);
  return Math.max(0, Math.round((targetEvents - userEvents(parsed.users, parsed.days)) / perTaskPerDay));
}

function eventsPerTask(days: number): number {
  return EVENTS_PER_FINISHED_TASK - (END_OF_PERIOD_LOSS * (1 - Math.exp(-days / END_OF_PERIOD_LOSS_DAYS))) / days;
}

function userEvents(users: number, days: number): number {
  return users * (1 + USER_CHANGES_PER_DAY * MEAN_SIGNED_UP_SHARE * days);
}

/** Days' worth of task creations: `days`, weighted by weekday (busier) and weekend (quieter). */
function creationDays(start: string, days: number): number {
  const startMs = utcMidnightMs(start);
  let activity = 0;
  for (let hour = 0; hour < days * 24; hour++) activity += hourlyActivity(startMs + hour * MS_PER_HOUR);
  return activity / 24;
}
