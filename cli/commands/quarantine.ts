import { PIPELINE_TABLES } from '../../jobs/index.ts';
import { isCalendarDate } from '../dates.ts';
import type { Job, Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import { quoteLiteral, type ResultColumn, type ResultRow } from '../../core/engine/index.ts';
import { ConfigError } from '../../core/errors.ts';
import { orderJobs, quarantineFilterSql, runJobs, startJobRun, type JobRunResult, type QuarantineFilter } from '../../core/runner/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';

/** `medallion quarantine summary`: quarantined records per job and reason, with the time span and objects. */
export async function quarantineSummary(lake: Lake, filter: QuarantineFilter & { readonly job?: string }): Promise<{ columns: ResultColumn[]; rows: ResultRow[] }> {
  const rows = await quarantineQuery(lake, `
    SELECT job, reason_code, count(*) AS records, count(DISTINCT source_object) AS objects,
           strftime(min(quarantined_at), '%Y-%m-%dT%H:%M:%SZ') AS first_quarantined, strftime(max(quarantined_at), '%Y-%m-%dT%H:%M:%SZ') AS last_quarantined
    FROM quarantine.records WHERE ${whereSql(filter)} GROUP BY ALL ORDER BY job, records DESC, reason_code`);
  const text = new Set(['job', 'reason_code', 'first_quarantined', 'last_quarantined']);
  return { columns: ['job', 'reason_code', 'records', 'objects', 'first_quarantined', 'last_quarantined'].map((name) => ({ name, type: text.has(name) ? 'VARCHAR' : 'BIGINT' })), rows };
}

/** `medallion quarantine list`: the quarantined records themselves, newest first. */
export async function quarantineList(lake: Lake, filter: QuarantineFilter & { readonly job?: string }, limit: number): Promise<{ columns: ResultColumn[]; rows: ResultRow[] }> {
  const rows = await quarantineQuery(lake, `
    SELECT job, reason_code, reason, source_object, record_index, run_id, strftime(quarantined_at, '%Y-%m-%dT%H:%M:%SZ') AS quarantined_at, raw
    FROM quarantine.records WHERE ${whereSql(filter)}
    ORDER BY quarantined_at DESC, job, source_object, record_index LIMIT ${limit}`);
  return { columns: ['job', 'reason_code', 'reason', 'source_object', 'record_index', 'run_id', 'quarantined_at', 'raw'].map((name) => ({ name, type: name === 'record_index' ? 'BIGINT' : 'VARCHAR' })), rows };
}

/** What a replay did for one job's quarantined records. */
export interface QuarantineReplayOutcome {
  readonly job: string;
  /** The records the filter selected, re-offered to the job. */
  readonly offered: number;
  /** Now rows of the job's table: they left the quarantine. */
  readonly accepted: number;
  /** Still refused: in the quarantine, with the reason of this replay. */
  readonly refused: number;
  /** How they were re-offered: the records alone (bronze), or a full run of the job. */
  readonly how: 'records' | 'full-refresh';
  /** The jobs that then ran (bookmarked) so the accepted records flow on. */
  readonly downstream: readonly string[];
}

/**
 * `medallion quarantine replay`: re-offers quarantined records to the job that refused them, after a contract, a
 * rule or the source was fixed. A job that reads landing record by record (bronze) re-reads exactly the selected
 * records from their landing objects; any other job (silver, gold: a record's fate depends on the other events of
 * its key) is rebuilt by a full refresh, which re-offers all it quarantined. Records now accepted leave the
 * quarantine (their rows carry the replay run's time: `ingested_at` in bronze; the run is in `medallion runs`);
 * those still refused stay, with the reason this run gave. Then the jobs downstream run with bookmarks, so what
 * was accepted reaches silver and gold. Counts still add up: `medallion reconcile`.
 */
export async function quarantineReplay(
  lake: Lake,
  jobs: readonly Job[],
  filter: QuarantineFilter & { readonly job?: string },
  quality: ReadonlyMap<string, TableRuleSet>,
  stop?: AbortSignal,
): Promise<QuarantineReplayOutcome[]> {
  if (filter.job !== undefined && !jobs.some((job) => job.name === filter.job)) {
    throw new ConfigError('JOB_UNKNOWN', `no job named ${filter.job}`, { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  const selected = await quarantineQuery(lake, `SELECT job, source_object, record_index FROM quarantine.records WHERE ${whereSql(filter)}`);
  const byJob = new Map<string, number>();
  for (const row of selected) byJob.set(String(row.job), (byJob.get(String(row.job)) ?? 0) + 1);
  const outcomes: QuarantineReplayOutcome[] = [];
  const enable = { bookmark: { option: 'job-bookmark-enable' as const } };
  for (const job of jobs.filter((candidate) => byJob.has(candidate.name))) {
    const offered = byJob.get(job.name) ?? 0;
    const keys = selected.filter((row) => row.job === job.name);
    const how = job.perRecord ? 'records' : 'full-refresh';
    await startJobRun(lake, job, how === 'records' ? { replayQuarantine: { ...(filter.reason ? { reason: filter.reason } : {}), ...(filter.since ? { since: filter.since } : {}) } } : { fullRefresh: true, ...enable }, { quality, ...(stop ? { stop } : {}) });
    const refused = await stillQuarantined(lake, job.name, keys);
    const downstream = downstreamOf(jobs, job);
    if (downstream.length > 0) await runJobs(lake, downstream, { quality, settingsFor: () => enable, ...(stop ? { stop } : {}) });
    outcomes.push({ job: job.name, offered, accepted: offered - refused, refused, how, downstream: downstream.map((entry) => entry.name) });
  }
  return outcomes;
}

/** How many of `keys` the job's partition of the quarantine still holds. */
async function stillQuarantined(lake: Lake, job: string, keys: readonly ResultRow[]): Promise<number> {
  if (keys.length === 0) return 0;
  let count = 0;
  for (let start = 0; start < keys.length; start += 1000) {
    const values = keys.slice(start, start + 1000).map((row) => `(${quoteLiteral(String(row.source_object))}, ${Number(row.record_index)})`).join(', ');
    const [row] = await quarantineQuery(lake, `
      SELECT count(*) AS n FROM (SELECT DISTINCT source_object, record_index FROM quarantine.records WHERE job = ${quoteLiteral(job)})
      SEMI JOIN (VALUES ${values}) k(source_object, record_index) USING (source_object, record_index)`);
    count += Number(row?.n ?? 0);
  }
  return count;
}

/** Every job that reads, directly or further down, what `job` writes. */
function downstreamOf(jobs: readonly Job[], job: Job): Job[] {
  const written = new Set(job.outputs.map((spec) => spec.name as string));
  const found: Job[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const candidate of jobs) {
      if (candidate === job || found.includes(candidate)) continue;
      if (Object.values(candidate.sources).some((source) => source.kind === 'table' && written.has(source.table))) {
        found.push(candidate);
        for (const spec of candidate.outputs) written.add(spec.name);
        grew = true;
      }
    }
  }
  return found;
}

function whereSql(filter: QuarantineFilter & { readonly job?: string }): string {
  return [quarantineFilterSql(filter), ...(filter.job === undefined ? [] : [`job = ${quoteLiteral(filter.job)}`])].join(' AND ');
}

/** Rows of a query over the committed quarantine (none when the lake has no quarantine yet). */
async function quarantineQuery(lake: Lake, sql: string): Promise<ResultRow[]> {
  const root = await lake.state.readRoot();
  if (!root.tables['quarantine.records']) return [];
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, root, { declared: PIPELINE_TABLES });
  try {
    return [...(await engine.query(sql)).rows];
  } finally {
    await attached.release();
    engine.close();
  }
}

/** What `medallion replay` did for one job. */
export interface ReplayOutcome {
  readonly job: string;
  readonly how: 'range' | 'full-refresh' | 'downstream';
  readonly read: number;
  readonly written: number;
  readonly quarantined: number;
}

/**
 * `medallion replay <job...> --from --to`: a job that reads landing record by record (bronze) re-reads the objects
 * that arrived in the range and replaces what came of them (its date partitions in the range, its quarantine rows of
 * those objects); a silver or gold job, whose rows for a day depend on every earlier event of their keys, is rebuilt
 * by a full refresh (its result is a clean full run's by construction). Then every job downstream runs with
 * bookmarks: it sees its sources replaced and recomputes. No bronze bookmark moves: what is new since stays new.
 */
export async function replayRange(
  lake: Lake,
  jobs: readonly Job[],
  names: readonly string[],
  range: { readonly from: string; readonly to: string },
  quality: ReadonlyMap<string, TableRuleSet>,
  stop?: AbortSignal,
): Promise<ReplayOutcome[]> {
  const unknown = names.filter((name) => !jobs.some((job) => job.name === name));
  if (names.length === 0 || unknown.length > 0) {
    throw new ConfigError('JOB_UNKNOWN', names.length === 0 ? 'name the jobs to replay' : `no job named ${unknown.join(', ')}`, { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  // Checked before anything runs (a silver or gold job rebuilt in full would not look at the dates).
  if (!isCalendarDate(range.from) || !isCalendarDate(range.to)) {
    throw new ConfigError('RUN_ARGUMENTS_INVALID', `--from ${range.from} --to ${range.to}: dates are YYYY-MM-DD, and real ones`, { hint: 'e.g. --from 2025-11-02 --to 2025-11-03' });
  }
  if (range.from > range.to) throw new ConfigError('RUN_ARGUMENTS_INVALID', `--from ${range.from} is after --to ${range.to}`);
  const named = orderJobs(jobs.filter((job) => names.includes(job.name)));
  const outcomes: ReplayOutcome[] = [];
  const enable = { bookmark: { option: 'job-bookmark-enable' as const } };
  const describe = (job: Job, how: ReplayOutcome['how'], result: JobRunResult): ReplayOutcome => ({
    job: job.name, how, read: result.recordsRead, written: Object.values(result.recordsWritten).reduce((sum, rows) => sum + rows, 0), quarantined: result.recordsQuarantined,
  });
  for (const job of named) {
    const how = job.perRecord ? 'range' : 'full-refresh';
    const result = await startJobRun(lake, job, how === 'range' ? { replayRange: range } : { fullRefresh: true, ...enable }, { quality, ...(stop ? { stop } : {}) });
    outcomes.push(describe(job, how, result));
  }
  const downstream = orderJobs([...new Set(named.flatMap((job) => downstreamOf(jobs, job)))].filter((job) => !named.includes(job)));
  if (downstream.length > 0) {
    const results = await runJobs(lake, downstream, { quality, settingsFor: () => enable, ...(stop ? { stop } : {}) });
    for (const result of results) outcomes.push(describe(downstream.find((job) => job.name === result.job) as Job, 'downstream', result));
  }
  return outcomes;
}
