import { rm } from 'node:fs/promises';
import { openLocalLake } from '../core/index.ts';
import { generateLanding, tasksPerDayForEvents } from '../simulator/index.ts';
import { stampArrivalTimes } from './arrival-times.ts';

export const BENCH_START = '2025-10-01';

/** Writes a benchmark lake of about `events` change events over `days` days and prints the summary as JSON. */
export async function generateBenchLake(directory: string, events: number, seed: number, days: number): Promise<unknown> {
  await rm(directory, { recursive: true, force: true });
  const users = Math.max(50, Math.round(events / 50));
  const tasksPerDay = tasksPerDayForEvents(events, { days: days, users });
  const lake = openLocalLake(directory);
  const summary = await generateLanding(lake.storage, { seed, days: days, users, tasksPerDay, start: BENCH_START });
  await stampArrivalTimes(directory);
  return { ...summary, days: days, users, tasksPerDay };
}

const [directory, events, seed, days] = process.argv.slice(2);
if (directory && events) {
  const summary = await generateBenchLake(directory, Number(events), Number(seed ?? 1), Number(days ?? 30));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
