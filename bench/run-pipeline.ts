import { PIPELINE_JOBS, loadPipelineRuleSets, openLocalLake, runJobs } from './product.ts';
import { stageWallMs } from './stage-wall.ts';

/**
 * Runs every job once over the lake, as `medallion run --all` does (independent jobs side by side), in
 * its own process so peak RSS is the pipeline's alone, and prints JSON timings.
 */
const directory = process.argv[2];
if (!directory) throw new Error('usage: run-pipeline.ts LAKE_DIR');
// MEDALLION_MEMORY_LIMIT caps DuckDB per engine, as `medallion --memory-limit` does.
const lake = openLocalLake(directory, process.env.MEDALLION_MEMORY_LIMIT ? { memoryLimit: process.env.MEDALLION_MEMORY_LIMIT } : {});
const started = performance.now();
// The pipeline as `medallion run --all` runs it: every output checked by its quality rules (MEDALLION_BENCH_QUALITY=off to leave them out).
const quality = process.env.MEDALLION_BENCH_QUALITY === 'off' ? undefined : await loadPipelineRuleSets();
const results = await runJobs(lake, PIPELINE_JOBS, quality ? { quality } : {});
const totalMs = performance.now() - started;
const goldWallMs = stageWallMs(results, 'gold.');
const jobs = results.map((result) => ({
  job: result.job,
  wallMs: result.elapsedMs,
  recordsRead: result.recordsRead,
  recordsWritten: Object.values(result.recordsWritten).reduce((sum, rows) => sum + rows, 0),
  phasesMs: result.phasesMs ?? {},
}));
process.stdout.write(`${JSON.stringify({ totalMs, goldWallMs, jobs, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
