import { quoteIdentifier, quoteLiteral, type Lake } from '../core/index.ts';
import { selectUnreadObjects, type JobBookmarkState } from '../core/bookmark/index.ts';
import { attachTables } from '../core/catalog/index.ts';
import type { Engine, ResultRow } from '../core/engine/index.ts';
import { countLandingRecords, listLanding, type LandingLimits } from '../core/landing/index.ts';
import { PIPELINE_JOBS } from './index.ts';
import { readRunRecords } from '../core/runner/index.ts';
import type { ObjectInfo } from '../core/storage/index.ts';
import { readBookmark } from '../core/state/state-documents.ts';

/** One CDC source of the reference pipeline, as reconciliation follows it from landing to silver. */
export interface ReconciledSource {
  readonly source: string;
  readonly landingPrefix: string;
  readonly bronzeJob: string;
  readonly bronzeTable: string;
  readonly silverJob: string;
  /** The silver table of effective events (one row per event kept), with `_source_object` and `_record_index`. */
  readonly silverEvents: string;
}

export const RECONCILED_SOURCES: readonly ReconciledSource[] = [
  { source: 'tasks', landingPrefix: 'landing/tasks/', bronzeJob: 'bronze.tasks_cdc', bronzeTable: 'bronze.tasks_cdc', silverJob: 'silver.tasks', silverEvents: 'silver.task_events' },
  { source: 'users', landingPrefix: 'landing/users/', bronzeJob: 'bronze.users_cdc', bronzeTable: 'bronze.users_cdc', silverJob: 'silver.users', silverEvents: 'silver.user_events' },
];

/** One line of the proof: what came in and where all of it went, for a source, a stage and a run. */
export interface ReconcileCheck {
  readonly source: string;
  readonly stage: 'landing-bronze' | 'bronze-silver';
  /** The bronze run that read the records (for bronze-silver: that brought the events). */
  readonly runId: string | null;
  /** landing-bronze: landing records; bronze-silver: bronze rows. */
  readonly input: number;
  /** landing-bronze: bronze rows; bronze-silver: effective events. */
  readonly written: number;
  readonly quarantined: number;
  /** bronze-silver only: events dropped because an equal event was kept. */
  readonly duplicates: number;
  readonly balanced: boolean;
}

export interface ReconcileDifference {
  readonly source: string;
  readonly stage: 'landing-bronze' | 'bronze-silver';
  readonly sourceObject: string | null;
  readonly recordIndex: number | null;
  readonly problem: string;
}

export interface ReconcileReport {
  readonly checks: readonly ReconcileCheck[];
  /** Every record that is missing, doubled or unaccounted for (at most `limit`); empty when everything adds up. */
  readonly differences: readonly ReconcileDifference[];
  /** Landing objects no bronze run has read yet (newer than its bookmark): not a difference. */
  readonly pendingObjects: number;
  /** Bronze rows no silver run has read yet (committed after the last silver run started): not a difference. */
  readonly pendingBronzeRows: number;
  /** Landing objects, folders and links that cannot be read (bronze sets them aside and retries them): not counted. */
  readonly unreadable: readonly UnreadableLanding[];
}

export interface UnreadableLanding {
  readonly source: string;
  readonly key: string;
  readonly error: string;
}

/**
 * Proves that nothing was lost or doubled between landing and silver: per source and per bronze run,
 * landing records = bronze rows + quarantined, and bronze rows = effective silver events + duplicates +
 * quarantined. Landing is cut into records again (the same cutting the bronze jobs use), independently of
 * what bronze wrote; every landing record must be a bronze row or a quarantined record exactly once, and
 * every bronze row must be an effective event, a duplicate of one, or quarantined by silver exactly once.
 * A difference names the object and the record.
 */
export async function reconcileLake(lake: Lake, options: { sources?: readonly ReconciledSource[]; limit?: number } = {}): Promise<ReconcileReport> {
  const sources = options.sources ?? RECONCILED_SOURCES;
  const limit = options.limit ?? 1000;
  const root = await lake.state.readRoot();
  const engine = await lake.createEngine();
  // Only what reconciliation reads (its role in AWS may read no more): the bronze and silver event tables, the quarantine.
  const attached = await attachTables(engine, lake.storage, lake.state, root, {
    only: [...sources.flatMap((source) => [source.bronzeTable, source.silverEvents]), 'quarantine.records'],
  });
  try {
    const checks: ReconcileCheck[] = [];
    const differences: ReconcileDifference[] = [];
    let pendingObjects = 0;
    const unreadable: UnreadableLanding[] = [];
    let pendingBronzeRows = 0;
    for (const source of sources) {
      const has = (table: string) => root.tables[table] !== undefined;
      const bookmarkId = root.bookmarks[source.bronzeJob];
      const bookmark = bookmarkId ? await readBookmark(lake.state, bookmarkId) : undefined;
      const { records: runs } = await readRunRecords(lake.state, source.bronzeJob);
      const lastRead = Math.max(0, ...runs.filter((run) => run.JobRunState === 'SUCCEEDED').map((run) => Date.parse(run.StartedOn)));
      pendingObjects += await countLanding(lake, engine, source, bookmark, lastRead, bookmarkId, unreadable);
      // What bronze holds of objects under an unreadable folder or link cannot be checked against landing now.
      await engine.run('CREATE OR REPLACE TEMP TABLE unreadable_keys (key VARCHAR, under VARCHAR)');
      const mine = unreadable.filter((entry) => entry.source === source.source);
      for (let start = 0; start < mine.length; start += 1000) {
        const rows = mine.slice(start, start + 1000).map((entry) => `(${quoteLiteral(entry.key)}, ${quoteLiteral(entry.key.endsWith('/') ? entry.key : `${entry.key}/`)})`);
        await engine.run(`INSERT INTO unreadable_keys VALUES ${rows.join(', ')}`);
      }
      // Bronze rows carry their run's start (ingested_at), quarantined records their run id.
      const finished = runs.filter((run) => run.JobRunState === 'SUCCEEDED' && run.CompletedOn !== undefined);
      await engine.run(`CREATE OR REPLACE TEMP TABLE bronze_runs (run_id VARCHAR, started TIMESTAMP, completed TIMESTAMP)`);
      if (finished.length > 0) {
        await engine.run(`INSERT INTO bronze_runs VALUES ${finished.map((run) => `(${quoteLiteral(run.Id)}, ${quoteLiteral(run.StartedOn)}::TIMESTAMPTZ::TIMESTAMP, ${quoteLiteral(run.CompletedOn as string)}::TIMESTAMPTZ::TIMESTAMP)`).join(', ')}`);
      }
      if (!has(source.bronzeTable)) continue;

      const landing = quoteIdentifier(`landing_${source.source}`);
      const bronze = qualified(source.bronzeTable);
      const quarantine = has('quarantine.records') ? 'quarantine.records' : '(SELECT NULL::VARCHAR AS job, NULL::VARCHAR AS source_object, NULL::BIGINT AS record_index, NULL::VARCHAR AS reason_code, NULL::VARCHAR AS run_id, NULL::TIMESTAMP AS quarantined_at WHERE false)';
      const runOf = (column: string) => `(SELECT any_value(r.run_id) FROM bronze_runs r WHERE ${column} BETWEEN r.started AND r.completed)`;
      await engine.run(`
        CREATE OR REPLACE TEMP TABLE accounted AS
        SELECT source_object, record_index, 'bronze' AS kind, ${runOf('ingested_at')} AS run_id FROM ${bronze}
        UNION ALL
        SELECT source_object, record_index, 'quarantine', run_id FROM ${quarantine} WHERE job = ${quoteLiteral(source.bronzeJob)}`);
      const landingIssues = await engine.query(`
        WITH expected AS (
          SELECT l.source_object, r.i AS record_index FROM ${landing} l, range(l.records) r(i) WHERE l.read AND NOT l.unreadable
        ), counted AS (
          SELECT source_object, record_index, count(*) AS n FROM accounted GROUP BY ALL
        )
        SELECT source_object, record_index, 'the landing record is neither in ${source.bronzeTable} nor quarantined' AS problem
        FROM expected ANTI JOIN counted USING (source_object, record_index)
        UNION ALL
        SELECT source_object, record_index, 'the landing record is accounted for ' || n || ' times (bronze rows and quarantined records)' FROM counted WHERE n > 1
        UNION ALL
        SELECT c.source_object, c.record_index, 'no such landing record (its object has ' || coalesce(l.records::VARCHAR, 'no') || ' records)'
        FROM counted c LEFT JOIN ${landing} l USING (source_object)
        WHERE NOT coalesce(l.unreadable, false) AND (l.records IS NULL OR c.record_index >= l.records OR c.record_index < 0)
          AND NOT EXISTS (SELECT 1 FROM unreadable_keys u WHERE c.source_object = u.key OR starts_with(c.source_object, u.under))
        ORDER BY 1, 2 LIMIT ${limit}`);
      differences.push(...landingIssues.rows.map((row) => difference(source.source, 'landing-bronze', row)));
      const landingChecks = await engine.query(`
        WITH per_object AS (
          SELECT source_object, any_value(run_id) AS run_id, count(*) FILTER (WHERE kind = 'bronze') AS written,
                 count(*) FILTER (WHERE kind = 'quarantine') AS quarantined
          FROM accounted GROUP BY ALL
        )
        SELECT p.run_id, sum(l.records)::BIGINT AS input, sum(p.written)::BIGINT AS written, sum(p.quarantined)::BIGINT AS quarantined
        FROM per_object p JOIN ${landing} l USING (source_object) WHERE NOT l.unreadable GROUP BY ALL ORDER BY 1`);
      for (const row of landingChecks.rows) {
        const check = { source: source.source, stage: 'landing-bronze' as const, runId: text(row.run_id), input: Number(row.input), written: Number(row.written), quarantined: Number(row.quarantined), duplicates: 0 };
        checks.push({ ...check, balanced: check.input === check.written + check.quarantined });
      }

      if (!has(source.silverEvents)) continue;
      // Bronze rows committed after the last silver run started are pending: silver cannot have read them yet.
      const { records: silverRuns } = await readRunRecords(lake.state, source.silverJob);
      const lastSilverStart = Math.max(0, ...silverRuns.filter((run) => run.JobRunState === 'SUCCEEDED').map((run) => Date.parse(run.StartedOn)));
      await engine.run(`
        CREATE OR REPLACE TEMP TABLE silver_accounting AS
        WITH b AS (
          SELECT source_object, record_index, event_id, ${runOf('ingested_at')} AS run_id,
                 row_number() OVER (PARTITION BY event_id ORDER BY source_object, record_index) AS position
          FROM ${bronze}
        ), e AS (
          SELECT _source_object AS source_object, _record_index AS record_index, count(*) AS n FROM ${qualified(source.silverEvents)} GROUP BY ALL
        ), q AS (
          SELECT source_object, record_index, count(*) AS n, bool_and(reason_code = 'quality_rule') AS only_quality
          FROM ${quarantine} WHERE job = ${quoteLiteral(source.silverJob)} GROUP BY ALL
        )
        SELECT b.source_object, b.record_index, b.run_id, b.position, coalesce(e.n, 0) AS effective, coalesce(q.n, 0) AS quarantined,
               coalesce(q.only_quality, false) AS only_quality,
               coalesce(r.completed > make_timestamp(${lastSilverStart * 1000}::BIGINT), false) AND coalesce(e.n, 0) = 0 AND coalesce(q.n, 0) = 0 AS pending
        FROM b LEFT JOIN e USING (source_object, record_index) LEFT JOIN q USING (source_object, record_index)
        LEFT JOIN bronze_runs r ON r.run_id = b.run_id`);
      pendingBronzeRows += Number((await engine.query('SELECT count(*) AS n FROM silver_accounting WHERE pending')).rows[0]?.n ?? 0);
      const silverIssues = await engine.query(`
        SELECT source_object, record_index,
               CASE
                 WHEN effective = 0 AND quarantined = 0 AND position = 1 THEN 'the bronze row is neither an effective event in ${source.silverEvents} nor quarantined'
                 WHEN effective > 1 THEN 'the bronze row is an effective event ' || effective || ' times'
                 WHEN effective > 0 AND position > 1 THEN 'the bronze row repeats an earlier event_id but was kept as an effective event'
                 WHEN effective > 0 AND quarantined > 0 AND NOT only_quality THEN 'the bronze row is both an effective event and quarantined'
                 WHEN quarantined > 1 THEN 'the bronze row is quarantined ' || quarantined || ' times'
               END AS problem
        FROM silver_accounting
        WHERE (effective = 0 AND quarantined = 0 AND position = 1 AND NOT pending) OR effective > 1 OR (effective > 0 AND position > 1)
           OR (effective > 0 AND quarantined > 0 AND NOT only_quality) OR quarantined > 1
        UNION ALL
        SELECT e._source_object, e._record_index, 'the effective event comes from no bronze row'
        FROM ${qualified(source.silverEvents)} e ANTI JOIN ${bronze} b ON b.source_object = e._source_object AND b.record_index = e._record_index
        ORDER BY 1, 2 LIMIT ${limit}`);
      differences.push(...silverIssues.rows.map((row) => difference(source.source, 'bronze-silver', row)));
      const silverChecks = await engine.query(`
        SELECT run_id, count(*) AS input, count(*) FILTER (WHERE effective > 0) AS written,
               count(*) FILTER (WHERE effective = 0 AND quarantined > 0) AS quarantined,
               count(*) FILTER (WHERE effective = 0 AND quarantined = 0 AND position > 1) AS duplicates
        FROM silver_accounting WHERE NOT pending GROUP BY ALL ORDER BY 1`);
      for (const row of silverChecks.rows) {
        const check = {
          source: source.source, stage: 'bronze-silver' as const, runId: text(row.run_id), input: Number(row.input), written: Number(row.written),
          quarantined: Number(row.quarantined), duplicates: Number(row.duplicates),
        };
        checks.push({ ...check, balanced: check.input === check.written + check.quarantined + check.duplicates });
      }
    }
    return { checks, differences: differences.slice(0, limit), pendingObjects, pendingBronzeRows, unreadable };
  } finally {
    await attached.release();
    engine.close();
  }
}

/** `layer.table` as the attached views name it. */
function qualified(table: string): string {
  const [layer, name] = table.split('.') as [string, string];
  return `${quoteIdentifier(layer)}.${quoteIdentifier(name)}`;
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function difference(source: string, stage: ReconcileDifference['stage'], row: ResultRow): ReconcileDifference {
  return { source, stage, sourceObject: text(row.source_object), recordIndex: row.record_index === null ? null : Number(row.record_index), problem: String(row.problem) };
}

/**
 * Cuts every landing object of a source into records again and keeps, per object, how many records it
 * holds and whether the bronze job has read it (by its bookmark, or, without one, by its last run).
 * Returns how many objects are not read yet.
 */
async function countLanding(
  lake: Lake,
  engine: Engine,
  source: ReconciledSource,
  bookmark: JobBookmarkState | undefined,
  lastRunStartMs: number,
  bookmarkId: string | undefined,
  unreadable: UnreadableLanding[],
): Promise<number> {
  const table = quoteIdentifier(`landing_${source.source}`);
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${table} (source_object VARCHAR, records BIGINT, read BOOLEAN, unreadable BOOLEAN)`);
  const listed = await listLanding(lake.storage, source.landingPrefix);
  const objects = listed.objects;
  unreadable.push(...listed.unreadable.map((entry) => ({ source: source.source, ...entry })));
  const landingBookmark = bookmark?.sources.landing;
  const unread = new Set(
    bookmarkId && landingBookmark?.kind === 'landing'
      ? selectUnreadObjects(objects, landingBookmark).map((object) => object.key)
      : objects.filter((object) => object.lastModifiedMs >= lastRunStartMs).map((object) => object.key),
  );
  let rows: string[] = [];
  const flush = async () => {
    if (rows.length > 0) await engine.run(`INSERT INTO ${table} VALUES ${rows.join(', ')}`);
    rows = [];
  };
  for await (const { object, records, unreadable: why } of countLandingRecords(lake.storage, objects, landingLimitsOf(source.bronzeJob))) {
    // An object that cannot be read cannot be counted: it is listed, and what bronze holds of it is left alone.
    if (why !== undefined) {
      unreadable.push({ source: source.source, key: object.key, error: why });
      unread.delete(object.key);
    }
    rows.push(`(${quoteLiteral(object.key)}, ${why === undefined ? records : 'NULL'}, ${unread.has(object.key) ? 'false' : 'true'}, ${why !== undefined})`);
    if (rows.length >= 1000) await flush();
  }
  await flush();
  return unread.size;
}

/** The landing limits of a bronze job's landing source: an object over them counts as one record, as bronze counts it. */
function landingLimitsOf(jobName: string): LandingLimits | undefined {
  const job = PIPELINE_JOBS.find((candidate) => candidate.name === jobName);
  const landing = Object.values(job?.sources ?? {}).find((source) => source.kind === 'landing');
  return landing?.kind === 'landing' ? landing.limits : undefined;
}
