import type { JobRunResult } from '../core/index.ts';

/**
 * Wall time of a stage of a run: from the first start to the last end of the jobs whose names start with
 * `prefix` and did work (gold runs after silver, so its jobs form one stretch). 0 when none did.
 */
export function stageWallMs(results: readonly JobRunResult[], prefix: string): number {
  const stage = results.filter((result) => result.job.startsWith(prefix) && !result.nothingNew);
  if (stage.length === 0) return 0;
  return Math.max(...stage.map((result) => Date.parse(result.completedAt))) - Math.min(...stage.map((result) => Date.parse(result.startedAt)));
}
