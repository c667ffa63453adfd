/**
 * A worker thread of the cut pool (cut-pool.ts): decompresses and cuts one landing object at a time, off
 * the main thread, whose event loop stays free for the lock's heartbeat and the engine's answers.
 */
import { parentPort } from 'node:worker_threads';
import { objectRecords } from './record-splitter.ts';
import { SpoolLines, cutObjectLines } from './spool-lines.ts';
import type { CutReply, CutRequest } from './cut-pool.ts';

const INITIAL_LINE_BYTES = 1 << 22;
/** A line buffer grown past this by one large object is let go afterwards, not kept for the worker's life. */
const KEPT_LINE_BYTES = 1 << 26;
const REPLY_LINE_BYTES = 1 << 26;

if (!parentPort) throw new Error('cut-worker.ts runs as a worker thread of the cut pool');
const port = parentPort;
let lines = new SpoolLines(INITIAL_LINE_BYTES);

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
    lines.reset();
    // Objects are cut until the lines pass REPLY_LINE_BYTES: a group of small objects that inflate a lot
    // comes back in parts (records says how many were cut), so a reply holds at most that and one object.
    for (const [index, object] of request.objects.entries()) {
      if (index > 0 && lines.contents().length > REPLY_LINE_BYTES) break;
      const length = request.lengths[index] as number;
      records.push(cutObjectLines(object, all.subarray(offset, offset + length), request.limits, lines));
      offset += length;
    }
    // A copy the size of the lines, handed over without another copy.
    const cut = new Uint8Array(lines.contents());
    if (lines.contents().buffer.byteLength > KEPT_LINE_BYTES) lines = new SpoolLines(INITIAL_LINE_BYTES);
    port.postMessage({ id: request.id, records, lines: cut } satisfies CutReply, [cut.buffer]);
  } catch (error) {
    port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies CutReply);
  }
});
