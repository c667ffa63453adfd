/**
 * Turns for engines of their own, one at a time, in the order they were asked for: `runJobs` makes the runs
 * that read everything take turns (see RunOptions.engineTurn). A wait ends early, with the signal's reason,
 * when the signal aborts (a stop or the job's timeout).
 */
export class EngineTurns {
  private holding = false;
  private readonly waiting: { grant: () => void; abandon: () => void }[] = [];

  /** Resolves when the caller's turn comes, with the function that ends it (once; later calls do nothing). */
  take = (signal?: AbortSignal): Promise<() => void> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.holding) {
      this.holding = true;
      return Promise.resolve(this.ender());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', entry.abandon);
          resolve(this.ender());
        },
        abandon: () => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', entry.abandon, { once: true });
      this.waiting.push(entry);
    });
  };

  private ender(): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.holding = false;
    };
  }
}
