import { JobRunError, MedallionError } from '../errors.ts';
import { newRunId, type Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import { checkBalance } from './phases/balance-check.ts';
import { commitRun, publishRun } from './phases/commit-run.ts';
import { decideWrites, quarantinedByReason } from './phases/decide-writes.ts';
import { executePlan } from './phases/execute-plan.ts';
import { JobPlanner } from './phases/job-planner.ts';
import { nextBookmark } from './phases/next-bookmark.ts';
import { openTableInputs } from './phases/open-inputs.ts';
import { gateOutputs, openGate } from './phases/gate-outputs.ts';
import { planReads, type ReadPlan, type UnreadableEntry } from './phases/read-plan.ts';
import { RunResources } from './phases/run-context.ts';
import { RunStaging } from './phases/run-staging.ts';
import type { RunOptions } from './run-options.ts';
import type { JobRunResult } from './run-result.ts';

/**
 * Runs one job: decides what it reads, executes its SQL in an engine, stages the outputs as Parquet, checks
 * them against the quality rules, then commits tables, quarantine rows and bookmark in one atomic step. A
 * failure at any point leaves the lake as it was and removes what the run staged. Each step is a function
 * in `phases/`; this is the recipe.
 */
export async function runJob(lake: Lake, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const run = new RunResources(lake, job, options, options.runId ?? newRunId(startedAt), startedAt, now);
  try {
    run.checkpoint();
    const { phases } = run;
    const reads = await phases.time('plan', () => planReads(run));
    if (!reads.anythingNew) return nothingNew(run, reads);
    // A bookmarked run gets its engine from the caller (an isolate of a shared instance); any other opens its own,
    // when its turn comes (RunOptions.engineTurn).
    if (reads.since !== undefined && options.incrementalEngine) run.useEngine(await options.incrementalEngine());
    else await openOwnEngine(run);
    run.checkpoint();

    const { inputs, planner, staging } = await phases.time('plan', async () => {
      const opened = await openTableInputs(run, reads);
      return { inputs: opened, planner: await JobPlanner.open(run, opened), staging: await RunStaging.open(run, opened.specs) };
    });
    const gate = openGate(run, reads);
    const { recordsDuplicated } = await executePlan(run, reads, inputs, planner, staging, gate);
    const evaluations = gate
      ? await phases.time('quality', () => gateOutputs(run, gate, reads, staging, { counts: inputs.counts, recordsDuplicated, incremental: planner.incremental }))
      : [];

    refuseRebuildWithout(run, reads, [...reads.unreadable, ...inputs.counts.setAside], planner.incremental);
    options.faultPoint?.('outputs-staged', job.name);
    const { planned, bookmark, byReason, root } = await phases.time('commit', async () => {
      // Counted from the staged files, before the commit stores them.
      const byReason = await quarantinedByReason(run, staging.quarantine);
      const decided = await decideWrites(run, reads, planner, staging);
      checkBalance(run, inputs.counts, decided, recordsDuplicated, gate);
      const next = await nextBookmark(run, reads, inputs.counts.setAside);
      return { planned: decided, bookmark: next, byReason, root: await commitRun(run, reads, decided, next) };
    });
    const warnings = [...unreadableWarnings([...reads.unreadable, ...inputs.counts.setAside]), ...(bookmark.warnings ?? [])];

    const result = runResult(run, {
      recordsRead: inputs.counts.recordsRead,
      bytesRead: inputs.counts.bytesRead,
      recordsWritten: planned.recordsWritten,
      recordsQuarantined: planned.recordsQuarantined,
      ...(planned.recordsQuarantined > 0 ? { recordsQuarantinedByReason: byReason } : {}),
      recordsDuplicated,
      ...(inputs.counts.alreadyHeld > 0 ? { recordsAlreadyHeld: inputs.counts.alreadyHeld } : {}),
      commitSeq: root.seq,
      nothingNew: false,
      ...(bookmark.version === undefined ? {} : { bookmarkVersion: bookmark.version }),
      ...(evaluations.length > 0 ? { quality: evaluations } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    });
    const published = await phases.time('publish', () => publishRun(run, root, planned, result, evaluations));
    return { ...published, phasesMs: phases.snapshot() };
  } catch (error) {
    if (options.signal?.aborted && !run.committed) throw options.signal.reason;
    if (error instanceof MedallionError) throw error;
    throw new JobRunError(job.name, run.runId, error instanceof Error ? error.message : String(error), { cause: error });
  } finally {
    await run.release();
  }
}

/** A bookmarked run that found nothing new since its bookmark: it commits nothing and opens no engine. */
function nothingNew(run: RunResources, reads: ReadPlan): JobRunResult {
  const warnings = unreadableWarnings(reads.unreadable);
  return runResult(run, {
    recordsRead: 0, bytesRead: 0, recordsWritten: {}, recordsQuarantined: 0, recordsDuplicated: 0, commitSeq: reads.basedOn.seq, nothingNew: true,
    ...(warnings.length > 0 ? { warnings } : {}),
  });
}

/**
 * A run that read all its input replaces its outputs: one that could not read some landing objects would
 * drop their rows from tables that hold them. It is refused (a bookmarked run sets them aside instead); a
 * first run, with nothing committed to lose, goes on.
 */
function refuseRebuildWithout(run: RunResources, reads: ReadPlan, unreadable: readonly UnreadableEntry[], incremental: boolean): void {
  if (unreadable.length === 0 || reads.readsSubset || incremental) return;
  if (!run.job.outputs.some((spec) => reads.basedOn.tables[spec.name] !== undefined)) return;
  const named = unreadable.slice(0, 3).map((entry) => `${entry.key} (${entry.error})`).join('; ');
  throw new MedallionError('LANDING_UNREADABLE', `job ${run.job.name} reads all its landing input and replaces its tables, but ${unreadable.length} landing object(s) or folder(s) could not be read: ${named}${unreadable.length > 3 ? '; ...' : ''}`, {
    hint: 'make them readable and rerun; or run with --job-bookmark-option job-bookmark-enable, which sets them aside and reads them once they can be read',
  });
}

/** One warning per landing object, folder or link the run could not read. */
function unreadableWarnings(entries: readonly UnreadableEntry[]): string[] {
  const shown = entries.slice(0, MAX_UNREADABLE_WARNINGS).map((entry) =>
    `landing ${entry.key.endsWith('/') ? 'folder' : 'object'} ${entry.key} could not be read (${entry.error}): set aside, not read; ` +
    'every run tries it again until it reads (medallion reconcile lists it)');
  const more = entries.length - shown.length;
  return more > 0 ? [...shown, `and ${more} more landing objects or folders could not be read (medallion reconcile lists them all)`] : shown;
}

const MAX_UNREADABLE_WARNINGS = 10;

function runResult(run: RunResources, outcome: Omit<JobRunResult, 'job' | 'runId' | 'state' | 'startedAt' | 'completedAt' | 'elapsedMs'>): JobRunResult {
  const completedAt = run.now();
  return {
    job: run.job.name,
    runId: run.runId,
    state: 'SUCCEEDED',
    startedAt: run.startedAt.toISOString(),
    completedAt: completedAt.toISOString(),
    elapsedMs: completedAt.getTime() - run.startedAt.getTime(),
    ...outcome,
  };
}

/** Opens the run's own engine once its turn comes; the turn ends when the engine is closed. */
async function openOwnEngine(run: RunResources): Promise<void> {
  const { engineTurn, signal } = run.options;
  const endTurn = engineTurn ? await run.phases.time('wait', () => engineTurn(signal)) : undefined;
  try {
    run.useEngine(await run.lake.createEngine(), endTurn);
  } catch (error) {
    endTurn?.();
    throw error;
  }
}
