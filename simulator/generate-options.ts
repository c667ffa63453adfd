import { z } from 'zod';
import { ConfigError } from '../core/errors.ts';

/**
 * What to simulate. Every field has a default, so `{}` is a week of a 200-user Todo API.
 *
 * Volume: each task yields about 3 events on average (created, edited, started, completed, sometimes
 * reopened or deleted), fewer when the period is too short for tasks to finish; users add about one
 * event each plus ~1% plan changes a day. So `days * tasksPerDay * 3 + users` events, give or take;
 * `estimateEventCount` gives a closer figure and `tasksPerDayForEvents` solves it for a target.
 * Each fault kind adds about `faultRate` records per event on top.
 */
export const GenerateOptionsSchema = z.object({
  /** Same seed, same bytes. */
  seed: z.number().int().default(42),
  /** First simulated day (UTC). */
  start: z.iso.date().default('2025-11-01'),
  days: z.number().int().min(1).max(3660).default(7),
  users: z.number().int().min(1).max(999_999).default(200),
  /** Tasks created per day, on average over a week (weekdays see more, weekends fewer). */
  tasksPerDay: z.number().int().min(0).max(1_000_000).default(300),
  /** Rate of each fault kind, per event or per object; 0 gives clean data. */
  faultRate: z.number().min(0).max(1).default(0.01),
  /**
   * The id space of this generation: 0 for a new lake's, another for each run that adds days to it
   * (`generate --continue` takes the first day's number), so its users and tasks are new keys (`u-<space>-000001`).
   * Event ids always differ between generations of another start or seed.
   */
  idSpace: z.number().int().min(0).max(99_999_999).default(0),
  /** Prefix of every landing key; empty or ending in '/'. */
  keyPrefix: z
    .string()
    .refine((prefix) => prefix === '' || prefix.endsWith('/'), { message: "must be empty or end with '/'" })
    .default('landing/'),
});

export type GenerateOptions = z.infer<typeof GenerateOptionsSchema>;
/** What callers pass: any field may be left out for its default. */
export type GenerateOptionsInput = z.input<typeof GenerateOptionsSchema>;

/** Validates options at the edge; every problem is reported in one ConfigError. */
export function parseGenerateOptions(input: unknown): GenerateOptions {
  const result = GenerateOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`);
    throw new ConfigError('SIMULATOR_OPTIONS_INVALID', `invalid simulator options: ${problems.join('; ')}`, {
      hint: 'see GenerateOptionsSchema in simulator/generate-options.ts for the accepted values',
    });
  }
  return result.data;
}
