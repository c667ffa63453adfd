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

if (!parentPort) throw new Error('cut-worker.ts runs as a worker thread of the cut pool');
const port = parentPort;
let lines = new SpoolLines(INITIAL_LINE_BYTES);

port.on('message', (request: CutRequest) => {
  try {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    if (request.mode === 'count') {
      let records = 0;
      for (const _record of objectRecords(body, request.limits)) records += 1;
      port.postMessage({ id: request.id, records } satisfies CutReply);
      return;
    }
    lines.reset();
    const records = cutObjectLines(request.object, body, request.limits, lines);
    // A copy the size of the lines, handed over without another copy.
    const cut = new Uint8Array(lines.contents());
    if (lines.contents().buffer.byteLength > KEPT_LINE_BYTES) lines = new SpoolLines(INITIAL_LINE_BYTES);
    port.postMessage({ id: request.id, records, lines: cut } satisfies CutReply, [cut.buffer]);
  } catch (error) {
    port.postMessage({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies CutReply);
  }
});
