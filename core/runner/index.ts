export { runJob, runMetrics, type JobRunResult, type RunOptions } from './job-runner.ts';
export { QUARANTINE_TABLE } from './quarantine-table.ts';
export { newRunId } from './run-id.ts';
export { orderJobs } from './job-order.ts';
export { runJobs, type RunJobsOptions } from './run-jobs.ts';
