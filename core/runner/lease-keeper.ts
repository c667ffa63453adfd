import { LockLostError } from '../errors.ts';
import type { LockLease, StateStore } from '../state/index.ts';

/**
 * Keeps a lock's lease alive while a run works: renews it every `everyMs`, one renewal at a time (the next
 * is scheduled only when the previous one ended), so a renewal slower than the interval is never raced by
 * the next one holding the old generation. The run has lost the lock (`lost` aborts) when a renewal finds
 * it taken (LockLostError), or when renewals kept failing (throttling, a dropped connection) until the
 * lease ran out; until then a failed renewal is tried again.
 *
 * @example
 * const keeper = new LeaseKeeper(state, lease, { leaseMs: 60_000, everyMs: 20_000, now });
 * try { await work(keeper.lost); } finally { await state.releaseLock(await keeper.stop()); }
 */
export class LeaseKeeper {
  private lease: LockLease;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly state: StateStore,
    lease: LockLease,
    private readonly options: { readonly leaseMs: number; readonly everyMs: number; readonly now: () => Date },
  ) {
    this.lease = lease;
    this.schedule(options.everyMs);
  }

  /** Aborts, with the reason, once the run no longer holds the lock. */
  get lost(): AbortSignal {
    return this.controller.signal;
  }

  /** The lease as last renewed. */
  get current(): LockLease {
    return this.lease;
  }

  /** Stops renewing, after the renewal in flight (if any) ended; returns the lease to release. */
  async stop(): Promise<LockLease> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewal;
    return this.lease;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.lost.aborted) return;
    this.timer = setTimeout(() => void (this.renewal = this.renew()), delayMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      this.lease = await this.state.renewLock(this.lease, this.options.leaseMs, this.options.now().getTime());
      this.schedule(this.options.everyMs);
    } catch (error) {
      if (error instanceof LockLostError || this.options.now().getTime() >= this.lease.expiresAtMs) {
        this.controller.abort(error);
        return;
      }
      // A transient failure: try again soon, while the lease still holds.
      this.schedule(Math.max(1, Math.min(this.options.everyMs, Math.floor((this.lease.expiresAtMs - this.options.now().getTime()) / 4))));
    } finally {
      this.renewal = undefined;
    }
  }
}
