/**
 * The product's modules as the benchmark runs them: compiled (dist/, which `npm run bench` builds first), as
 * `medallion` and the job image run them; with MEDALLION_BENCH_SOURCES=1, the sources through tsx instead (a
 * change not built yet). Through tsx each cut worker compiles its modules as it starts: in a fresh process the
 * first cut of bronze.users' 13,519 objects took 1.6 s against 0.8 s compiled (0.3 s once the workers run), and
 * inside the 1M pipeline bronze.users_cdc's landing phase 0.96 to 1.14 s against 0.77 to 1.21 s.
 */
const fromSources = process.env.MEDALLION_BENCH_SOURCES === '1';

async function load<T>(source: string, compiled: string): Promise<T> {
  return (await import(fromSources ? source : compiled)) as T;
}

export const { openLocalLake } = await load<typeof import('../core/index.ts')>('../core/index.ts', '../dist/core/index.js');
export const { runJobs } = await load<typeof import('../core/runner/index.ts')>('../core/runner/index.ts', '../dist/core/runner/index.js');
export const { LocalStorage } = await load<typeof import('../core/storage/index.ts')>('../core/storage/index.ts', '../dist/core/storage/index.js');
export const { PIPELINE_JOBS } = await load<typeof import('../jobs/index.ts')>('../jobs/index.ts', '../dist/jobs/index.js');
export const { loadPipelineRuleSets } = await load<typeof import('../jobs/quality.ts')>('../jobs/quality.ts', '../dist/jobs/quality.js');
