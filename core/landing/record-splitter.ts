import { isUtf8 } from 'node:buffer';
import { createGunzip } from 'node:zlib';

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
 * Decompresses gzip (one or more members). A broken stream keeps what was decoded before the break
 * and reports the break, so the records before it are not lost.
 */
export async function decodeObjectBody(body: Buffer): Promise<{ text: Buffer; brokenAt?: string }> {
  if (!isGzip(body)) return { text: body };
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const gunzip = createGunzip();
    let settled = false;
    const finish = (brokenAt?: string) => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks);
      resolve(brokenAt === undefined ? { text } : { text, brokenAt });
    };
    gunzip.on('data', (chunk: Buffer) => chunks.push(chunk));
    gunzip.on('error', (error) => finish(error.message));
    gunzip.on('end', () => finish());
    gunzip.end(body);
  });
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

/** Every record of one stored object, numbered; a gzip break becomes a final record that carries the error. */
export async function* readObjectRecords(body: Buffer): AsyncGenerator<SplitRecord> {
  const { text, brokenAt } = await decodeObjectBody(body);
  let recordIndex = 0;
  for (const raw of splitRecords(text)) {
    yield { recordIndex, raw };
    recordIndex += 1;
  }
  if (brokenAt !== undefined) {
    yield { recordIndex, raw: Buffer.alloc(0), errorCode: 'corrupt_gzip', errorDetail: `gzip stream broken after ${text.length} decoded bytes: ${brokenAt}` };
  }
}

export { isUtf8 };
