import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { SOURCES, type SourceName } from './cdc-event.ts';
import { firehoseKeyTime } from './utc-time.ts';

const gzipAsync = promisify(gzip);

/** How an object's bytes are laid out; Firehose streams differ in compression and in the delimiter processor. */
export interface ObjectEncoding {
  readonly gzip: boolean;
  /** Each record followed by '\n' (AppendDelimiterToRecord), else records back to back: `{...}{...}`. */
  readonly newlineDelimited: boolean;
}

/**
 * `<prefix><source>/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-mm-ss-<uuid>[.gz]`, the time being the arrival
 * of the object's oldest record, as Firehose names objects.
 *
 * @example
 * firehoseObjectKey('landing/', 'tasks', Date.parse('2025-11-01T09:05:33Z'), '0f6c...', true)
 * // 'landing/tasks/2025/11/01/09/medallion-tasks-cdc-1-2025-11-01-09-05-33-0f6c....gz'
 */
export function firehoseObjectKey(keyPrefix: string, source: SourceName, arrivalMs: number, uuid: string, gzipped: boolean): string {
  const { folder, stamp } = firehoseKeyTime(arrivalMs);
  return `${keyPrefix}${source}/${folder}/${SOURCES[source].streamName}-1-${stamp}-${uuid}${gzipped ? '.gz' : ''}`;
}

/** The object's bytes. Gzip runs on libuv's thread pool, so several objects compress at once. */
export async function encodeObject(records: readonly string[], encoding: ObjectEncoding): Promise<Buffer> {
  const text = encoding.newlineDelimited ? `${records.join('\n')}\n` : records.join('');
  const plain = Buffer.from(text, 'utf8');
  return encoding.gzip ? gzipAsync(plain) : plain;
}
