import type { Engine } from '../../engine/index.ts';
import type { Job } from '../../job/index.ts';
import type { Lake } from '../../lake.ts';
import type { RunOptions } from '../run-options.ts';

/** What every phase of one run shares: the lake, the job, who this run is, and what it must release. */
export interface RunContext {
  readonly lake: Lake;
  readonly job: Job;
  readonly options: RunOptions;
  readonly runId: string;
  readonly startedAt: Date;
  readonly now: () => Date;
  /** Throws once the run was aborted (a timeout, a lost lock). */
  checkpoint(): void;
  /** Registers work to undo when the run ends, however it ends (views detached, local copies removed). */
  defer(release: () => Promise<void>): void;
  /** Registers work for the end of the run, after the deferred releases (the staging areas' disposal). */
  atEnd(dispose: () => Promise<void>): void;
  /** The run's engine, once `useEngine` gave it one. */
  readonly engine: Engine;
  /** The run's commit went in: what it staged is part of the lake, and an abort no longer undoes it. */
  readonly committed: boolean;
  markCommitted(): void;
  /** Where the run's time goes, by phase (JobRunResult.phasesMs). */
  readonly phases: PhaseClock;
}

/**
 * Wall time by phase of a run: planning (reads, inputs, plan), wait (for the turn to open an engine of its
 * own: RunOptions.engineTurn), landing (waiting for landing input to be cut), steps (the plan's intermediate
 * relations), write (outputs to Parquet; for a batch written while the next one's steps run, the wait for it
 * after them), quality, commit, publish. Each span of the run counts toward one phase, so their sum is about
 * the run's elapsed time.
 */
export class PhaseClock {
  private readonly spent = new Map<string, number>();

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  add(phase: string, ms: number): void {
    this.spent.set(phase, (this.spent.get(phase) ?? 0) + ms);
  }

  /** Milliseconds by phase, rounded, in the order phases first ran. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.spent].map(([phase, ms]) => [phase, Math.round(ms)]));
  }
}

/**
 * The resources of one run and their release: deferred releases first, then the end-of-run work (the
 * staging areas, whose stored files are discarded unless they were committed), the engine last. An abort
 * interrupts the engine's running statement.
 */
export class RunResources implements RunContext {
  private readonly releases: (() => Promise<void>)[] = [];
  private readonly disposals: (() => Promise<void>)[] = [];
  private opened: Engine | undefined;
  private afterClose: (() => void) | undefined;
  committed = false;
  readonly phases = new PhaseClock();
  private readonly interrupt = () => this.opened?.interrupt();

  constructor(
    readonly lake: Lake,
    readonly job: Job,
    readonly options: RunOptions,
    readonly runId: string,
    readonly startedAt: Date,
    readonly now: () => Date,
  ) {
    options.signal?.addEventListener('abort', this.interrupt, { once: true });
  }

  checkpoint(): void {
    this.options.signal?.throwIfAborted();
  }

  defer(release: () => Promise<void>): void {
    this.releases.push(release);
  }

  /** Registers work for the end of the run, after the deferred releases (the staging areas' disposal). */
  atEnd(dispose: () => Promise<void>): void {
    this.disposals.push(dispose);
  }

  markCommitted(): void {
    this.committed = true;
  }

  /** The run's engine from now on; closed when the run ends, and then `closed` is called. */
  useEngine(engine: Engine, closed?: () => void): void {
    this.opened = engine;
    this.afterClose = closed;
  }

  get engine(): Engine {
    if (!this.opened) throw new Error(`job ${this.job.name}: the run has no engine yet`);
    return this.opened;
  }

  async release(): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.interrupt);
    await Promise.allSettled(this.releases.map((release) => release()));
    for (const dispose of this.disposals) await dispose().catch(() => undefined);
    try {
      this.opened?.close();
    } finally {
      this.afterClose?.();
    }
  }
}
