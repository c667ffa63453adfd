import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, NotFoundError } from '../errors.ts';
import type { StateStore } from '../state/index.ts';
import { runRecordCollection } from '../state/state-keys.ts';

/** Glue's JobRun states. */
export const JOB_RUN_STATES = ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED', 'SUCCEEDED', 'FAILED', 'TIMEOUT', 'ERROR', 'WAITING'] as const;
export type JobRunState = (typeof JOB_RUN_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<JobRunState> = new Set(['STOPPED', 'SUCCEEDED', 'FAILED', 'TIMEOUT', 'ERROR']);

/** One attempt of a job, shaped like Glue's `JobRun` (GetJobRun), kept in the state store under `runs/<job>`. */
export interface JobRunRecord {
  readonly Id: string;
  readonly Attempt: number;
  readonly PreviousRunId?: string;
  readonly JobName: string;
  readonly StartedOn: string;
  readonly LastModifiedOn: string;
  readonly CompletedOn?: string;
  readonly JobRunState: JobRunState;
  readonly Arguments: Readonly<Record<string, string>>;
  readonly ErrorMessage?: string;
  /** Seconds, as Glue reports it: the time it ran, its wait for an engine (WaitTimeMs) left out. */
  readonly ExecutionTime: number;
  /**
   * Milliseconds the run spent WAITING for its turn to open an engine of its own (`runJobs`: see
   * RunOptions.engineTurn); left out of its timeout, its ExecutionTime and its duration against the baseline.
   */
  readonly WaitTimeMs?: number;
  /** Minutes. */
  readonly Timeout: number;
  readonly MaxRetries: number;
  /** Glue's metric names and the record accounting, set when the run succeeded. */
  readonly Metrics?: Readonly<Record<string, number>>;
}

/** An EventBridge event shaped like Glue's "Glue Job State Change", emitted for every terminal state. */
export interface JobStateChangeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Glue Job State Change';
  readonly source: 'aws.glue';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly jobName: string;
    readonly severity: 'INFO' | 'ERROR';
    readonly state: JobRunState;
    readonly jobRunId: string;
    readonly message: string;
  };
}

const STATE_MESSAGES: Partial<Record<JobRunState, string>> = {
  SUCCEEDED: 'Job run succeeded',
  FAILED: 'Job run failed',
  TIMEOUT: 'Job run timed out',
  STOPPED: 'Job run stopped',
  ERROR: 'Job run errored',
};

export function jobStateChangeEvent(record: JobRunRecord, where: { account: string; region: string }): JobStateChangeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Glue Job State Change',
    source: 'aws.glue',
    account: where.account,
    time: record.LastModifiedOn,
    region: where.region,
    resources: [],
    detail: {
      jobName: record.JobName,
      severity: record.JobRunState === 'SUCCEEDED' || record.JobRunState === 'STOPPED' ? 'INFO' : 'ERROR',
      state: record.JobRunState,
      jobRunId: record.Id,
      message: record.ErrorMessage ?? STATE_MESSAGES[record.JobRunState] ?? record.JobRunState,
    },
  };
}

/**
 * How long a finished run ran: from StartedOn to CompletedOn, less its wait for an engine (WaitTimeMs); never
 * below 0, whatever a record changed by hand says.
 */
export function runDurationMs(record: JobRunRecord & { readonly CompletedOn: string }): number {
  return Math.max(0, Date.parse(record.CompletedOn) - Date.parse(record.StartedOn) - (record.WaitTimeMs ?? 0));
}

const JobRunRecordSchema = z.looseObject({
  Id: z.string().min(1),
  Attempt: z.number().int().min(0),
  JobName: z.string().min(1),
  StartedOn: z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'is not a time'),
  JobRunState: z.enum(JOB_RUN_STATES),
  Arguments: z.record(z.string(), z.string()),
  ExecutionTime: z.number(),
  WaitTimeMs: z.number().min(0).optional(),
});

/** A run record that cannot be read, and why: `runs` shows it, recovery and reconcile leave it out. */
export interface UnreadableRunRecord {
  readonly id: string;
  readonly problem: string;
}

/**
 * A job's run records (`runs/<job>`), each checked against the JobRun shape. One damaged record (changed by
 * hand, a disk error) is reported in `unreadable` with what is wrong, never stops the others being read.
 */
export async function readRunRecords(state: StateStore, job: string): Promise<{ records: JobRunRecord[]; unreadable: UnreadableRunRecord[] }> {
  const unreadable: UnreadableRunRecord[] = [];
  const raw = await state.listRecords<unknown>(runRecordCollection(job), { onUnreadable: (id, error) => unreadable.push({ id, problem: error.message }) });
  const records: JobRunRecord[] = [];
  for (const value of raw) {
    const parsed = JobRunRecordSchema.safeParse(value);
    if (parsed.success) records.push(parsed.data as unknown as JobRunRecord);
    else {
      const id = typeof (value as { Id?: unknown })?.Id === 'string' ? (value as { Id: string }).Id : '?';
      unreadable.push({ id, problem: `run record ${job}/${id} is not a job run: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'record'} ${issue.message}`).join('; ')}` });
    }
  }
  return { records, unreadable };
}

/** A run id or the start of one as typed or pasted (a cut id keeps its `…`), lowercased; undefined when it is none. */
export function runIdPrefix(given: string): string | undefined {
  const prefix = given.trim().replace(/(…|\.\.\.)$/, '').toLowerCase();
  return /^jr_[0-9a-f]*$/.test(prefix) ? prefix : undefined;
}

/**
 * The run a run id or a unique prefix of one names (`jr_01a2b3`, also a cut id copied with its `…`), among the runs
 * of `jobs`. None is RUN_NOT_FOUND; several is RUN_ID_AMBIGUOUS, listing them.
 *
 * @example
 * const { record } = await resolveRunId(lake.state, 'jr_01a23ad8', ['silver.tasks']);
 */
export async function resolveRunId(state: StateStore, given: string, jobs: readonly string[]): Promise<{ readonly job: string; readonly record: JobRunRecord }> {
  const prefix = runIdPrefix(given);
  if (prefix === undefined) {
    throw new NotFoundError('RUN_NOT_FOUND', `${JSON.stringify(given)} is not a run id (jr_ and hex digits, or the first of them)`, { hint: 'copy one from `medallion runs`' });
  }
  const found: JobRunRecord[] = [];
  for (const job of jobs) for (const record of (await readRunRecords(state, job)).records) if (record.Id.startsWith(prefix)) found.push(record);
  const [only, ...more] = found;
  if (!only) throw new NotFoundError('RUN_NOT_FOUND', `no run ${prefix} of ${jobs.length === 1 ? jobs[0] : 'any job'}`, { hint: `see \`medallion runs${jobs.length === 1 ? ` ${jobs[0]}` : ''}\`` });
  if (more.length > 0) {
    const shown = found.slice(0, 5).map((record) => `${record.Id} (${record.JobName}, ${record.StartedOn})`).join(', ');
    throw new ConfigError('RUN_ID_AMBIGUOUS', `${prefix} starts ${found.length} run ids: ${shown}${found.length > 5 ? ', ...' : ''}`, { hint: 'give more of the id' });
  }
  return { job: only.JobName, record: only };
}
