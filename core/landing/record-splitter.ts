import { isUtf8 } from 'node:buffer';
import { constants as zlibConstants, crc32, inflateRawSync } from 'node:zlib';

/** One record of a landing object, as bytes; `errorCode` is set when the bytes could not even be cut out cleanly. */
export interface SplitRecord {
  readonly recordIndex: number;
  readonly raw: Buffer;
  readonly errorCode?: 'corrupt_gzip' | 'object_too_large' | 'too_many_records';
  readonly errorDetail?: string;
}

/**
 * What one landing object may hold. An object over either limit is not read: it becomes one record
 * quarantined with the reason (`object_too_large`, `too_many_records`), after decompressing at most
 * `maxObjectBytes`, so a small gzip that inflates to gigabytes costs no more memory than a normal object.
 */
export interface LandingLimits {
  /** Bytes of an object's decompressed text (and of its stored bytes). */
  readonly maxObjectBytes: number;
  /** Records in one object. */
  readonly maxObjectRecords: number;
}

/**
 * Firehose delivers at most 128 MiB per object (its largest buffer, before compression), and a DynamoDB
 * change record is at least about 200 bytes, so a delivered object stays far under both.
 */
export const DEFAULT_LANDING_LIMITS: LandingLimits = { maxObjectBytes: 256 * 1024 * 1024, maxObjectRecords: 1_000_000 };

const UNLIMITED: LandingLimits = { maxObjectBytes: Number.POSITIVE_INFINITY, maxObjectRecords: Number.POSITIVE_INFINITY };

/** Thrown inside decoding when the text grows past the limit. */
class TooLarge extends Error {}

function isBufferTooLarge(error: unknown): boolean {
  return error instanceof RangeError && (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Whether the bytes are gzip, by their magic number rather than the object's name. */
export function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === GZIP_MAGIC_0 && body[1] === GZIP_MAGIC_1;
}

/**
 * Decompresses gzip: one member after another, as gzip(1) does. A broken stream (bad header, corrupt or
 * cut deflate data, CRC or length mismatch, trailing bytes that are neither a member nor zero padding)
 * keeps everything decoded before the break and says where it broke, so no good record is lost.
 */
export async function decodeObjectBody(body: Buffer, maxBytes = Number.POSITIVE_INFINITY): Promise<DecodedBody> {
  return decodeObjectBodySync(body, maxBytes);
}

/** An object's text; `tooLarge` when it is longer than the limit (and `text` is then empty). */
export interface DecodedBody {
  readonly text: Buffer;
  readonly brokenAt?: string;
  readonly tooLarge?: true;
}

function decodeObjectBodySync(body: Buffer, maxBytes: number): DecodedBody {
  if (!isGzip(body)) return body.length > maxBytes ? { text: Buffer.alloc(0), tooLarge: true } : { text: body };
  try {
    return decodeGzip(body, maxBytes);
  } catch (error) {
    if (error instanceof TooLarge) return { text: Buffer.alloc(0), tooLarge: true };
    throw error;
  }
}

/** Every gzip member in turn; throws TooLarge as soon as the text would pass `maxBytes`. */
function decodeGzip(body: Buffer, maxBytes: number): DecodedBody {
  const decoded: Buffer[] = [];
  let decodedBytes = 0;
  // One member's text is returned as it is: copying it into a new buffer would double the memory.
  const joined = () => (decoded.length === 1 ? (decoded[0] as Buffer) : Buffer.concat(decoded));
  const broken = (reason: string) => ({ text: joined(), brokenAt: reason });
  let offset = 0;
  while (offset < body.length) {
    if (!isGzip(body.subarray(offset))) {
      const rest = body.subarray(offset);
      return rest.every((byte) => byte === 0) ? { text: joined() } : broken(`${rest.length} bytes after the last gzip member are not gzip`);
    }
    const dataStart = gzipHeaderLength(body, offset);
    if (dataStart === undefined) return broken(`gzip header at byte ${offset} is not valid`);
    const deflated = body.subarray(dataStart);
    let member: { buffer: Buffer; consumed: number };
    // The output is capped while inflating: zlib stops at the cap instead of filling memory first.
    const remaining = maxBytes - decodedBytes;
    const cap = Number.isFinite(remaining) ? { maxOutputLength: Math.max(1, remaining + 1) } : {};
    try {
      const result = inflateRawSync(deflated, { info: true, ...cap }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      member = { buffer: result.buffer, consumed: result.engine.bytesWritten };
    } catch (error) {
      if (isBufferTooLarge(error)) throw new TooLarge();
      decoded.push(longestDecodablePrefix(deflated, remaining));
      return broken(`deflate data of the member at byte ${offset} is corrupt or cut (${(error as Error).message})`);
    }
    if (member.buffer.length > remaining) throw new TooLarge();
    decoded.push(member.buffer);
    decodedBytes += member.buffer.length;
    const trailer = dataStart + member.consumed;
    if (trailer + 8 > body.length) return broken(`gzip member at byte ${offset} is cut before its trailer`);
    if (body.readUInt32LE(trailer) !== crc32(member.buffer) || body.readUInt32LE(trailer + 4) !== member.buffer.length % 2 ** 32) {
      return broken(`gzip member at byte ${offset} fails its CRC or length check`);
    }
    offset = trailer + 8;
  }
  return { text: joined() };
}

const FLAG_HEADER_CRC = 0x02;
const FLAG_EXTRA = 0x04;
const FLAG_NAME = 0x08;
const FLAG_COMMENT = 0x10;

/** Offset where a member's deflate data starts (RFC 1952), or undefined when the header is not valid. */
function gzipHeaderLength(body: Buffer, offset: number): number | undefined {
  if (offset + 10 > body.length || body[offset + 2] !== 8) return undefined;
  const flags = body[offset + 3] as number;
  if ((flags & 0xe0) !== 0) return undefined;
  let position = offset + 10;
  if (flags & FLAG_EXTRA) {
    if (position + 2 > body.length) return undefined;
    position += 2 + body.readUInt16LE(position);
  }
  for (const flag of [FLAG_NAME, FLAG_COMMENT]) {
    if (flags & flag) {
      const terminator = body.indexOf(0, position);
      if (terminator < 0) return undefined;
      position = terminator + 1;
    }
  }
  if (flags & FLAG_HEADER_CRC) position += 2;
  return position <= body.length ? position : undefined;
}

/** What inflating decodes before the first error: the output of the longest prefix that inflates cleanly. */
function longestDecodablePrefix(deflated: Buffer, maxBytes: number): Buffer {
  const cap = Number.isFinite(maxBytes) ? { maxOutputLength: Math.max(1, maxBytes + 1) } : {};
  const attempt = (length: number): Buffer | undefined => {
    let output: Buffer;
    try {
      output = inflateRawSync(deflated.subarray(0, length), { finishFlush: zlibConstants.Z_SYNC_FLUSH, ...cap });
    } catch (error) {
      if (isBufferTooLarge(error)) throw new TooLarge();
      return undefined;
    }
    if (output.length > maxBytes) throw new TooLarge();
    return output;
  };
  let good = 0;
  let goodOutput: Buffer = Buffer.alloc(0);
  let bad = deflated.length;
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    const output = attempt(middle);
    if (output) {
      good = middle;
      goodOutput = output;
    } else {
      bad = middle;
    }
  }
  return goodOutput;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isWhitespace(byte: number): boolean {
  return byte === SPACE || byte === NEWLINE || byte === CARRIAGE_RETURN || byte === TAB;
}

/** Whether records are newline-delimited: a newline occurs before the text's trailing whitespace. */
export function isNewlineDelimited(text: Buffer): boolean {
  let end = text.length;
  while (end > 0 && isWhitespace(text[end - 1] as number)) end -= 1;
  const newline = text.indexOf(NEWLINE);
  return newline >= 0 && newline < end;
}

/** Cuts decoded object text into records (see docs/semantics.md, "Landing"). */
export function* splitRecords(text: Buffer): Generator<Buffer> {
  if (isNewlineDelimited(text)) {
    yield* splitLines(text);
  } else {
    yield* splitConcatenated(text);
  }
}

function* splitLines(text: Buffer): Generator<Buffer> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(NEWLINE, start);
    if (end < 0) end = text.length;
    let lineEnd = end;
    if (lineEnd > start && text[lineEnd - 1] === CARRIAGE_RETURN) lineEnd -= 1;
    let firstNonBlank = start;
    while (firstNonBlank < lineEnd && isWhitespace(text[firstNonBlank] as number)) firstNonBlank += 1;
    if (firstNonBlank < lineEnd) yield text.subarray(start, lineEnd);
    start = end + 1;
  }
}

function* splitConcatenated(text: Buffer): Generator<Buffer> {
  const length = text.length;
  let position = 0;
  while (position < length) {
    while (position < length && isWhitespace(text[position] as number)) position += 1;
    if (position >= length) return;
    const start = position;
    const first = text[position] as number;
    if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      position = endOfNested(text, position);
    } else if (first === QUOTE) {
      position = endOfString(text, position + 1);
    } else {
      position += 1;
      while (position < length) {
        const byte = text[position] as number;
        if (isWhitespace(byte) || byte === OPEN_BRACE || byte === OPEN_BRACKET || byte === QUOTE) break;
        position += 1;
      }
    }
    yield text.subarray(start, position);
  }
}

/** Position just after the value that opens at `start`, or the text's end when it never closes. */
function endOfNested(text: Buffer, start: number): number {
  const length = text.length;
  let depth = 0;
  let position = start;
  while (position < length) {
    const byte = text[position] as number;
    if (byte === QUOTE) {
      position = endOfString(text, position + 1);
      continue;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return position + 1;
    }
    position += 1;
  }
  return length;
}

/** Position just after the closing quote of a string whose content starts at `position`. */
function endOfString(text: Buffer, position: number): number {
  const length = text.length;
  while (position < length) {
    const quote = text.indexOf(QUOTE, position);
    if (quote < 0) return length;
    let backslashes = 0;
    while (quote - 1 - backslashes >= position && text[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    position = quote + 1;
  }
  return length;
}

const UTF8_BYTE_ORDER_MARK = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Every record of one stored object, numbered; a gzip break becomes a final record that carries the error.
 * A UTF-8 byte-order mark at the start of the decoded text is an encoding marker, not data (RFC 8259 lets
 * parsers ignore it), so it is dropped rather than making the first record invalid JSON. An object over
 * `limits` is one record that says so (see LandingLimits).
 */
export async function* readObjectRecords(body: Buffer, limits: LandingLimits = UNLIMITED): AsyncGenerator<SplitRecord> {
  yield* objectRecords(body, limits);
}

/** readObjectRecords, synchronously (the cutting workers' form). */
export function* objectRecords(body: Buffer, limits: LandingLimits = UNLIMITED): Generator<SplitRecord> {
  const { text: decoded, brokenAt, tooLarge } = decodeObjectBodySync(body, limits.maxObjectBytes);
  if (tooLarge) {
    const what = isGzip(body) ? 'decompresses to' : 'holds';
    yield { recordIndex: 0, raw: Buffer.alloc(0), errorCode: 'object_too_large', errorDetail: `the object ${what} more than ${limits.maxObjectBytes} bytes (the limit); it was not read` };
    return;
  }
  const text = decoded.subarray(0, 3).equals(UTF8_BYTE_ORDER_MARK) ? decoded.subarray(3) : decoded;
  // Every record is at least one byte, so only a text longer than the limit can hold too many records;
  // those are counted first, as nothing of an object over the limit is read.
  if (text.length > limits.maxObjectRecords) {
    let count = 0;
    for (const _raw of splitRecords(text)) {
      count += 1;
      if (count > limits.maxObjectRecords) {
        yield { recordIndex: 0, raw: Buffer.alloc(0), errorCode: 'too_many_records', errorDetail: `the object holds more than ${limits.maxObjectRecords} records (the limit); it was not read` };
        return;
      }
    }
  }
  let recordIndex = 0;
  for (const raw of splitRecords(text)) {
    yield { recordIndex, raw };
    recordIndex += 1;
  }
  if (brokenAt !== undefined) {
    yield { recordIndex, raw: Buffer.alloc(0), errorCode: 'corrupt_gzip', errorDetail: `gzip stream broken after ${decoded.length} decoded bytes: ${brokenAt}` };
  }
}

export { isUtf8 };
