import { dayStartMs, sampleMsOfDay } from './daily-rhythm.ts';
import type { SeededRandom } from './seeded-random.ts';
import { STATUS_DONE, STATUS_IN_PROGRESS, STATUS_TODO } from './task-table.ts';
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE } from './utc-time.ts';

/** What can happen to a task after it is created. Codes are index + 1; 0 (NO_STEP) means nothing more happens. */
export const TASK_STEPS = ['edit', 'start', 'complete', 'reopen', 'delete'] as const;
export type TaskStep = (typeof TASK_STEPS)[number];

export function stepCode(step: TaskStep): number {
  return TASK_STEPS.indexOf(step) + 1;
}

export function stepOfCode(code: number): TaskStep | undefined {
  return TASK_STEPS[code - 1];
}

interface StepChance {
  readonly step: TaskStep;
  readonly probability: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

// Each task is one chain of events: after every event the next one (or none) is drawn from its status.
// The leftover probability is "nothing more happens". These numbers give about 3.1 events per task
// when the period is long enough for chains to finish (see estimateEventCount).
const NEXT_STEP_CHANCES: Readonly<Record<number, readonly StepChance[]>> = {
  [STATUS_TODO]: [
    { step: 'edit', probability: 0.35, minDelayMs: 1 * MS_PER_MINUTE, maxDelayMs: 6 * MS_PER_HOUR },
    { step: 'start', probability: 0.35, minDelayMs: 10 * MS_PER_MINUTE, maxDelayMs: 2 * MS_PER_DAY },
    { step: 'complete', probability: 0.12, minDelayMs: 30 * MS_PER_MINUTE, maxDelayMs: 5 * MS_PER_DAY },
    { step: 'delete', probability: 0.04, minDelayMs: 5 * MS_PER_MINUTE, maxDelayMs: 4 * MS_PER_DAY },
  ],
  [STATUS_IN_PROGRESS]: [
    { step: 'complete', probability: 0.65, minDelayMs: 15 * MS_PER_MINUTE, maxDelayMs: 3 * MS_PER_DAY },
    { step: 'edit', probability: 0.18, minDelayMs: 5 * MS_PER_MINUTE, maxDelayMs: 1 * MS_PER_DAY },
    { step: 'delete', probability: 0.03, minDelayMs: 30 * MS_PER_MINUTE, maxDelayMs: 4 * MS_PER_DAY },
  ],
  [STATUS_DONE]: [
    { step: 'reopen', probability: 0.07, minDelayMs: 5 * MS_PER_MINUTE, maxDelayMs: 2 * MS_PER_DAY },
    { step: 'delete', probability: 0.13, minDelayMs: 1 * MS_PER_HOUR, maxDelayMs: 4 * MS_PER_DAY },
  ],
};

/** A chain stops after this many events, so no task churns forever. */
export const MAX_EVENTS_PER_TASK = 16;

// Beyond this delay the exact delay matters less than the time of day people work, so the time is
// re-drawn from the daily rhythm on the target day.
const RHYTHM_SNAP_AFTER_MS = 4 * MS_PER_HOUR;
/** Two events of one task are at least this far apart, so their event times never tie. */
const MIN_STEP_GAP_MS = MS_PER_MINUTE;

/** The next thing that happens to a task in `status` whose last event was at `nowMs`, or undefined for nothing. */
export function planNextStep(status: number, nowMs: number, random: SeededRandom): { step: TaskStep; atMs: number } | undefined {
  const chances = NEXT_STEP_CHANCES[status] ?? [];
  let draw = random.next();
  for (const chance of chances) {
    draw -= chance.probability;
    if (draw >= 0) continue;
    const delayMs = random.logUniform(chance.minDelayMs, chance.maxDelayMs);
    let atMs = Math.floor(nowMs + delayMs);
    if (delayMs > RHYTHM_SNAP_AFTER_MS) {
      const snappedMs = dayStartMs(atMs) + sampleMsOfDay(random);
      if (snappedMs >= nowMs + MIN_STEP_GAP_MS) atMs = snappedMs;
    }
    return { step: chance.step, atMs };
  }
  return undefined;
}
