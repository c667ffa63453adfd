import { ConfigError, orderJobs, type Job, type JobRunResult } from '../../core/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

/** Jobs named on the command line (or all of them), in dependency order; unknown names are refused together. */
export function selectJobs(names: readonly string[], all: boolean, jobs: readonly Job[] = PIPELINE_JOBS): Job[] {
  if (all && names.length > 0) throw new ConfigError('RUN_ARGUMENTS_INVALID', 'give job names or --all, not both');
  if (!all && names.length === 0) {
    throw new ConfigError('RUN_ARGUMENTS_INVALID', 'name the jobs to run, or pass --all', { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  if (all) return orderJobs(jobs);
  const unknown = names.filter((name) => !jobs.some((job) => job.name === name));
  if (unknown.length > 0) {
    throw new ConfigError('JOB_UNKNOWN', `no job named ${unknown.join(', ')}`, { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  const chosen = new Set(names);
  return orderJobs(jobs.filter((job) => chosen.has(job.name)));
}

export function describeRun(result: JobRunResult): string {
  const written = Object.entries(result.recordsWritten).map(([table, rows]) => `${table} ${rows}`).join(', ');
  const extras = [
    result.recordsQuarantined > 0 ? `${result.recordsQuarantined} quarantined` : '',
    result.recordsDuplicated > 0 ? `${result.recordsDuplicated} duplicates` : '',
  ].filter(Boolean);
  return `${result.job} SUCCEEDED in ${(result.elapsedMs / 1000).toFixed(2)} s: read ${result.recordsRead}, wrote ${written}${extras.length ? `, ${extras.join(', ')}` : ''} (run ${result.runId.slice(0, 19)}…)`;
}
