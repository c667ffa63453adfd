/**
 * A child process for memory tests: runs the whole pipeline on a lake, then reconciles it, and prints one
 * JSON line with the run states, reconcile's differences and the process's peak resident set size
 * (worker threads included: they share the process). Usage: measure-child.ts LAKE_DIR
 */
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';

const [lakeDir] = process.argv.slice(2);
if (!lakeDir) throw new Error('usage: measure-child.ts LAKE_DIR');
const lake = openLocalLake(lakeDir, { threads: 2 });
const runs = await runJobs(lake, PIPELINE_JOBS);
const { differences } = await reconcileLake(lake);
process.stdout.write(
  `${JSON.stringify({ states: Object.fromEntries(runs.map((run) => [run.job, run.state])), differences, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
