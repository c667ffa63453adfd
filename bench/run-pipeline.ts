import { openLocalLake, orderJobs, runJob } from '../core/index.ts';
import { PIPELINE_JOBS } from '../jobs/index.ts';

/** Runs every job once over the lake (its own process, so peak RSS is the pipeline's alone) and prints JSON timings. */
const directory = process.argv[2];
if (!directory) throw new Error('usage: run-pipeline.ts LAKE_DIR');
const lake = openLocalLake(directory);
const jobs: { job: string; wallMs: number; recordsRead: number; recordsWritten: number }[] = [];
const started = performance.now();
for (const job of orderJobs(PIPELINE_JOBS)) {
  const jobStarted = performance.now();
  const result = await runJob(lake, job);
  jobs.push({
    job: job.name,
    wallMs: performance.now() - jobStarted,
    recordsRead: result.recordsRead,
    recordsWritten: Object.values(result.recordsWritten).reduce((sum, rows) => sum + rows, 0),
  });
}
const totalMs = performance.now() - started;
process.stdout.write(`${JSON.stringify({ totalMs, jobs, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
