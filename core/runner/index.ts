export { FAULT_POINTS, quarantineStagingPrefix, runJob, runMetrics, type FaultPoint, type JobRunResult, type RunOptions } from './job-runner.ts';
export { QUARANTINE_TABLE } from './quarantine-table.ts';
export { newRunId } from './run-id.ts';
export { orderJobs } from './job-order.ts';
export { runJobs, type RunJobsOptions } from './run-jobs.ts';
export { JOB_RUN_STATES, TERMINAL_STATES, jobStateChangeEvent, type JobRunRecord, type JobRunState, type JobStateChangeEvent } from './job-run-record.ts';
export { lockName, startJobRun, type JobRunSettings, type JobRunTuning } from './start-job-run.ts';
export { isTransientError } from './transient-errors.ts';
export { recoverDeadRuns, type Recovery } from './recover-dead-runs.ts';
