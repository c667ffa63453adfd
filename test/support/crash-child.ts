/**
 * A child process for crash tests: runs the pipeline with bookmarks on and kills itself with SIGKILL at
 * one fault point of one job, as a machine that loses power would.
 * Usage: crash-child.ts LAKE_DIR JOB_NAME FAULT_POINT
 */
import { openLocalLake } from '../../core/index.ts';
import { runJobs, type FaultPoint } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

const [lakeDir, jobName, point] = process.argv.slice(2);
if (!lakeDir || !jobName || !point) throw new Error('usage: crash-child.ts LAKE_DIR JOB_NAME FAULT_POINT');
const lake = openLocalLake(lakeDir, { threads: 2 });
await runJobs(lake, PIPELINE_JOBS, {
  concurrency: 1,
  leaseMs: 500,
  heartbeatMs: 100,
  settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }),
  faultPoint: (reached: FaultPoint, job: string) => {
    if (reached === point && job === jobName) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('finished without crashing\n');
