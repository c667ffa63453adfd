import { closeSync, openSync, writeSync } from 'node:fs';
import type { Engine } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { ObjectInfo, Storage } from '../storage/index.ts';
import { isUtf8, readObjectRecords } from './record-splitter.ts';

/** Columns of the relation a landing source becomes. */
export const LANDING_RECORD_COLUMNS = [
  'source_object VARCHAR',
  'record_index BIGINT',
  'object_last_modified TIMESTAMP',
  'raw VARCHAR',
  'split_error VARCHAR',
] as const;

const FIELD_SEPARATOR = '\x1f';

/** Records of some landing objects, cut apart and written to a local spool file DuckDB reads. */
export interface LandingSpool {
  readonly path: string;
  readonly objects: readonly ObjectInfo[];
  readonly records: number;
  readonly bytesRead: number;
}

/**
 * Cuts the records of `objects` apart (docs/semantics.md, "Landing") and writes them to `spoolPath`,
 * one line each. Node holds one object at a time; the data work is left to DuckDB.
 */
export async function spoolLandingObjects(
  storage: Storage,
  objects: readonly ObjectInfo[],
  spoolPath: string,
  signal?: AbortSignal,
): Promise<LandingSpool> {
  let records = 0;
  let bytesRead = 0;
  // Plain synchronous writes into one reused buffer: a stream's backpressure waits and per-object
  // buffers cost more (idle time and garbage collection) than the cutting itself.
  const spool = openSync(spoolPath, 'w');
  const lines = new SpoolBuffer(1 << 24);
  try {
    // Fetch ahead: object stores answer faster with several reads in flight.
    const pending = new Map<number, Promise<Buffer>>();
    const fetchAhead = (from: number) => {
      for (let index = from; index < Math.min(objects.length, from + PREFETCH_OBJECTS); index += 1) {
        if (!pending.has(index)) {
          const fetched = storage.get((objects[index] as ObjectInfo).key);
          fetched.catch(() => undefined);
          pending.set(index, fetched);
        }
      }
    };
    let yieldedAt = performance.now();
    for (const ordinal of objects.keys()) {
      // Cutting is synchronous work; let the event loop in every few milliseconds so the engine's
      // finished queries are answered and it keeps working on the previous batch meanwhile.
      if (performance.now() - yieldedAt > YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yieldedAt = performance.now();
        // A run that timed out or lost its lock stops cutting records too.
        signal?.throwIfAborted();
      }
      fetchAhead(ordinal);
      const body = await (pending.get(ordinal) as Promise<Buffer>);
      pending.delete(ordinal);
      const object = spoolObject(objects[ordinal] as ObjectInfo);
      bytesRead += body.length;
      lines.reset();
      for await (const record of readObjectRecords(body)) {
        records += 1;
        lines.add(object, record.recordIndex, record.raw, record.errorCode ?? '', record.errorDetail);
      }
      writeAll(spool, lines.contents());
    }
  } finally {
    closeSync(spool);
  }
  return { path: spoolPath, objects, records, bytesRead };
}

/** Makes `relation` a view over a spool, with LANDING_RECORD_COLUMNS; the spool must stay until the view's last use. */
export async function loadLandingSpool(engine: Engine, spool: LandingSpool, relation: string): Promise<void> {
  const columns = `{'source_object': 'VARCHAR', 'last_modified_ms': 'BIGINT', 'record_index': 'BIGINT', 'split_error': 'VARCHAR', 'encoding': 'VARCHAR', 'payload': 'VARCHAR'}`;
  // Every line carries its object's key: joining an object table instead costs more than the bytes.
  await engine.run(`
    CREATE OR REPLACE VIEW ${quoteIdentifier(relation)} AS
    SELECT CASE WHEN contains(encoding, 'k') THEN decode(from_base64(source_object)) ELSE source_object END AS source_object,
           record_index,
           make_timestamp(last_modified_ms * 1000) AS object_last_modified,
           CASE WHEN contains(encoding, 'p') THEN decode(from_base64(payload)) ELSE coalesce(payload, '') END AS raw,
           split_error
    FROM read_csv(${quoteLiteral(spool.path)}, delim = ${quoteLiteral(FIELD_SEPARATOR)}, quote = '', escape = '',
                  header = false, auto_detect = false, columns = ${columns}, max_line_size = ${MAX_LINE_BYTES})`);
}

/**
 * Groups objects, in key order, into batches of about `maxBytes` of stored data (at least one object
 * each). The first batch is a quarter of that, so the engine starts working sooner.
 */
export function batchObjects(objects: readonly ObjectInfo[], maxBytes: number): ObjectInfo[][] {
  const batches: ObjectInfo[][] = [];
  let current: ObjectInfo[] = [];
  let currentBytes = 0;
  for (const object of objects) {
    const limit = batches.length === 0 ? maxBytes / 4 : maxBytes;
    if (current.length > 0 && currentBytes + object.sizeBytes > limit) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(object);
    currentBytes += object.sizeBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

const PREFETCH_OBJECTS = 16;
const YIELD_EVERY_MS = 5;
/**
 * A DynamoDB item is at most 400 KB, so a change record with both images stays far below this; anything
 * longer is not a change record and is quarantined (`record_too_large`) with its first bytes.
 */
export const MAX_RECORD_BYTES = 3 * 1024 * 1024;
const KEPT_BYTES_OF_LARGE_RECORD = 64 * 1024;
// Base64 grows a record by a third; the line limit must hold the largest record that passes.
const MAX_LINE_BYTES = Math.ceil((MAX_RECORD_BYTES * 4) / 3) + 1024;
const SEPARATOR_BYTE = 0x1f;
const NEWLINE_BYTE = 0x0a;
const RETURN_BYTE = 0x0d;

/** An object's fields as every one of its spool lines starts: key (base64 when it holds a separator) and modified time. */
interface SpoolObject {
  readonly prefix: Buffer;
  readonly keyEncoded: boolean;
}

function spoolObject(object: ObjectInfo): SpoolObject {
  const keyEncoded = /[\n\r\x1f]/.test(object.key);
  const key = keyEncoded ? Buffer.from(object.key, 'utf8').toString('base64') : object.key;
  return {
    prefix: Buffer.from(`${key}${FIELD_SEPARATOR}${Math.round(object.lastModifiedMs)}${FIELD_SEPARATOR}`, 'utf8'),
    keyEncoded,
  };
}

/**
 * The spool lines of one object, written into one growing buffer: key, modified time, record index,
 * error code, encoding flags, then the record's bytes as they are (base64 when they hold a line or field
 * separator).
 */
class SpoolBuffer {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  add(object: SpoolObject, recordIndex: number, raw: Buffer, errorCode: string, errorDetail?: string): void {
    let code = errorCode;
    let payload: Buffer = errorDetail === undefined ? raw : Buffer.from(errorDetail, 'utf8');
    if (code === '' && payload.length > MAX_RECORD_BYTES) {
      code = 'record_too_large';
      payload = payload.subarray(0, KEPT_BYTES_OF_LARGE_RECORD);
    }
    // A record that is not UTF-8 keeps its readable part; the bronze job quarantines it by this code.
    if (code === '' && !isUtf8(payload)) {
      code = 'invalid_utf8';
      payload = Buffer.from(payload.toString('utf8'), 'utf8');
    }
    let encoding = object.keyEncoded ? 'k' : '';
    if (payload.indexOf(NEWLINE_BYTE) >= 0 || payload.indexOf(RETURN_BYTE) >= 0 || payload.indexOf(SEPARATOR_BYTE) >= 0) {
      payload = Buffer.from(payload.toString('base64'), 'latin1');
      encoding += 'p';
    }
    const fields = `${recordIndex}${FIELD_SEPARATOR}${code}${FIELD_SEPARATOR}${encoding}${FIELD_SEPARATOR}`;
    this.reserve(object.prefix.length + fields.length + payload.length + 1);
    this.length += object.prefix.copy(this.buffer, this.length);
    this.length += this.buffer.write(fields, this.length, 'latin1');
    this.length += payload.copy(this.buffer, this.length);
    this.buffer[this.length] = NEWLINE_BYTE;
    this.length += 1;
  }

  reset(): void {
    this.length = 0;
  }

  contents(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

function writeAll(fd: number, data: Buffer): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written);
}
