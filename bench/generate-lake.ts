import { rm } from 'node:fs/promises';
import { openLocalLake } from '../core/index.ts';
import { generateLanding, tasksPerDayForEvents } from '../simulator/index.ts';

/** Writes a benchmark lake of about `events` change events (30 days of traffic) and prints the summary as JSON. */
export async function generateBenchLake(directory: string, events: number, seed: number): Promise<unknown> {
  await rm(directory, { recursive: true, force: true });
  const days = 30;
  const users = Math.max(50, Math.round(events / 50));
  const tasksPerDay = tasksPerDayForEvents(events, { days, users });
  const lake = openLocalLake(directory);
  return generateLanding(lake.storage, { seed, days, users, tasksPerDay, start: '2025-10-01' });
}

const [directory, events, seed] = process.argv.slice(2);
if (directory && events) {
  const summary = await generateBenchLake(directory, Number(events), Number(seed ?? 1));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
