import { ConfigError } from '../errors.ts';
import type { Job } from '../job/index.ts';

/**
 * Jobs in an order where each runs after the jobs that write the tables it reads.
 * Refuses a cycle, naming the jobs in it.
 */
export function orderJobs(jobs: readonly Job[]): Job[] {
  const writerOf = new Map<string, Job>();
  for (const job of jobs) for (const output of job.outputs) writerOf.set(output.name, job);
  const ordered: Job[] = [];
  const state = new Map<Job, 'visiting' | 'done'>();
  const visit = (job: Job, path: readonly string[]) => {
    const seen = state.get(job);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new ConfigError('JOB_CYCLE', `jobs read each other's tables in a cycle: ${[...path, job.name].join(' -> ')}`);
    state.set(job, 'visiting');
    for (const source of Object.values(job.sources)) {
      if (source.kind !== 'table') continue;
      const writer = writerOf.get(source.table);
      if (writer && writer !== job) visit(writer, [...path, job.name]);
    }
    state.set(job, 'done');
    ordered.push(job);
  };
  for (const job of jobs) visit(job, []);
  return ordered;
}
