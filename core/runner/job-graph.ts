import { ConfigError } from '../errors.ts';
import type { Job } from '../job/index.ts';

/**
 * The jobs of a pipeline as a graph: each waits for the jobs that write the tables it reads and the
 * tables its outputs' quality rules reference (silver.tasks' rules check user_id against silver.users).
 * `runJobs` (and so `medallion run` and `run --all`) and the CDK pipeline's stages take their order from here.
 *
 * @example
 * jobGraph(PIPELINE_JOBS, ruleSets).stages.map((stage) => stage.map((job) => job.name));
 * // [['bronze.tasks_cdc', 'bronze.users_cdc'], ['silver.users'], ['silver.tasks'], ['gold.active_users', ...]]
 */
export interface JobGraph {
  /** Every job after the jobs it waits for; independent jobs keep the order they were given in. */
  readonly ordered: readonly Job[];
  /** The jobs each job waits for (only among the given jobs). */
  upstreamOf(job: Job): readonly Job[];
  /**
   * The jobs in stages: a stage holds every job whose upstream jobs are all in earlier stages, so a stage's
   * jobs can run side by side; each stage lists its jobs in the order they were given.
   */
  readonly stages: readonly (readonly Job[])[];
}

/** A rule set's table and the other tables its rules reference, as `TableRuleSet` has them. */
export interface RuleReferences {
  readonly table: string;
  readonly references: Readonly<Record<string, string>>;
}

/** Builds the graph of `jobs`; refuses a cycle (JOB_CYCLE), naming the jobs in it. */
export function jobGraph(jobs: readonly Job[], ruleSets: Iterable<RuleReferences> = []): JobGraph {
  const writerOf = new Map<string, Job>();
  for (const job of jobs) for (const output of job.outputs) writerOf.set(output.name, job);
  const referenced = new Map<string, string[]>();
  for (const set of ruleSets) referenced.set(set.table, [...(referenced.get(set.table) ?? []), ...Object.values(set.references)]);
  const upstream = new Map<Job, Job[]>(
    jobs.map((job) => {
      const read = Object.values(job.sources).flatMap((source) => (source.kind === 'table' ? [source.table] : []));
      const checked = job.outputs.flatMap((output) => referenced.get(output.name) ?? []);
      const writers = [...read, ...checked].flatMap((table) => {
        const writer = writerOf.get(table);
        return writer && writer !== job ? [writer] : [];
      });
      return [job, [...new Set(writers)]];
    }),
  );

  const ordered: Job[] = [];
  const stageOf = new Map<Job, number>();
  const visiting = new Set<Job>();
  const visit = (job: Job, path: readonly string[]) => {
    if (stageOf.has(job)) return;
    if (visiting.has(job)) {
      throw new ConfigError('JOB_CYCLE', `jobs wait on each other in a cycle (through the tables they read or their quality rules reference): ${[...path, job.name].join(' -> ')}`, {
        hint: 'a job cannot read, or reference in its quality rules, a table written by a job that depends on it',
      });
    }
    visiting.add(job);
    for (const writer of upstream.get(job) ?? []) visit(writer, [...path, job.name]);
    visiting.delete(job);
    stageOf.set(job, Math.max(0, ...(upstream.get(job) ?? []).map((writer) => (stageOf.get(writer) as number) + 1)));
    ordered.push(job);
  };
  for (const job of jobs) visit(job, []);

  const stages: Job[][] = [];
  for (const job of jobs) (stages[stageOf.get(job) as number] ??= []).push(job);
  return { ordered, upstreamOf: (job) => upstream.get(job) ?? [], stages };
}

/** Jobs in an order where each runs after the jobs that write the tables it reads. Refuses a cycle. */
export function orderJobs(jobs: readonly Job[]): Job[] {
  return [...jobGraph(jobs).ordered];
}
