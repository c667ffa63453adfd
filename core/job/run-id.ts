import { randomBytes } from 'node:crypto';

/**
 * A job run id shaped like Glue's (`jr_` and 64 hex digits). The first 12 digits are the start time in
 * milliseconds, so ids sort by start time.
 */
export function newRunId(now: Date = new Date()): string {
  return `jr_${now.getTime().toString(16).padStart(12, '0')}${randomBytes(26).toString('hex')}`;
}
