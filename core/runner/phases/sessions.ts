import type { Engine } from '../../engine/index.ts';

/** Outputs an incremental run writes at once: DuckDB's Parquet writer keeps about one and a half cores busy, so two share two well. */
export const OUTPUTS_AT_ONCE = 2;

/**
 * `work` for each item, up to `width` at a time: the first on `engine`, the others on forks of it, closed
 * when all ended. Results come in the items' order, whatever order they finish in; after a failure no
 * other item starts, and the first failure is thrown once the running ones ended.
 */
export async function inSessions<T, R>(engine: Engine, items: readonly T[], width: number, work: (item: T, session: Engine) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (session: Engine) => {
    for (let index = next++; index < items.length; index = next++) {
      try {
        results[index] = await work(items[index] as T, session);
      } catch (error) {
        next = items.length;
        throw error;
      }
    }
  };
  const forks: Engine[] = [];
  try {
    while (forks.length < Math.min(width, items.length) - 1) forks.push(await engine.fork());
    const settled = await Promise.allSettled([engine, ...forks].map((session) => worker(session)));
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    for (const fork of forks) fork.close();
  }
  return results;
}
