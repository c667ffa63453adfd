import { isUtf8 } from 'node:buffer';
import { constants as zlibConstants, crc32, inflateRawSync } from 'node:zlib';

/** One record of a landing object, as bytes; `errorCode` is set when the bytes could not even be cut out cleanly. */
export interface SplitRecord {
  readonly recordIndex: number;
  readonly raw: Buffer;
  readonly errorCode?: 'corrupt_gzip';
  readonly errorDetail?: string;
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
export async function decodeObjectBody(body: Buffer): Promise<{ text: Buffer; brokenAt?: string }> {
  if (!isGzip(body)) return { text: body };
  const decoded: Buffer[] = [];
  const broken = (reason: string) => ({ text: Buffer.concat(decoded), brokenAt: reason });
  let offset = 0;
  while (offset < body.length) {
    if (!isGzip(body.subarray(offset))) {
      const rest = body.subarray(offset);
      return rest.every((byte) => byte === 0) ? { text: Buffer.concat(decoded) } : broken(`${rest.length} bytes after the last gzip member are not gzip`);
    }
    const dataStart = gzipHeaderLength(body, offset);
    if (dataStart === undefined) return broken(`gzip header at byte ${offset} is not valid`);
    const deflated = body.subarray(dataStart);
    let member: { buffer: Buffer; consumed: number };
    try {
      const result = inflateRawSync(deflated, { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      member = { buffer: result.buffer, consumed: result.engine.bytesWritten };
    } catch (error) {
      decoded.push(longestDecodablePrefix(deflated));
      return broken(`deflate data of the member at byte ${offset} is corrupt or cut (${(error as Error).message})`);
    }
    decoded.push(member.buffer);
    const trailer = dataStart + member.consumed;
    if (trailer + 8 > body.length) return broken(`gzip member at byte ${offset} is cut before its trailer`);
    if (body.readUInt32LE(trailer) !== crc32(member.buffer) || body.readUInt32LE(trailer + 4) !== member.buffer.length % 2 ** 32) {
      return broken(`gzip member at byte ${offset} fails its CRC or length check`);
    }
    offset = trailer + 8;
  }
  return { text: Buffer.concat(decoded) };
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
function longestDecodablePrefix(deflated: Buffer): Buffer {
  const attempt = (length: number): Buffer | undefined => {
    try {
      return inflateRawSync(deflated.subarray(0, length), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return undefined;
    }
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
 * parsers ignore it), so it is dropped rather than making the first record invalid JSON.
 */
export async function* readObjectRecords(body: Buffer): AsyncGenerator<SplitRecord> {
  const { text: decoded, brokenAt } = await decodeObjectBody(body);
  const text = decoded.subarray(0, 3).equals(UTF8_BYTE_ORDER_MARK) ? decoded.subarray(3) : decoded;
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
