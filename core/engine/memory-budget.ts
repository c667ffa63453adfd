import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';

/**
 * What DuckDB may hold per engine when no limit is given. DuckDB's own default is 80% of the machine per
 * instance, and a pipeline run may hold two at once (one run that reads everything, and the instance the
 * bookmarked runs share: see `runJobs`), so on a laptop or
 * in a container a large run took most of the memory it could see (9.8 GiB at 10M events on a 24 GiB
 * machine) or was killed by a container limit DuckDB did not count. With a limit, DuckDB spills to its
 * temporary directory instead. 1 GiB per engine ran the benchmark at 1M events no slower than no limit did.
 */
export const DEFAULT_ENGINE_MEMORY_BYTES = 1024 ** 3;
/** Below this DuckDB runs out of memory in operators that cannot spill, rather than spilling. */
export const MIN_ENGINE_MEMORY_BYTES = 256 * 1024 ** 2;
/** Engines a pipeline run may hold at once: one run's that reads everything (they take turns), and the shared one. */
const ENGINES_AT_ONCE = 2;

/**
 * Memory the process may use: its control group's limit in a container (what Node finds, which follows a
 * nested cgroup v2; else the cgroup v2 or v1 root files), else the machine's.
 */
export function availableMemoryBytes(
  readText: (file: string) => string = (file) => readFileSync(file, 'utf8'),
  machine: number = totalmem(),
  constrained: number | undefined = process.constrainedMemory?.(),
): number {
  if (constrained !== undefined && constrained > 0 && constrained < machine) return constrained;
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const limit = Number(readText(file).trim());
      // cgroup v2 says "max" when unlimited, v1 a huge number.
      if (Number.isFinite(limit) && limit > 0 && limit < machine) return limit;
    } catch {
      // Not in a control group with a memory controller here.
    }
  }
  return machine;
}

/**
 * DuckDB's memory limit per engine when none is set: half of the available memory shared by the engines a
 * run holds at once, at most DEFAULT_ENGINE_MEMORY_BYTES (raise it with `--memory-limit` on a larger machine:
 * docs/deploy.md, "Sizing") and at least MIN_ENGINE_MEMORY_BYTES.
 */
export function defaultMemoryLimit(available: number = availableMemoryBytes()): string {
  const share = Math.floor(available / 2 / ENGINES_AT_ONCE);
  const bytes = Math.max(MIN_ENGINE_MEMORY_BYTES, Math.min(DEFAULT_ENGINE_MEMORY_BYTES, share));
  return `${Math.floor(bytes / 1024 ** 2)}MiB`;
}

let engines = 0;

/**
 * A spill folder of its own for each engine, under `base`. Two DuckDB instances spilling into one folder
 * overwrite each other's blocks: at 10M events, two gold jobs side by side failed with "Cannot create a
 * string of size 5455934004" when they shared one.
 */
export function engineTempDirectory(base: string): string {
  engines += 1;
  return path.join(base, `medallion-duckdb-${process.pid}-${engines}`);
}
