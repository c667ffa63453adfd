import type { Lake } from '../../core/index.ts';
import type { ResultRow } from '../../core/engine/index.ts';
import { readRunRecords, type JobRunRecord, type UnreadableRunRecord } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

export const RUN_COLUMNS = [
  'job', 'run_id', 'attempt', 'previous_run_id', 'state', 'started_on', 'completed_on', 'execution_s',
  'records_read', 'bytes_read', 'records_written', 'records_quarantined', 'elapsed_ms', 'error',
] as const;

/** Job runs, newest first: one row per attempt, with the run's metrics under Glue's names. */
export async function listRuns(lake: Lake, jobNames: readonly string[] = PIPELINE_JOBS.map((job) => job.name)): Promise<ResultRow[]> {
  const records: JobRunRecord[] = [];
  const unreadable: (UnreadableRunRecord & { job: string })[] = [];
  for (const job of jobNames) {
    const read = await readRunRecords(lake.state, job);
    records.push(...read.records);
    unreadable.push(...read.unreadable.map((entry) => ({ ...entry, job })));
  }
  records.sort((a, b) => b.StartedOn.localeCompare(a.StartedOn) || b.Attempt - a.Attempt);
  // A damaged record is shown as such, first, never hidden and never stopping the list.
  const damaged = unreadable.map((entry) => ({
    job: entry.job, run_id: entry.id, attempt: null, previous_run_id: null, state: 'UNREADABLE', started_on: null, completed_on: null, execution_s: null,
    records_read: null, bytes_read: null, records_written: null, records_quarantined: null, elapsed_ms: null, error: entry.problem,
  }));
  return [...damaged, ...records.map((run) => ({
    job: run.JobName,
    run_id: run.Id,
    attempt: run.Attempt,
    previous_run_id: run.PreviousRunId ?? null,
    state: run.JobRunState,
    started_on: run.StartedOn,
    completed_on: run.CompletedOn ?? null,
    execution_s: run.ExecutionTime,
    records_read: run.Metrics?.['glue.driver.aggregate.recordsRead'] ?? null,
    bytes_read: run.Metrics?.['glue.driver.aggregate.bytesRead'] ?? null,
    records_written: run.Metrics?.['medallion.job.recordsWritten'] ?? null,
    records_quarantined: run.Metrics?.['medallion.job.recordsQuarantined'] ?? null,
    elapsed_ms: run.Metrics?.['glue.driver.aggregate.elapsedTime'] ?? null,
    error: run.ErrorMessage ?? null,
  }))];
}
