/**
 * A run's timeout, which stands still while the run waits for its turn to open an engine (pause, resume).
 * Its signal aborts with a TimeoutError, as AbortSignal.timeout's does.
 */
export class RunTimeout {
  private readonly controller = new AbortController();
  private remainingMs: number;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.remainingMs = ms;
    this.resume();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  pause(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs -= performance.now() - this.since;
  }

  resume(): void {
    if (this.timer !== undefined || this.controller.signal.aborted) return;
    this.since = performance.now();
    // setTimeout's longest delay; Glue's 7-day cap is well under it.
    this.timer = setTimeout(() => this.controller.abort(new DOMException('The run timed out', 'TimeoutError')), Math.min(Math.max(0, this.remainingMs), 2 ** 31 - 1));
    this.timer.unref();
  }

  clear(): void {
    this.pause();
  }
}
