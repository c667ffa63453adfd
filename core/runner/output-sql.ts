import { quoteLiteral } from '../engine/index.ts';
import type { Job, JobPlan } from '../job/index.ts';
import { castColumns, type TableSpec } from '../table/index.ts';

/** An output's SQL as the job's plan has it, cast to the columns the table declares. */
export function outputSql(spec: TableSpec, plan: JobPlan): string {
  return `SELECT ${castColumns(spec)} FROM (${plan.outputs[spec.name] as string})`;
}

/** The plan's quarantine rows with the columns of quarantine.records: the job's layer and name, the run and its start. */
/** The columns a job's quarantine SQL gives; the runner adds the quarantine's others (layer, run_id, quarantined_at, job). */
export const JOB_QUARANTINE_COLUMNS: readonly string[] = ['source_object', 'record_index', 'reason_code', 'reason', 'raw'];

export function quarantineSql(job: Job, runId: string, startedAt: Date, plan: JobPlan): string | undefined {
  if (!plan.quarantine) return undefined;
  return `
    SELECT ${quoteLiteral(job.layer)} AS layer, source_object::VARCHAR AS source_object, record_index::BIGINT AS record_index,
           reason_code::VARCHAR AS reason_code, reason::VARCHAR AS reason, raw::VARCHAR AS raw, ${quoteLiteral(runId)} AS run_id,
           make_timestamp(${startedAt.getTime() * 1000}::BIGINT) AS quarantined_at, ${quoteLiteral(job.name)} AS job
    FROM (${plan.quarantine})`;
}
