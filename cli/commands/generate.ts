import { gunzipSync } from 'node:zlib';
import { ConfigError } from '../../core/errors.ts';
import type { Storage } from '../../core/storage/index.ts';
import type { GenerateOptions, GenerateSummary } from '../../simulator/index.ts';

const DAY_MS = 86_400_000;

/**
 * Where `generate --continue` carries on in a lake that holds landing data: the UTC day after its latest change
 * event (read from the objects of the newest arrival hours of each source, where the last events are), and an id
 * space of that day's own (days since 1970), so the new users, tasks and events never repeat the lake's.
 */
export async function continuation(storage: Storage): Promise<{ start: string; idSpace: number; lastEvent: string }> {
  const byHour = new Map<string, string[]>();
  for await (const object of storage.list('landing/')) {
    // landing/<source>/YYYY/MM/DD/HH/<object>; Firehose's error output (landing/<source>/errors/...) is no traffic.
    const match = /^landing\/([^/]+)\/(\d{4}\/\d{2}\/\d{2}\/\d{2})\//.exec(object.key);
    if (!match) continue;
    const hour = `${match[1]}/${match[2]}`;
    byHour.set(hour, [...(byHour.get(hour) ?? []), object.key]);
  }
  if (byHour.size === 0) {
    throw new ConfigError('GENERATE_NOTHING_TO_CONTINUE', 'there is no landing data in this lake to continue from', { hint: 'run `medallion generate` without --continue' });
  }
  // The newest few arrival hours of each source hold its latest events (late files arrive later than the rest).
  const sources = new Map<string, string[]>();
  for (const hour of [...byHour.keys()].sort()) {
    const source = hour.slice(0, hour.indexOf('/'));
    sources.set(source, [...(sources.get(source) ?? []), hour]);
  }
  let latestMs = Number.NEGATIVE_INFINITY;
  for (const hours of sources.values()) {
    for (const hour of hours.slice(-6)) {
      for (const key of byHour.get(hour) ?? []) {
        let body = await storage.get(key);
        if (key.endsWith('.gz')) {
          try {
            body = gunzipSync(body);
          } catch {
            continue;
          }
        }
        for (const line of body.toString('utf8').split('\n')) {
          const time = eventTimeMs(line);
          if (time !== undefined && time > latestMs) latestMs = time;
        }
      }
    }
  }
  if (!Number.isFinite(latestMs)) {
    throw new ConfigError('GENERATE_NOTHING_TO_CONTINUE', 'the newest landing objects hold no change event to continue from', { hint: 'run `medallion generate --start YYYY-MM-DD` instead' });
  }
  const nextDayMs = (Math.floor(latestMs / DAY_MS) + 1) * DAY_MS;
  return { start: new Date(nextDayMs).toISOString().slice(0, 10), idSpace: nextDayMs / DAY_MS, lastEvent: new Date(latestMs).toISOString() };
}

/** A record's ApproximateCreationDateTime in milliseconds (Firehose writes seconds, milliseconds or microseconds). */
function eventTimeMs(line: string): number | undefined {
  if (!line.includes('ApproximateCreationDateTime')) return undefined;
  try {
    const value = (JSON.parse(line) as { dynamodb?: { ApproximateCreationDateTime?: unknown } }).dynamodb?.ApproximateCreationDateTime;
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    return value > 1e14 ? value / 1000 : value > 1e11 ? value : value * 1000;
  } catch {
    return undefined;
  }
}

/** What `generate` wrote, for a person: a few lines (`--format json` has the whole summary). */
export function describeGenerated(options: GenerateOptions, summary: GenerateSummary, where: string): string {
  const count = (value: number) => value.toLocaleString('en-US');
  const events = Object.entries(summary.eventsPerSource).map(([source, byName]) => {
    const total = Object.values(byName).reduce((sum, value) => sum + value, 0);
    return `${source} ${count(total)} (${Object.entries(byName).map(([name, value]) => `${count(value)} ${name}`).join(', ')})`;
  });
  const malformed = Object.values(summary.faults.malformed).reduce((sum, value) => sum + value, 0);
  const records = Object.values(summary.recordsPerSource).reduce((sum, value) => sum + value, 0);
  const last = new Date(Date.parse(`${options.start}T00:00:00Z`) + (options.days - 1) * DAY_MS).toISOString().slice(0, 10);
  return [
    `Generated ${options.days} day${options.days === 1 ? '' : 's'} of Todo API traffic, ${options.start} to ${last} (seed ${options.seed}${options.idSpace > 0 ? `, id space ${options.idSpace}` : ''}), into ${where}`,
    `  ${count(records)} change records in ${count(summary.objectsWritten)} Firehose objects (${(summary.bytesWritten / 1024 / 1024).toFixed(1)} MiB)`,
    `  events: ${events.join('; ')}`,
    `  faults: ${count(summary.faults.duplicates)} duplicate deliveries, ${count(summary.faults.outOfOrder)} out of order, ${count(summary.faults.lateObjects)} late objects (${count(summary.faults.lateRecords)} records), ${count(malformed)} malformed records`,
    `  events from ${summary.firstEventTime ?? '-'} to ${summary.lastEventTime ?? '-'}`,
    '',
  ].join('\n');
}
