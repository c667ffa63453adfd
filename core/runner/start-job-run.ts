import pRetry from 'p-retry';
import { JobBusyError, JobStoppedError, JobTimeoutError, describeError } from '../errors.ts';
import type { BookmarkOption, Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { LockLease } from '../state/index.ts';
import { runJob } from './job-runner.ts';
import type { JobRunResult } from './run-result.ts';
import { durationRatio, isUnusualRun, jobDurationBaseline, runMetrics, terminalRunMetrics, type DurationAgainstBaseline } from './run-metrics.ts';
import type { RunTuning } from './run-options.ts';
import { RunTimeout } from './run-timeout.ts';
import { jobStateChangeEvent, readRunRecords, runDurationMs, type JobRunRecord, type JobRunState } from './job-run-record.ts';
import { jobLockName, newRunId } from '../job/index.ts';
import { isTransientError } from './transient-errors.ts';
import { recoverDeadRuns } from './recover-dead-runs.ts';
import { removeOrphanSpoolFolders } from '../landing/index.ts';
import type { QuarantineFilter } from './quarantine-selection.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { runRecordCollection } from '../state/state-keys.ts';

/** How one job run behaves, as Glue's job properties and run arguments set it. */
export interface JobRunSettings {
  /** Retries of a failed attempt that failed for a transient reason (Glue's MaxRetries). */
  readonly maxRetries?: number;
  /** Minutes before an attempt ends in TIMEOUT with nothing committed (Glue's default is 2880). */
  readonly timeoutMinutes?: number;
  /** The job's own arguments, over its defaults. */
  readonly jobArguments?: Readonly<Record<string, string>>;
  /** Wait for a running run of the job to finish instead of refusing to start. */
  readonly wait?: boolean;
  /** Glue's --job-bookmark-option and, for pause, --job-bookmark-from / --job-bookmark-to. */
  readonly bookmark?: { readonly option: BookmarkOption; readonly from?: string; readonly to?: string };
  /** Rebuild the outputs from all their inputs, never reading the job's last version (RunOptions.fullRefresh). */
  readonly fullRefresh?: boolean;
  /** Re-offer quarantined records (RunOptions.replayQuarantine). */
  readonly replayQuarantine?: QuarantineFilter;
  /** Re-read a range of landing and replace what came of it (RunOptions.replayRange). */
  readonly replayRange?: { readonly from: string; readonly to: string };
  /** The duration baseline while the job has too few successful runs to learn one (`--duration-baseline-minutes`). */
  readonly durationBaselineMinutes?: number;
}

/** Knobs the operator rarely touches but tests do: the lock's lease and retries, over the run's own (`RunTuning`). */
export interface JobRunTuning extends RunTuning {
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** First retry delay; each next one doubles, with full jitter, up to `retryMaxDelayMs`. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly waitPollMs?: number;
  readonly onRecord?: (record: JobRunRecord) => void;
  /**
   * Stops the run when aborted (the CLI's SIGINT and SIGTERM): a run before its commit is interrupted, ends STOPPED
   * with nothing committed and releases its lock; a run past its commit completes. Its reason (`SIGINT`) is recorded.
   */
  readonly stop?: AbortSignal;
}

const DEFAULT_TIMEOUT_MINUTES = 2880;
const DEFAULT_LEASE_MS = 60_000;

export function lockName(job: Job): string {
  return jobLockName(job.name);
}

/**
 * Starts a job run the way Glue does: one run of a job at a time (a lock with a lease, renewed by a
 * heartbeat, so a dead holder stops blocking once its lease runs out); each attempt recorded as a JobRun
 * (`runs/<job>` in the state store) through STARTING, RUNNING and its terminal state; transient failures
 * retried up to `maxRetries` times with exponential backoff and jitter, each retry a new run whose
 * PreviousRunId names the one before; an attempt past its timeout ends in TIMEOUT with nothing committed;
 * a "Glue Job State Change" event for every terminal state.
 */
export async function startJobRun(lake: Lake, job: Job, settings: JobRunSettings = {}, tuning: JobRunTuning = {}): Promise<JobRunResult> {
  const now = tuning.now ?? (() => new Date());
  const leaseMs = tuning.leaseMs ?? DEFAULT_LEASE_MS;
  const timeoutMinutes = settings.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
  const maxRetries = settings.maxRetries ?? 0;
  const owner = newRunId(now());
  const lease = await acquire(lake, job, owner, leaseMs, settings.wait ?? false, tuning.waitPollMs ?? 1000, now, tuning.stop);
  try {
    await recoverDeadRuns(lake, job, now);
    // Spool and spill folders of processes that died (any job's: they share the machine's temp folder).
    await removeOrphanSpoolFolders();
  } catch (error) {
    await lake.state.releaseLock(lease).catch(() => undefined);
    throw error;
  }

  // The heartbeat: a run that cannot renew its lease has lost the job to another run and must stop.
  const keeper = new LeaseKeeper(lake.state, lease, { leaseMs, everyMs: tuning.heartbeatMs ?? Math.floor(leaseMs / 3), now });
  const lost = keeper.lost;

  let previousRunId: string | undefined;
  // Aborted by a stop that comes between attempts (an attempt under way stops itself, and records STOPPED).
  const retryWait = new AbortController();
  let betweenAttempts = false;
  const stopWaiting = () => {
    if (betweenAttempts) retryWait.abort(tuning.stop?.reason);
  };
  tuning.stop?.addEventListener('abort', stopWaiting, { once: true });
  try {
    return await pRetry(
      async (attemptNumber) => {
        betweenAttempts = false;
        const runId = attemptNumber === 1 ? owner : newRunId(now());
        const started = now();
        const base: JobRunRecord = {
          Id: runId,
          Attempt: attemptNumber - 1,
          ...(previousRunId === undefined ? {} : { PreviousRunId: previousRunId }),
          JobName: job.name,
          StartedOn: started.toISOString(),
          LastModifiedOn: started.toISOString(),
          JobRunState: 'STARTING',
          Arguments: {
            ...(job.defaultArguments ?? {}),
            ...(settings.jobArguments ?? {}),
            // How it read, as Glue's JobRun Arguments show the bookmark option it was given.
            'job-bookmark-option': settings.bookmark?.option ?? 'job-bookmark-disable',
            ...(settings.bookmark?.from === undefined ? {} : { 'job-bookmark-from': settings.bookmark.from }),
            ...(settings.bookmark?.to === undefined ? {} : { 'job-bookmark-to': settings.bookmark.to }),
            // What made this run unlike a scheduled one, for whoever reads the run record later.
            ...(settings.fullRefresh ? { 'full-refresh': 'true' } : {}),
            ...(settings.replayQuarantine ? { 'replay-quarantine': JSON.stringify(settings.replayQuarantine) } : {}),
            ...(settings.replayRange ? { 'replay-range': `${settings.replayRange.from}..${settings.replayRange.to}` } : {}),
            // The baseline it is held to while the job has too few runs: `status` and `report` judge it the same way.
            ...(settings.durationBaselineMinutes === undefined ? {} : { 'duration-baseline-minutes': String(settings.durationBaselineMinutes) }),
          },
          ExecutionTime: 0,
          Timeout: timeoutMinutes,
          MaxRetries: maxRetries,
        };
        previousRunId = runId;
        const eventFailures: string[] = [];
        // This attempt's wait for an engine of its own: not part of its ExecutionTime, nor of its timeout.
        let waitedMs = 0;
        const record = async (state: JobRunState, extra: Partial<JobRunRecord> = {}) => {
          const at = now();
          const next: JobRunRecord = {
            ...base,
            ...extra,
            JobRunState: state,
            LastModifiedOn: at.toISOString(),
            ExecutionTime: Math.max(0, Math.round((at.getTime() - started.getTime() - waitedMs) / 1000)),
            ...(waitedMs > 0 ? { WaitTimeMs: Math.round(waitedMs) } : {}),
          };
          await lake.state.putRecord(runRecordCollection(job.name), runId, next);
          tuning.onRecord?.(next);
          if (state !== 'STARTING' && state !== 'RUNNING' && state !== 'WAITING') {
            // The run's record is what counts; an event or metrics that cannot go out must not change its outcome.
            await lake.metrics.emitEvent(jobStateChangeEvent(next, { account: 'local', region: 'local' })).catch((error: unknown) => {
              eventFailures.push(`the ${state} event could not be emitted: ${describeError(error)}`);
            });
            // A full refresh or a replay reads more than a night's worth: it is not held to the nightly baseline.
            const duration = state === 'SUCCEEDED' && !isUnusualRun(next) ? await durationAgainstBaseline(lake, next, settings.durationBaselineMinutes).catch(() => undefined) : undefined;
            await lake.metrics.emit(terminalRunMetrics(next, duration)).catch((error: unknown) => {
              eventFailures.push(`the ${state} run's metrics could not be emitted: ${describeError(error)}`);
            });
          }
          return next;
        };
        await record('STARTING');
        await record('RUNNING');

        const clock = new RunTimeout(timeoutMinutes * 60_000);
        const timeout = clock.signal;
        const stop = tuning.stop;
        const signal = AbortSignal.any([timeout, lost, ...(stop ? [stop] : [])]);
        const takeTurn = tuning.engineTurn;
        // Waiting for an engine is WAITING, as Glue shows a run waiting for capacity: the timeout stands still.
        const engineTurn = takeTurn && (async (waitSignal?: AbortSignal) => {
          const turn = takeTurn(waitSignal);
          // A turn that is free is taken at once, with no WAITING record (the race settles on `turn` when it already has).
          const free = await Promise.race([turn, Promise.resolve(undefined)]);
          if (free) return free;
          const began = now().getTime();
          clock.pause();
          let end: () => void;
          try {
            try {
              await record('WAITING');
            } catch (error) {
              // The run fails before its turn comes: the turn is given back as soon as it does.
              void turn.then((ended) => ended(), () => undefined);
              throw error;
            }
            end = await turn;
          } finally {
            waitedMs += now().getTime() - began;
            clock.resume();
          }
          try {
            await record('RUNNING');
          } catch (error) {
            end();
            throw error;
          }
          return end;
        });
        try {
          const { batchBytes, faultPoint, deferCatalogPublish, quality, incrementalEngine } = tuning;
          const result = await runJob(lake, job, {
            batchBytes, faultPoint, deferCatalogPublish, quality, incrementalEngine, engineTurn,
            runId,
            args: settings.jobArguments ?? {},
            ...(settings.fullRefresh ? { fullRefresh: true } : {}),
            ...(settings.replayQuarantine ? { replayQuarantine: settings.replayQuarantine } : {}),
            ...(settings.replayRange ? { replayRange: settings.replayRange } : {}),
            signal,
            fence: () => keeper.current,
            now,
            bookmark: {
              option: settings.bookmark?.option ?? 'job-bookmark-disable',
              ...(settings.bookmark?.from === undefined ? {} : { from: settings.bookmark.from }),
              ...(settings.bookmark?.to === undefined ? {} : { to: settings.bookmark.to }),
              attempt: attemptNumber - 1,
              ...(base.PreviousRunId === undefined ? {} : { previousRunId: base.PreviousRunId }),
            },
          });
          // One figure per name: the counts by reason (many datums of one name) stay out of the record.
          const metrics = Object.fromEntries(runMetrics(result, 0).filter((datum) => datum.name !== 'medallion.job.recordsQuarantinedByReason').map((datum) => [datum.name, datum.value]));
          await record('SUCCEEDED', { CompletedOn: now().toISOString(), Metrics: metrics });
          return eventFailures.length > 0 ? { ...result, warnings: [...(result.warnings ?? []), ...eventFailures] } : result;
        } catch (error) {
          betweenAttempts = true;
          if (stop?.aborted && !timeout.aborted && !lost.aborted) {
            const stopped = new JobStoppedError(job.name, runId, String(stop.reason instanceof Error ? stop.reason.message : stop.reason ?? 'stop requested'));
            await record('STOPPED', { CompletedOn: now().toISOString(), ErrorMessage: stopped.message });
            throw stopped;
          }
          if (timeout.aborted) {
            const timedOut = new JobTimeoutError(job.name, runId, timeoutMinutes);
            await record('TIMEOUT', { CompletedOn: now().toISOString(), ErrorMessage: timedOut.message });
            throw timedOut;
          }
          await record('FAILED', { CompletedOn: now().toISOString(), ErrorMessage: describeError(lost.aborted ? lost.reason : error) });
          throw lost.aborted ? lost.reason : error;
        } finally {
          clock.clear();
        }
      },
      {
        retries: maxRetries,
        factor: 2,
        minTimeout: tuning.retryBaseDelayMs ?? 1000,
        maxTimeout: tuning.retryMaxDelayMs ?? 60_000,
        randomize: true,
        shouldRetry: ({ error }) => !lost.aborted && !tuning.stop?.aborted && isTransientError(error),
        // A stop while waiting to retry ends the wait: no other attempt starts.
        signal: retryWait.signal,
      },
    );
  } catch (error) {
    // Stopped during the wait between attempts: the last attempt's record stands (FAILED); nothing else ran.
    if (retryWait.signal.aborted && error === retryWait.signal.reason) {
      const reason: unknown = retryWait.signal.reason;
      throw new JobStoppedError(job.name, previousRunId ?? owner, String(reason instanceof Error ? reason.message : reason ?? 'stop requested'));
    }
    throw error;
  } finally {
    tuning.stop?.removeEventListener('abort', stopWaiting);
    // After the renewal in flight: releasing the generation it is about to replace would leave the lock held.
    await lake.state.releaseLock(await keeper.stop()).catch(() => undefined);
  }
}

async function acquire(lake: Lake, job: Job, owner: string, leaseMs: number, wait: boolean, pollMs: number, now: () => Date, stop?: AbortSignal): Promise<LockLease> {
  for (;;) {
    // Stopped before it started (or while it waited for the lock): no run, nothing to record.
    if (stop?.aborted) throw new JobStoppedError(job.name, owner, String(stop.reason instanceof Error ? stop.reason.message : stop.reason ?? 'stop requested'));
    const lease = await lake.state.acquireLock(lockName(job), owner, leaseMs, now().getTime());
    if (lease) return lease;
    if (!wait) {
      const holder = await lake.state.readLock(lockName(job));
      throw new JobBusyError(job.name, holder?.owner ?? 'another run', holder ? new Date(holder.expiresAtMs).toISOString() : 'soon');
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** A successful run's duration against its job's baseline, learned from the runs before it (jobDurationBaseline). */
export async function durationAgainstBaseline(lake: Lake, record: JobRunRecord, configuredMinutes: number | undefined): Promise<DurationAgainstBaseline> {
  const { records } = await readRunRecords(lake.state, record.JobName);
  const baseline = jobDurationBaseline(records, { excludeRunId: record.Id, before: record.StartedOn, ...(configuredMinutes === undefined ? {} : { configuredMinutes }) });
  const elapsedMs = runDurationMs({ ...record, CompletedOn: record.CompletedOn ?? record.LastModifiedOn });
  return { baselineMs: baseline.baselineMs, source: baseline.source, ratio: durationRatio(elapsedMs, baseline.baselineMs) };
}
