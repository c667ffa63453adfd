import { MedallionError } from '../errors.ts';
import type { Engine } from '../engine/index.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot } from '../state/index.ts';
import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE } from '../table/index.ts';
import type { JobRunResult } from './run-result.ts';
import { EngineTurns } from './engine-turns.ts';
import { jobGraph } from './job-graph.ts';
import { checkRulePlacement } from './rule-placement.ts';
import { startJobRun, type JobRunSettings, type JobRunTuning } from './start-job-run.ts';
import { publishCommitted, type CatalogPublishOutcome } from './publish-catalog.ts';

export interface RunJobsOptions extends JobRunTuning {
  /**
   * Jobs that may run at the same time when neither reads the other's tables (default 2). Runs that read
   * everything still open their engines one at a time (see RunOptions.engineTurn).
   */
  readonly concurrency?: number;
  readonly onResult?: (result: JobRunResult) => void;
  /** A job's run starts (its lock taken). */
  readonly onStart?: (job: Job) => void;
  /** A job's run failed (after its retries): `error` is what `runJobs` throws at the end, if it is the first. */
  readonly onFailure?: (job: Job, error: unknown, elapsedMs: number) => void;
  /** A job will not run: `failed` are the jobs upstream of it (writers of what it reads) that failed or were skipped. */
  readonly onSkipped?: (job: Job, failed: readonly Job[]) => void;
  /** A job was not started because the runs were stopped (`stop`). */
  readonly onNotStarted?: (job: Job) => void;
  /** Every `progressEveryMs` while a job runs (default: never), with how long it has been running. */
  readonly onProgress?: (job: Job, elapsedMs: number) => void;
  readonly progressEveryMs?: number;
  /** Run settings (retries, timeout, arguments) per job. */
  readonly settingsFor?: (job: Job) => JobRunSettings;
  /** How the one catalog publish after the jobs went (it does not fail the jobs: see publishCommitted). */
  readonly onCatalogPublish?: (outcome: CatalogPublishOutcome) => void;
}

/**
 * Runs jobs as a graph (each as `startJobRun` runs it: locked, recorded, retried): each starts once every
 * job that writes a table it reads has succeeded, and
 * independent jobs (bronze.tasks_cdc and bronze.users_cdc, say) run side by side, save that runs reading everything
 * take turns for their engines (RunOptions.engineTurn). A job downstream of one that
 * failed is skipped (`onSkipped` names the failed one); the others still run, then the first error is thrown. The catalog is published once,
 * after the last job, with the newest root (local views, or Glue for every table the jobs write), also when
 * no job had anything new: a publish that failed before is completed. A publish that fails does not fail the
 * jobs, which committed (see publishCommitted and `onCatalogPublish`). Bookmarked
 * runs share one engine instance, each working in an isolate of it (`Engine.isolate`).
 */
export async function runJobs(lake: Lake, jobs: readonly Job[], options: RunJobsOptions = {}): Promise<JobRunResult[]> {
  // A job waits for the writers of the tables it reads, and of the tables its outputs' quality rules
  // reference (silver.tasks' rules check user_id against silver.users). A cycle is refused before any job runs.
  const graph = jobGraph(jobs, options.quality?.values());
  checkRulePlacement(jobs, options.quality);
  const ordered = graph.ordered;
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
  const committers = new Set<string>();
  // One DuckDB instance for the jobs' bookmarked runs, each in an isolate (a database of its own): such a run
  // starts without creating an instance, and reads the Parquet footers earlier jobs cached (silver's outputs
  // are gold's inputs). A run that reads everything opens its own (see RunOptions.incrementalEngine).
  let shared: Promise<Engine> | undefined;
  const tuning: JobRunTuning = {
    ...options,
    incrementalEngine: options.incrementalEngine ?? (async () => (await (shared ??= lake.createEngine())).isolate()),
    // Runs that read everything open engines of their own, one at a time (see RunOptions.engineTurn): the
    // pipeline takes about as long (at 1M, 17.6 s against 17.2 s side by side over eight alternating runs), each
    // job has the cores while it runs, and peak RSS at 10M fell from 2.36 to 1.70 GiB.
    engineTurn: options.engineTurn ?? new EngineTurns().take,
    deferCatalogPublish: (root, tables) => {
      if (!newest || root.seq > newest.seq) newest = root;
      for (const table of tables) written.add(table);
    },
  };

  const failed = new Set<Job>();
  const notStarted: Job[] = [];
  for (;;) {
    for (const job of ordered) {
      if (running.size >= concurrency) break;
      if (started.has(job)) continue;
      // Stopped (SIGINT, SIGTERM): the runs under way stop, and no other starts.
      if (options.stop?.aborted) {
        started.add(job);
        failed.add(job);
        notStarted.push(job);
        options.onNotStarted?.(job);
        continue;
      }
      const upstream = graph.upstreamOf(job);
      // Downstream of a failure (or of a job skipped for one): it would read tables that were not brought up to date.
      const blocked = upstream.filter((dependency) => failed.has(dependency));
      if (blocked.length > 0) {
        started.add(job);
        failed.add(job);
        options.onSkipped?.(job, blocked);
        continue;
      }
      if (!upstream.every((dependency) => done.has(dependency))) continue;
      started.add(job);
      options.onStart?.(job);
      const began = Date.now();
      const ticker = options.onProgress && options.progressEveryMs ? setInterval(() => options.onProgress?.(job, Date.now() - began), options.progressEveryMs) : undefined;
      ticker?.unref();
      const run = startJobRun(lake, job, options.settingsFor?.(job) ?? {}, tuning).then(
        (result) => {
          done.add(job);
          if (!result.nothingNew) committers.add(job.name);
          results.push(result);
          options.onResult?.(result);
        },
        (error: unknown) => {
          failure ??= error;
          failed.add(job);
          options.onFailure?.(job, error, Date.now() - began);
        },
      );
      running.set(job, run.finally(() => {
        clearInterval(ticker);
        running.delete(job);
      }));
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (shared) (await shared.catch(() => undefined))?.close();
  // Published even after a failure (what the jobs before it committed is there to see), and when nothing was
  // new: the tables the jobs write are brought up to the lake's root, which completes a publish that failed before.
  const root = newest ?? (await lake.state.readRoot().catch(() => undefined));
  // What the jobs may publish: their outputs, the quarantine, and the quality tables where they have a quality gate.
  const gated = graph.ordered.some((job) => job.outputs.some((output) => options.quality?.has(output.name)));
  const writable = [...graph.ordered.flatMap((job) => job.outputs.map((output) => output.name)), QUARANTINE_TABLE.name, ...(gated ? [QUALITY_RESULTS_TABLE.name, QUALITY_REJECTED_TABLE.name] : [])];
  const tables = [...new Set([...written, ...writable])].filter((table) => written.has(table) || root?.tables[table] !== undefined);
  if (root && tables.length > 0) {
    const outcome = await publishCommitted(lake, root, tables, {
      jobs: committers.size > 0 ? [...committers] : ordered.map((job) => job.name),
      // Every job started shows its partitions of the shared tables: a run stopped by a fail rule committed its
      // quality results without committing outputs, and a job with nothing new completes a publish that failed.
      ownPartitionsOf: [...started].map((job) => job.name),
      ...(options.now ? { now: options.now } : {}),
      ...(options.retryBaseDelayMs === undefined ? {} : { retryBaseDelayMs: options.retryBaseDelayMs }),
    });
    options.onCatalogPublish?.(outcome);
  }
  if (failure !== undefined) throw failure;
  // Stopped once the runs under way had committed: nothing failed, but not every job ran, and the caller must know.
  if (notStarted.length > 0) {
    throw new MedallionError('STOPPED', `stopped (${String(options.stop?.reason ?? 'stop requested')}) before ${notStarted.map((job) => job.name).join(', ')} started; every lock is released`, {
      hint: 'see what each job did with `medallion runs`, and run again when you are ready',
    });
  }
  return results;
}
