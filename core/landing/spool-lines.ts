import { writeSync } from 'node:fs';
import { isUtf8, objectRecords, type LandingLimits, type SplitRecord } from './record-splitter.ts';

/** Separates the fields of a spool line (DuckDB reads the spool as CSV with this delimiter and no quoting). */
export const FIELD_SEPARATOR = '\x1f';

/**
 * A DynamoDB item is at most 400 KB, so a change record with both images stays far below this; anything
 * longer is not a change record and is quarantined (`record_too_large`) with its first bytes.
 */
export const MAX_RECORD_BYTES = 3 * 1024 * 1024;
const KEPT_BYTES_OF_LARGE_RECORD = 64 * 1024;
/** Base64 grows a record by a third; the line limit must hold the largest record that passes. */
export const MAX_LINE_BYTES = Math.ceil((MAX_RECORD_BYTES * 4) / 3) + 1024;
const SEPARATOR_BYTE = 0x1f;
const NEWLINE_BYTE = 0x0a;
const RETURN_BYTE = 0x0d;

/** The identity of an object every one of its spool lines carries. */
export interface SpooledObject {
  readonly key: string;
  readonly lastModifiedMs: number;
}

/** An object's fields as every one of its spool lines starts: key (base64 when it holds a separator) and modified time. */
interface LinePrefix {
  readonly prefix: Buffer;
  readonly keyEncoded: boolean;
}

function linePrefix(object: SpooledObject): LinePrefix {
  const keyEncoded = /[\n\r\x1f]/.test(object.key);
  const key = keyEncoded ? Buffer.from(object.key, 'utf8').toString('base64') : object.key;
  return {
    prefix: Buffer.from(`${key}${FIELD_SEPARATOR}${Math.round(object.lastModifiedMs)}${FIELD_SEPARATOR}`, 'utf8'),
    keyEncoded,
  };
}

/**
 * Cuts one object's records (docs/semantics.md, "Landing") into spool lines, appended to `lines`; returns
 * how many records it held.
 */
export function cutObjectLines(object: SpooledObject, body: Buffer, limits: LandingLimits, lines: SpoolLines): number {
  return lines.addAll(object, objectRecords(body, limits));
}

/** The one record an object stands for when its stored size alone is over the limit (it is not even fetched). */
export function oversizedObjectRecord(sizeBytes: number, limits: LandingLimits): SplitRecord {
  return {
    recordIndex: 0,
    raw: Buffer.alloc(0),
    errorCode: 'object_too_large',
    errorDetail: `the object holds ${sizeBytes} bytes, more than ${limits.maxObjectBytes} (the limit); it was not read`,
  };
}

/**
 * Spool lines, written into one growing buffer: key, modified time, record index, error code, encoding
 * flags, then the record's bytes as they are (base64 when they hold a line or field separator).
 */
export class SpoolLines {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Appends the lines of an object's records; returns how many there were. */
  addAll(object: SpooledObject, records: Iterable<SplitRecord>): number {
    const prefix = linePrefix(object);
    let count = 0;
    for (const record of records) {
      this.add(prefix, record.recordIndex, record.raw, record.errorCode ?? '', record.errorDetail);
      count += 1;
    }
    return count;
  }

  private add(object: LinePrefix, recordIndex: number, raw: Buffer, errorCode: string, errorDetail?: string): void {
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

  /** Bytes the buffer holds room for. */
  get capacity(): number {
    return this.buffer.length;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** Writes all of `data` at `position` of the file; returns its length. */
export function writeAt(fd: number, data: Uint8Array, position: number): number {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written, position + written);
  return written;
}
