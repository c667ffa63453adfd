/**
 * A worker thread of the cut pool (cut-pool.ts): decompresses and cuts landing objects, a group at a time, off
 * the main thread, whose event loop stays free for the lock's heartbeat and the engine's answers.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';
import { objectRecords } from './record-splitter.ts';
import { SpoolLines, cutObjectLines, oversizedObjectRecord, writeAt, type SpooledObject } from './spool-lines.ts';
import { UNREADABLE_CODES } from './unreadable-objects.ts';
import type { CutReply, CutRequest } from './cut-pool.ts';

const INITIAL_LINE_BYTES = 1 << 22;
const INITIAL_READ_BYTES = 1 << 22;
/** A read buffer grown past this by one large file is let go after its request. */
const KEPT_READ_BYTES = 1 << 24;
/** A line buffer grown past this by one large object is let go afterwards, not kept for the worker's life. */
const KEPT_LINE_BYTES = 1 << 26;
/** Lines are written out once they pass this, so a group of small objects that inflate a lot is held in parts. */
const FLUSH_LINE_BYTES = 1 << 24;

if (!parentPort) throw new Error('cut-worker.ts runs as a worker thread of the cut pool');
const port = parentPort;
let lines = new SpoolLines(INITIAL_LINE_BYTES);
/**
 * Where this worker's next lines go in each of its spool files, for the spool's current use (generation): the
 * most recently used files only (a process runs many jobs, each with spool files of its own).
 */
const ends = new Map<string, { generation: number; end: number }>();
const KEPT_ENDS = 64;

/** A file's bytes are read into this buffer, used again for the next file (a fresh one per file costs page faults). */
let readBuffer = Buffer.allocUnsafe(INITIAL_READ_BYTES);

/** One object of a request: its bytes, or why it is not read (its file is over the limit, or unreadable). */
type ObjectBody = { readonly body: Buffer; readonly bytes: number } | { readonly oversized: number } | { readonly unreadable: string };

/**
 * Reads a folder lake's object from its file, as LocalStorage.get would, but into the worker's buffer and
 * no further than one byte past the limit: a file that grew past it since it was listed is over the limit by
 * its stored bytes, and not read (as one listed over the limit is never fetched).
 */
function readObjectFile(file: string, key: string, location: string, limit: number): ObjectBody {
  let fd: number | undefined;
  try {
    // Opened without blocking: a FIFO put where a file was listed would otherwise hold the worker until a writer came.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const stats = fstatSync(fd);
    if (!stats.isFile() && !stats.isDirectory()) return { unreadable: `${file} is not a regular file (a FIFO, socket or device since it was listed)` };
    if (stats.size > limit) return { oversized: stats.size };
    const wanted = stats.size + 1;
    if (readBuffer.length < wanted) readBuffer = Buffer.allocUnsafe(Math.max(wanted, Math.min(readBuffer.length * 2, limit + 1)));
    // At most one byte past the limit is read, even while the file grows: under the limit, the buffer grows with it.
    let length = 0;
    for (;;) {
      if (length > limit) return { oversized: fstatSync(fd).size };
      if (length === readBuffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(readBuffer.length * 2, limit + 1));
        readBuffer.copy(grown, 0, 0, length);
        readBuffer = grown;
      }
      const read = readSync(fd, readBuffer, length, Math.min(readBuffer.length, limit + 1) - length, length);
      if (read === 0) break;
      length += read;
    }
    return { body: readBuffer.subarray(0, length), bytes: length };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!UNREADABLE_CODES.has(code)) throw error;
    // The words LocalStorage.get uses for a file gone since it was listed.
    return { unreadable: code === 'ENOENT' ? `no object ${key} in ${location}` : (error as Error).message };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The objects of a request in order: each one's bytes (from the message, or read from its file), or why not. */
function* requestObjects(request: CutRequest): Generator<ObjectBody> {
  const all = Buffer.from(request.bodies.buffer, request.bodies.byteOffset, request.bodies.byteLength);
  let offset = 0;
  for (const [index, object] of request.objects.entries()) {
    const length = request.lengths[index] as number;
    if (length < 0) {
      yield readObjectFile(request.files[index] as string, object.key, request.location, request.limits.maxObjectBytes);
    } else {
      yield { body: all.subarray(offset, offset + length), bytes: 0 };
      offset += length;
    }
  }
}

port.on('message', (request: CutRequest) => {
  try {
    cutRequest(request);
  } finally {
    if (readBuffer.length > KEPT_READ_BYTES) readBuffer = Buffer.allocUnsafe(INITIAL_READ_BYTES);
  }
});

/** Cuts one request's objects and answers it, with the counts or with what failed. */
function cutRequest(request: CutRequest): void {
  try {
    const records: number[] = [];
    const bytes: number[] = [];
    const unreadable: Record<number, string> = {};
    /** Takes one object's outcome; returns its bytes when it is to be cut. */
    const take = (item: ObjectBody, index: number): Buffer | undefined => {
      bytes.push('bytes' in item ? item.bytes : 0);
      if ('unreadable' in item) unreadable[index] = item.unreadable;
      return 'body' in item ? item.body : undefined;
    };
    if (request.mode === 'count') {
      let index = 0;
      for (const item of requestObjects(request)) {
        const body = take(item, index);
        let count = 'oversized' in item ? 1 : 0;
        if (body !== undefined) for (const _record of objectRecords(body, request.limits)) count += 1;
        records.push(count);
        index += 1;
      }
      port.postMessage({ id: request.id, records, bytes, unreadable } satisfies CutReply);
      return;
    }
    // The lines go straight to this worker's own spool file, in the group's order: nothing is copied back to
    // the main thread, whose event loop stays free. A spool file used again is written over from its start,
    // not truncated first: pages the file already has cost far less to write than new ones.
    const spool = request.spool as { path: string; generation: number };
    const file = `${spool.path}.${threadId}`;
    const known = ends.get(file);
    let end = known?.generation === spool.generation ? known.end : 0;
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    const flush = () => {
      end += writeAt(fd, lines.contents(), end);
      lines.reset();
    };
    try {
      lines.reset();
      let index = 0;
      for (const item of requestObjects(request)) {
        const object = request.objects[index] as SpooledObject;
        const body = take(item, index);
        if (body !== undefined) records.push(cutObjectLines(object, body, request.limits, lines));
        else records.push('oversized' in item ? lines.addAll(object, [oversizedObjectRecord(item.oversized, request.limits)]) : 0);
        if (lines.contents().length > FLUSH_LINE_BYTES) flush();
        index += 1;
      }
      flush();
    } finally {
      closeSync(fd);
      ends.delete(file);
      ends.set(file, { generation: spool.generation, end });
      if (ends.size > KEPT_ENDS) ends.delete(ends.keys().next().value as string);
      lines.reset();
      if (lines.capacity > KEPT_LINE_BYTES) lines = new SpoolLines(INITIAL_LINE_BYTES);
    }
    port.postMessage({ id: request.id, records, bytes, unreadable, file, end } satisfies CutReply);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error), ...(typeof code === 'string' ? { code } : {}) } satisfies CutReply);
  }
}
