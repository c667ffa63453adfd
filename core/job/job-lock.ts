/**
 * The name of a job's lock: held by its run (one run of a job at a time) and by whatever else changes what
 * the job owns in the lake's root, such as a bookmark reset, so the two never interleave.
 */
export function jobLockName(jobName: string): string {
  return `job-${jobName}`;
}
