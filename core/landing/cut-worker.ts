/**
 * A worker thread of the cut pool (cut-pool.ts): decompresses and cuts landing objects, a group at a time, off
 * the main thread, whose event loop stays free for the lock's heartbeat and the engine's answers.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';
import { objectRecords } from './record-splitter.ts';
import { SpoolLines, cutObjectLines, writeAt } from './spool-lines.ts';
import type { CutReply, CutRequest } from './cut-pool.ts';

const INITIAL_LINE_BYTES = 1 << 22;
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

port.on('message', (request: CutRequest) => {
  try {
    const all = Buffer.from(request.bodies.buffer, request.bodies.byteOffset, request.bodies.byteLength);
    const records: number[] = [];
    let offset = 0;
    if (request.mode === 'count') {
      for (const length of request.lengths) {
        let count = 0;
        for (const _record of objectRecords(all.subarray(offset, offset + length), request.limits)) count += 1;
        records.push(count);
        offset += length;
      }
      port.postMessage({ id: request.id, records } satisfies CutReply);
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
      for (const [index, object] of request.objects.entries()) {
        const length = request.lengths[index] as number;
        records.push(cutObjectLines(object, all.subarray(offset, offset + length), request.limits, lines));
        offset += length;
        if (lines.contents().length > FLUSH_LINE_BYTES) flush();
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
    port.postMessage({ id: request.id, records, file, end } satisfies CutReply);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error), ...(typeof code === 'string' ? { code } : {}) } satisfies CutReply);
  }
});
