/**
 * A child process for fencing tests: runs one job with bookmarks on and a short lease, and stops itself
 * (SIGSTOP) at one fault point of it, as a process whose machine froze, or whose event loop was blocked,
 * would stall. The parent resumes it with SIGCONT; the child then prints its outcome as one JSON line.
 * Usage: stall-child.ts LAKE_DIR JOB_NAME FAULT_POINT
 */
import { openLocalLake } from '../../core/index.ts';
import { describeError } from '../../core/errors.ts';
import { runJobs, type FaultPoint } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

const [lakeDir, jobName, point] = process.argv.slice(2);
const job = PIPELINE_JOBS.find((candidate) => candidate.name === jobName);
if (!lakeDir || !job || !point) throw new Error('usage: stall-child.ts LAKE_DIR JOB_NAME FAULT_POINT');
const lake = openLocalLake(lakeDir, { threads: 2 });
let stalled = false;
try {
  await runJobs(lake, [job], {
    leaseMs: 1000,
    heartbeatMs: 200,
    settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }),
    faultPoint: (reached: FaultPoint, name: string) => {
      // Once: a commit that retries passes the same point again.
      if (reached !== point || name !== jobName || stalled) return;
      stalled = true;
      process.stdout.write('stalled\n');
      process.kill(process.pid, 'SIGSTOP');
    },
  });
  process.stdout.write(`${JSON.stringify({ outcome: 'committed' })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ outcome: 'failed', code: (error as { code?: string }).code, message: describeError(error) })}\n`);
}
