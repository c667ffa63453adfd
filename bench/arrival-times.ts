import { readdir, utimes } from 'node:fs/promises';
import path from 'node:path';

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
