import type { Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import { NotFoundError } from '../../core/errors.ts';
import { QUALITY_JOB } from '../../core/layout/index.ts';
import { quoteLiteral, type ResultRow } from '../../core/engine/index.ts';
import { readRunRecords, resolveRunId, runIdPrefix, type JobRunRecord, type UnreadableRunRecord } from '../../core/runner/index.ts';
import { JOB_PARTITIONED_TABLES, tableHistory } from '../../core/table/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';

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

/** The columns `runs` shows as a table: the id in full, what happened; `runs show` has the rest. */
export const TABLE_RUN_COLUMNS: ReadonlySet<string> = new Set(['job', 'run_id', 'attempt', 'state', 'started_on', 'execution_s', 'records_read', 'records_written', 'records_quarantined', 'error']);

/** One run in full, as `runs show` prints it. */
export interface RunDetail {
  readonly record: JobRunRecord;
  /** The attempt this one retried, and the one that retried it. */
  readonly retryOf?: string;
  readonly retriedBy?: string;
  /** The rule evaluations the run recorded in quality.results. */
  readonly quality: readonly { table: string; rule: string; action: string; outcome: string; value: string | null; threshold: string | null; message: string | null }[];
  /** The table versions it committed. */
  readonly committed: readonly { table: string; version: number; commit: number; operation: string | null; rows: number; files: number }[];
}

/** The run a run id (or a unique start of one) names, with its quality outcomes and commits. */
export async function runDetail(lake: Lake, given: string): Promise<RunDetail> {
  const jobNames = PIPELINE_JOBS.map((job) => job.name);
  const { job: jobName, record } = await resolveRunId(lake.state, given, jobNames).catch(async (error: unknown) => {
    // `medallion quality` prints the id its evaluations are recorded under: not a job run, but say what it is.
    const prefix = runIdPrefix(given);
    if (error instanceof NotFoundError && error.code === 'RUN_NOT_FOUND' && prefix !== undefined && prefix.length > 'jr_'.length) {
      const byQuality = await qualityStepRun(lake, prefix);
      if (byQuality) {
        throw new NotFoundError('RUN_NOT_FOUND', `${byQuality} is an evaluation of the quality step (\`medallion quality\`), not a job run`, { hint: `see its rules with \`medallion quality history --job ${QUALITY_JOB} --limit 500\`, which lists them by run id` });
      }
    }
    throw error;
  });
  const { records } = await readRunRecords(lake.state, jobName);
  const retriedBy = records.find((other) => other.PreviousRunId === record.Id)?.Id;
  const root = await lake.state.readRoot();
  const job = PIPELINE_JOBS.find((candidate) => candidate.name === jobName)!;
  // What it committed: the versions of the tables it writes (and the shared ones it appends to) made by this run.
  const tables = [...job.outputs.map((output) => output.name), ...JOB_PARTITIONED_TABLES.map((spec) => spec.name)].filter((table) => root.tables[table]);
  const committed: RunDetail['committed'][number][] = [];
  const startedCommit = Date.parse(record.StartedOn);
  for (const table of tables) {
    for (const version of await tableHistory(lake.state, table, { root, limit: 200 })) {
      if (version.runId === record.Id) committed.push({ table, version: version.version, commit: version.commit, operation: version.operation ?? null, rows: version.rows, files: version.files });
      // Versions are newest first: one committed before the run started is older than anything it made.
      if (version.committedAt && Date.parse(version.committedAt) < startedCommit) break;
    }
  }
  let quality: RunDetail['quality'] = [];
  if (root.tables['quality.results']) {
    const engine = await lake.createEngine();
    const attached = await attachTables(engine, lake.storage, lake.state, root, { declared: PIPELINE_TABLES, only: ['quality.results'] });
    try {
      quality = [...(await engine.query(`
        SELECT table_name, rule, action, outcome, value, threshold, message FROM quality.results
        WHERE run_id = ${quoteLiteral(record.Id)} ORDER BY table_name, ruleset, rule`)).rows].map((row) => ({
        table: String(row.table_name), rule: String(row.rule), action: String(row.action), outcome: String(row.outcome),
        value: row.value === null ? null : String(row.value), threshold: row.threshold === null ? null : String(row.threshold), message: row.message === null ? null : String(row.message),
      }));
    } finally {
      await attached.release();
      engine.close();
    }
  }
  return { record, ...(record.PreviousRunId ? { retryOf: record.PreviousRunId } : {}), ...(retriedBy ? { retriedBy } : {}), quality, committed };
}

/** The quality step's run id that starts with `prefix`, from quality.results, if there is one. */
async function qualityStepRun(lake: Lake, prefix: string): Promise<string | undefined> {
  const root = await lake.state.readRoot();
  if (!root.tables['quality.results']) return undefined;
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, root, { declared: PIPELINE_TABLES, only: ['quality.results'] });
  try {
    const [row] = (await engine.query(`SELECT DISTINCT run_id FROM quality.results WHERE job = ${quoteLiteral(QUALITY_JOB)} AND starts_with(run_id, ${quoteLiteral(prefix)}) LIMIT 2`)).rows;
    return row ? String(row.run_id) : undefined;
  } finally {
    await attached.release();
    engine.close();
  }
}

/** `runs show` as text: one field a line, then the arguments, metrics, quality outcomes and commits. */
export function describeRunDetail(detail: RunDetail): string {
  const { record } = detail;
  const lines = [
    `run        ${record.Id}`,
    `job        ${record.JobName}`,
    `state      ${record.JobRunState}${record.ErrorMessage ? `: ${record.ErrorMessage}` : ''}`,
    `attempt    ${record.Attempt}${detail.retryOf ? ` (a retry of ${detail.retryOf})` : ''}${detail.retriedBy ? ` (retried by ${detail.retriedBy})` : ''}`,
    `started    ${record.StartedOn}`,
    `completed  ${record.CompletedOn ?? '(not yet)'}  (${record.ExecutionTime} s; timeout ${record.Timeout} min, max retries ${record.MaxRetries})`,
    '',
    'arguments',
    ...Object.entries(record.Arguments).map(([name, value]) => `  --${name} ${value}`),
    ...(Object.keys(record.Arguments).length === 0 ? ['  (none)'] : []),
    '',
    'metrics',
    ...Object.entries(record.Metrics ?? {}).map(([name, value]) => `  ${name.padEnd(44)} ${value}`),
    ...(Object.keys(record.Metrics ?? {}).length === 0 ? ['  (none: only a successful run records them)'] : []),
    '',
    'committed',
    ...detail.committed.map((entry) => `  ${entry.table} version ${entry.version} (commit ${entry.commit}, ${entry.operation ?? 'write'}): ${entry.rows} rows in ${entry.files} files`),
    ...(detail.committed.length === 0 ? ['  nothing'] : []),
    '',
    'quality',
    ...detail.quality.map((entry) => `  ${entry.outcome.padEnd(5)} ${entry.action.padEnd(10)} ${entry.table}: ${entry.rule}${entry.value === null ? '' : ` = ${entry.value}`}${entry.outcome === 'PASS' || !entry.message ? '' : ` (${entry.message})`}`),
    ...(detail.quality.length === 0 ? ['  no rule evaluated'] : []),
  ];
  return `${lines.join('\n')}\n`;
}
