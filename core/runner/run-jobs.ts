import { ConfigError } from '../errors.ts';
import type { Engine } from '../engine/index.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot } from '../state/index.ts';
import type { JobRunResult } from './job-runner.ts';
import { orderJobs } from './job-order.ts';
import { startJobRun, type JobRunSettings, type JobRunTuning } from './start-job-run.ts';

export interface RunJobsOptions extends JobRunTuning {
  /** Jobs that may run at the same time when neither reads the other's tables (default 2). */
  readonly concurrency?: number;
  readonly onResult?: (result: JobRunResult) => void;
  /** Run settings (retries, timeout, arguments) per job. */
  readonly settingsFor?: (job: Job) => JobRunSettings;
}

/**
 * Runs jobs as a graph (each as `startJobRun` runs it: locked, recorded, retried): each starts once every
 * job that writes a table it reads has succeeded, and
 * independent jobs (bronze.tasks_cdc and bronze.users_cdc, say) run side by side. After a failure no
 * new job starts; the ones running finish, then the first error is thrown. The catalog is published once,
 * after the last job, with the newest commit (local views, or Glue for every table the jobs wrote). Bookmarked
 * runs share one engine instance, each working in an isolate of it (`Engine.isolate`).
 */
export async function runJobs(lake: Lake, jobs: readonly Job[], options: RunJobsOptions = {}): Promise<JobRunResult[]> {
  const ordered = orderJobs(jobs);
  const writerOf = new Map<string, Job>();
  for (const job of ordered) for (const output of job.outputs) writerOf.set(output.name, job);
  // A job waits for the writers of the tables it reads, and of the tables its outputs' quality rules
  // reference (silver.tasks' rules check user_id against silver.users).
  const upstream = new Map(
    ordered.map((job) => {
      const read = Object.values(job.sources).flatMap((source) => (source.kind === 'table' ? [source.table] : []));
      const referenced = job.outputs.flatMap((output) => Object.values(options.quality?.get(output.name)?.references ?? {}));
      const writers = [...read, ...referenced].flatMap((table) => {
        const writer = writerOf.get(table);
        return writer && writer !== job ? [writer] : [];
      });
      return [job, [...new Set(writers)]];
    }),
  );
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const done = new Set<Job>();
  const started = new Set<Job>();
  const results: JobRunResult[] = [];
  const running = new Map<Job, Promise<void>>();
  let failure: unknown;
  // The catalog is published once, after the last job: the newest commit, with every table the jobs wrote,
  // so tables the jobs commit together appear together (and a run of many jobs publishes once, not per job).
  let newest: LakeRoot | undefined;
  const written = new Set<string>();
  // One DuckDB instance for the jobs' bookmarked runs, each in an isolate (a database of its own): such a run
  // starts without creating an instance, and reads the Parquet footers earlier jobs cached (silver's outputs
  // are gold's inputs). A run that reads everything opens its own (see RunOptions.incrementalEngine).
  let shared: Promise<Engine> | undefined;
  const tuning: JobRunTuning = {
    ...options,
    incrementalEngine: options.incrementalEngine ?? (async () => (await (shared ??= lake.createEngine())).isolate()),
    deferCatalogPublish: (root, tables) => {
      if (!newest || root.seq > newest.seq) newest = root;
      for (const table of tables) written.add(table);
    },
  };

  for (;;) {
    if (failure === undefined) {
      for (const job of ordered) {
        if (running.size >= concurrency) break;
        if (started.has(job) || !(upstream.get(job) ?? []).every((dependency) => done.has(dependency))) continue;
        started.add(job);
        const run = startJobRun(lake, job, options.settingsFor?.(job) ?? {}, tuning).then(
          (result) => {
            done.add(job);
            results.push(result);
            options.onResult?.(result);
          },
          (error: unknown) => {
            failure ??= error;
          },
        );
        running.set(job, run.finally(() => running.delete(job)));
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (shared) (await shared.catch(() => undefined))?.close();
  // Published even after a failure: what the jobs before it committed is there to see.
  const [published] = await Promise.allSettled(newest ? [lake.catalog.publish(newest, { tables: [...written] })] : []);
  if (failure !== undefined) throw failure;
  const stuck = ordered.filter((job) => !started.has(job));
  if (stuck.length > 0) {
    throw new ConfigError('JOB_GRAPH_CYCLE', `jobs ${stuck.map((job) => job.name).join(', ')} wait on each other (through the tables they read or their quality rules reference) and cannot run`, {
      hint: 'a quality rule set may reference only tables written by jobs that do not depend on it',
    });
  }
  if (published?.status === 'rejected') throw published.reason;
  return results;
}
