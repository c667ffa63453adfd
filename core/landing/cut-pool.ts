import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LandingLimits } from './record-splitter.ts';
import type { SpooledObject } from './spool-lines.ts';

/**
 * Some objects for a worker: their spool lines, which the worker writes to its own file beside `spool`, after
 * its earlier lines of the same use of the spool (`lines`), or only how many records each holds (`count`).
 * An object comes either as bytes, one after another in `bodies` (`lengths` each), or as a local file the
 * worker reads itself (`files`, where its length is -1): a folder lake's objects are not read on the main
 * thread, nor copied to reach the worker. Small objects travel together: one message per object would cost
 * more than cutting it.
 */
export type CutRequest = {
  readonly id: number;
  readonly mode: 'lines' | 'count';
  /**
   * Mode `lines`: the spool the worker's file is named after (`<path>.<thread id>`), and which use of it this
   * is: a new generation writes the file from its start.
   */
  readonly spool?: { readonly path: string; readonly generation: number };
  readonly objects: readonly SpooledObject[];
  readonly bodies: Uint8Array;
  /** Each object's bytes in `bodies`, or -1 for an object read from its file in `files`. */
  readonly lengths: readonly number[];
  readonly files: readonly string[];
  /** The lake's location, for the message about a file gone since it was listed. */
  readonly location: string;
  readonly limits: LandingLimits;
};

export type CutReply =
  | {
      readonly id: number;
      readonly records: readonly number[];
      /** Bytes the worker read of each object it read from its file (0 for the others). */
      readonly bytes: readonly number[];
      /** Objects whose files could not be read, by position, and why. */
      readonly unreadable: Readonly<Record<number, string>>;
      readonly file?: string;
      readonly end?: number;
      readonly error?: undefined;
    }
  /** A failure: what the worker threw, and its system error code (ENOSPC writing the spool, say), if any. */
  | { readonly id: number; readonly error: string; readonly code?: string };

/** One object for the pool: its bytes, or the local file that holds them. */
export type CutObject = { readonly object: SpooledObject } & ({ readonly body: Buffer; readonly file?: undefined } | { readonly file: string; readonly body?: undefined });

export interface CutResult {
  /** Records of each object, in order. */
  readonly records: readonly number[];
  /** Bytes read of each object the worker read from its file (0 for the others). */
  readonly bytes: readonly number[];
  /** Objects whose files could not be read (gone, no permission, not a file), by position, and why. */
  readonly unreadable: ReadonlyMap<number, string>;
  /** Mode `lines`: the file the objects' spool lines were written to, in their order, and where they end in it. */
  readonly spooled?: { readonly file: string; readonly end: number };
}

interface Pending {
  readonly request: CutRequest;
  readonly transfer: ArrayBuffer[];
  resolve(result: CutResult): void;
  reject(error: Error): void;
}

/**
 * Worker threads that decompress and cut landing objects, one group of objects per worker at a time, as many
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

  cut(mode: CutRequest['mode'], objects: readonly CutObject[], limits: LandingLimits, spool?: CutRequest['spool'], location = ''): Promise<CutResult> {
    if (mode === 'lines' && spool === undefined) throw new Error('cutting to spool lines needs the spool they go beside');
    // One copy of the bodies is handed over (the callers' buffers stay whole: a store may keep them).
    const bodies = new Uint8Array(objects.reduce((sum, item) => sum + (item.body?.length ?? 0), 0));
    let offset = 0;
    for (const item of objects) {
      if (item.body === undefined) continue;
      bodies.set(item.body, offset);
      offset += item.body.length;
    }
    const request: CutRequest = {
      id: (this.nextId += 1),
      mode,
      ...(spool === undefined ? {} : { spool }),
      objects: objects.map(({ object }) => ({ key: object.key, lastModifiedMs: object.lastModifiedMs })),
      bodies,
      lengths: objects.map((item) => item.body?.length ?? -1),
      files: objects.map((item) => item.file ?? ''),
      location,
      limits,
    };
    return new Promise<CutResult>((resolve, reject) => {
      this.queue.push({ request, transfer: [bodies.buffer as ArrayBuffer], resolve, reject });
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
    // Compiled (dist/), the worker is plain JavaScript; from the sources, its entry loads it through tsx.
    const worker = new Worker(new URL(import.meta.url.endsWith('.ts') ? './cut-worker-entry.mjs' : './cut-worker.js', import.meta.url));
    this.started += 1;
    worker.on('message', (reply: CutReply) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (pending && pending.request.id === reply.id) {
        if (reply.error !== undefined) pending.reject(cutFailure(pending.request, reply.error, reply.code));
        else {
          pending.resolve({
            records: reply.records,
            bytes: reply.bytes,
            unreadable: new Map(Object.entries(reply.unreadable).map(([index, why]) => [Number(index), why])),
            ...(reply.file === undefined ? {} : { spooled: { file: reply.file, end: reply.end ?? 0 } }),
          });
        }
      }
      this.dispatch();
    });
    const lost = (error: Error) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
      this.started -= 1;
      pending?.reject(new Error(`the worker cutting ${describeObjects(pending.request)} stopped: ${error.message}`));
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => {
      if (this.busy.has(worker) || this.idle.includes(worker)) lost(new Error(`exit code ${code}`));
    });
    return worker;
  }
}

/** A worker's failure as an error of this thread, keeping the system's code (a full disk is DISK_FULL, not a crash). */
function cutFailure(request: CutRequest, error: string, code: string | undefined): Error {
  const message = `cutting ${describeObjects(request)} failed: ${error}`;
  return code === undefined ? new Error(message) : new Error(message, { cause: Object.assign(new Error(error), { code }) });
}

function describeObjects(request: CutRequest): string {
  const [first] = request.objects;
  return request.objects.length === 1 ? (first?.key ?? '') : `${request.objects.length} objects from ${first?.key ?? ''}`;
}

let shared: CutPool | undefined;

/** The process's cut pool, started on first use. */
export function cutPool(): CutPool {
  shared ??= new CutPool(Math.max(1, Math.min(availableParallelism(), 4)));
  return shared;
}
