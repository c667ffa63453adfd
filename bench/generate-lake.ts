import { readdir, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { openLocalLake } from '../core/index.ts';
import { generateLanding, tasksPerDayForEvents } from '../simulator/index.ts';

export const BENCH_DAYS = 90;
export const BENCH_START = '2025-10-01';

/** The UTC time in a Firehose object name (`<stream>-1-YYYY-MM-DD-HH-mm-ss-<uuid>`): when it arrived. */
export function arrivalOfKey(key: string): number | undefined {
  const match = /-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9a-f-]{36}(\.gz)?$/.exec(key);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  return Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
}

/**
 * Gives every landing object, and its folder, the modified time Firehose would have given it: its arrival
 * time (from its name) plus a minute of buffering. A lake generated in a minute then looks like one
 * delivered over its days, which is what bookmarked runs meet in production.
 */
export async function stampArrivalTimes(directory: string): Promise<void> {
  const landing = path.join(directory, 'landing');
  const newestInFolder = new Map<string, number>();
  for (const entry of await readdir(landing, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const arrival = arrivalOfKey(entry.name);
    if (arrival === undefined) continue;
    const modified = new Date(arrival + 60_000);
    await utimes(path.join(entry.parentPath, entry.name), modified, modified);
    newestInFolder.set(entry.parentPath, Math.max(newestInFolder.get(entry.parentPath) ?? 0, modified.getTime()));
  }
  for (const [folder, newest] of newestInFolder) await utimes(folder, new Date(newest), new Date(newest));
}

/** Writes a benchmark lake of about `events` change events (90 days of traffic) and prints the summary as JSON. */
export async function generateBenchLake(directory: string, events: number, seed: number): Promise<unknown> {
  await rm(directory, { recursive: true, force: true });
  const users = Math.max(50, Math.round(events / 50));
  const tasksPerDay = tasksPerDayForEvents(events, { days: BENCH_DAYS, users });
  const lake = openLocalLake(directory);
  const summary = await generateLanding(lake.storage, { seed, days: BENCH_DAYS, users, tasksPerDay, start: BENCH_START });
  await stampArrivalTimes(directory);
  return { ...summary, days: BENCH_DAYS, users, tasksPerDay };
}

const [directory, events, seed] = process.argv.slice(2);
if (directory && events) {
  const summary = await generateBenchLake(directory, Number(events), Number(seed ?? 1));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
