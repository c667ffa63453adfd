import type { Lake } from '../../core/index.ts';
import type { ResultRow } from '../../core/engine/index.ts';
import type { JobRunRecord } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

export const RUN_COLUMNS = [
  'job', 'run_id', 'attempt', 'previous_run_id', 'state', 'started_on', 'completed_on', 'execution_s',
  'records_read', 'bytes_read', 'records_written', 'records_quarantined', 'elapsed_ms', 'error',
] as const;

/** Job runs, newest first: one row per attempt, with the run's metrics under Glue's names. */
export async function listRuns(lake: Lake, jobNames: readonly string[] = PIPELINE_JOBS.map((job) => job.name)): Promise<ResultRow[]> {
  const records: JobRunRecord[] = [];
  for (const job of jobNames) records.push(...(await lake.state.listRecords<JobRunRecord>(`runs/${job}`)));
  records.sort((a, b) => b.StartedOn.localeCompare(a.StartedOn) || b.Attempt - a.Attempt);
  return records.map((run) => ({
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
  }));
}
