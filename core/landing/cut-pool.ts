import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LandingLimits } from './record-splitter.ts';
import type { SpooledObject } from './spool-lines.ts';

/** One object for a worker: its spool lines (`lines`), or only how many records it holds (`count`). */
export type CutRequest = {
  readonly id: number;
  readonly mode: 'lines' | 'count';
  readonly object: SpooledObject;
  readonly body: Uint8Array;
  readonly limits: LandingLimits;
};

export type CutReply =
  | { readonly id: number; readonly records: number; readonly lines?: Uint8Array; readonly error?: undefined }
  | { readonly id: number; readonly error: string };

export interface CutResult {
  readonly records: number;
  /** The object's spool lines (mode `lines`). */
  readonly lines: Uint8Array;
}

interface Pending {
  readonly request: CutRequest;
  readonly transfer: ArrayBuffer[];
  resolve(result: CutResult): void;
  reject(error: Error): void;
}

/**
 * Worker threads that decompress and cut landing objects, one object per worker at a time, as many
 * workers as cores (at most four). Idle workers do not keep the process alive; a worker that dies fails
 * the objects it held and is replaced on the next request.
 */
export class CutPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private started = 0;
  private nextId = 0;

  constructor(readonly size: number) {}

  cut(mode: CutRequest['mode'], object: SpooledObject, body: Buffer, limits: LandingLimits): Promise<CutResult> {
    // A copy is handed over (the caller's buffer stays whole: a store may keep it): compressed bytes, cheap
    // beside the cutting.
    const sent = new Uint8Array(body);
    const request: CutRequest = { id: (this.nextId += 1), mode, object: { key: object.key, lastModifiedMs: object.lastModifiedMs }, body: sent, limits };
    return new Promise<CutResult>((resolve, reject) => {
      this.queue.push({ request, transfer: [sent.buffer as ArrayBuffer], resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; requests still waiting fail. */
  async close(): Promise<void> {
    for (const pending of this.queue.splice(0)) pending.reject(new Error('the cut pool was closed'));
    const workers = [...this.idle.splice(0), ...this.busy.keys()];
    await Promise.all(workers.map((worker) => worker.terminate()));
    this.started = 0;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.startWorker() : undefined);
      if (!worker) return;
      const pending = this.queue.shift() as Pending;
      try {
        worker.postMessage(pending.request, pending.transfer);
      } catch (error) {
        this.idle.push(worker);
        pending.reject(error as Error);
        continue;
      }
      this.busy.set(worker, pending);
      worker.ref();
    }
  }

  private startWorker(): Worker {
    const worker = new Worker(new URL('./cut-worker-entry.mjs', import.meta.url));
    this.started += 1;
    worker.on('message', (reply: CutReply) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (pending && pending.request.id === reply.id) {
        if (reply.error !== undefined) pending.reject(new Error(`cutting ${pending.request.object.key} failed: ${reply.error}`));
        else pending.resolve({ records: reply.records, lines: reply.lines ?? new Uint8Array(0) });
      }
      this.dispatch();
    });
    const lost = (error: Error) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
      this.started -= 1;
      pending?.reject(new Error(`the worker cutting ${pending.request.object.key} stopped: ${error.message}`));
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => {
      if (this.busy.has(worker) || this.idle.includes(worker)) lost(new Error(`exit code ${code}`));
    });
    return worker;
  }
}

let shared: CutPool | undefined;

/** The process's cut pool, started on first use. */
export function cutPool(): CutPool {
  shared ??= new CutPool(Math.max(1, Math.min(availableParallelism(), 4)));
  return shared;
}
