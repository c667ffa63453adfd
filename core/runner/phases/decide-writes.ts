import { quoteIdentifier, quoteLiteral, type Engine } from '../../engine/index.ts';
import type { JobPlan } from '../../job/index.ts';
import { QUARANTINE_TABLE, QUALITY_RESULTS_TABLE, copyToStaging, countRows, partitionKey, persistStage, type OutputStage, type TableSpec, type TableWrite } from '../../table/index.ts';
import { jobQuarantineFiles } from '../quarantine-selection.ts';
import { attachFiles } from '../run-inputs.ts';
import { OFFERED_RECORDS, READ_OBJECTS, REPLAYED_RECORDS } from './held-records.ts';
import { MedallionError } from '../../errors.ts';
import { readManifest } from '../../state/state-documents.ts';
import type { PartitionEntry } from '../../table/index.ts';
import type { JobPlanner } from './job-planner.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';
import type { RunStaging } from './run-staging.ts';

/** What the run commits: a write per table, and the rows it wrote and quarantined. */
export interface RunWrites {
  readonly writes: readonly TableWrite[];
  readonly recordsWritten: Readonly<Record<string, number>>;
  readonly recordsQuarantined: number;
}

/** How a run changes a table it writes: adds files, replaces some partitions, or replaces everything. */
export type WriteKind = TableWrite['kind'];

/**
 * How an output is written. An incremental run appends to the outputs its plan names in `appendTo` and
 * replaces the rest; a run that read all its input replaces its outputs; a run that read part of it
 * (a bookmark or window left objects out) appends to an append table and replaces the partitions it
 * wrote of any other. (An incremental plan's `replacePartitions` is decided by the caller.)
 */
export function writeKindOf(spec: TableSpec, plan: JobPlan, run: { readonly incremental: boolean; readonly readsSubset: boolean }): WriteKind {
  if (run.incremental) return (plan.appendTo ?? []).includes(spec.name) ? 'append' : 'replace_all';
  if (!run.readsSubset) return 'replace_all';
  return spec.writeMode === 'append' ? 'append' : 'replace_partitions';
}

/**
 * Stores what every stage wrote and decides each table's write. The quarantine: a run that read only
 * part of its input adds its rows; one that read everything replaces the job's partition of it.
 */
export async function decideWrites(run: RunContext, reads: ReadPlan, planner: JobPlanner, staging: RunStaging): Promise<RunWrites> {
  const { job, engine } = run;
  const plan = planner.plan;
  // The run read part of its input: a bookmark or window left objects out, or it read only what its tables gained.
  const readPart = reads.readsSubset || planner.incremental;
  const writes: TableWrite[] = [];
  const recordsWritten: Record<string, number> = {};
  for (const stage of staging.outputs) {
    const partitions = await persistStage(stage);
    recordsWritten[stage.spec.name] = countRows(partitions);
    const replaced = planner.incremental ? plan.replacePartitions?.[stage.spec.name] : undefined;
    if (reads.replayRange && stage.spec.name === job.balance?.output) {
      // The range's date partitions become exactly what the objects that arrived in it give now.
      for (const [key, entry] of Object.entries(await committedPartitionsInRange(run, reads, stage.spec))) partitions[key] ??= { values: entry.values, files: [] };
      writes.push({ spec: stage.spec, kind: 'replace_partitions', partitions });
    } else if (replaced !== undefined) {
      // Partitions the plan replaces but wrote no row for become empty.
      for (const values of await partitionValues(engine, stage.spec, replaced)) {
        partitions[partitionKey(stage.spec.partitionBy, values)] ??= { values, files: [] };
      }
      writes.push({ spec: stage.spec, kind: 'replace_partitions', partitions });
    } else {
      writes.push({ spec: stage.spec, kind: writeKindOf(stage.spec, plan, { incremental: planner.incremental, readsSubset: reads.readsSubset }), partitions });
    }
  }

  const own = partitionKey(QUARANTINE_TABLE.partitionBy, { job: job.name });
  if (reads.replay || reads.replayRange) {
    // A replay: the job's partition becomes what it held but the records (or, for a range, the objects) re-read,
    // and what this run refused now.
    // A range replay re-derives whole objects; a quarantine replay settles the re-offered records of the objects it
    // read again (taken now, or gone: an index past the end of an object landed again whole).
    const settled = reads.replayRange ? `(SELECT DISTINCT source_object FROM ${OFFERED_RECORDS})` : `(SELECT * FROM ${REPLAYED_RECORDS} SEMI JOIN ${READ_OBJECTS} USING (source_object))`;
    const retained = await stageRetainedQuarantine(run, reads, staging.quarantine, settled, reads.replayRange ? ['source_object'] : ['source_object', 'record_index']);
    const stored = await staging.quarantine.area.persist();
    const quarantined = await persistStage(staging.quarantine, stored);
    const kept = await persistStage(retained, stored);
    const files = [...(kept[own]?.files ?? []), ...(quarantined[own]?.files ?? [])];
    writes.push({ spec: QUARANTINE_TABLE, kind: 'replace_partitions', partitions: { [own]: { values: { job: job.name }, files } } });
    const results = staging.qualityResults;
    if (results) writes.push({ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions: await persistStage(results) });
    return { writes, recordsWritten, recordsQuarantined: countRows(quarantined) };
  }
  const quarantined = await persistStage(staging.quarantine);
  writes.push(
    readPart
      ? { spec: QUARANTINE_TABLE, kind: 'append', partitions: quarantined }
      : { spec: QUARANTINE_TABLE, kind: 'replace_partitions', partitions: { [own]: quarantined[own] ?? { values: { job: job.name }, files: [] } } },
  );
  const results = staging.qualityResults;
  if (results) writes.push({ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions: await persistStage(results) });
  return { writes, recordsWritten, recordsQuarantined: countRows(quarantined) };
}

/**
 * Writes, beside the run's own quarantine rows, the job's committed quarantine rows but those of the records the
 * replay re-read (OFFERED_RECORDS): with this run's, they are the job's partition after it.
 */
async function stageRetainedQuarantine(run: RunContext, reads: ReadPlan, quarantine: OutputStage, settled: string, by: readonly string[]): Promise<OutputStage> {
  const retained: OutputStage = { spec: QUARANTINE_TABLE, area: quarantine.area, copies: [] };
  const found = await jobQuarantineFiles(run.lake, reads.basedOn, run.job.name);
  if (!found) return retained;
  const release = await attachFiles(run.lake, run.engine, found.manifest, found.files, 'quarantine_before_replay');
  try {
    const columns = QUARANTINE_TABLE.columns.map((column) => quoteIdentifier(column.name)).join(', ');
    const sql = `SELECT ${columns} FROM quarantine_before_replay ANTI JOIN ${settled} AS settled USING (${by.join(', ')})`;
    retained.copies.push(...(await copyToStaging(run.engine, retained, sql, 'retained')));
  } finally {
    await release();
  }
  return retained;
}

/**
 * The committed partitions of a range replay's output whose date is in the range. Refused when they hold rows
 * of an object the replay did not read (gone from landing, or unreadable now): replacing them would drop those rows.
 */
async function committedPartitionsInRange(run: RunContext, reads: ReadPlan, spec: TableSpec): Promise<Record<string, PartitionEntry>> {
  const range = reads.replayRange as { from: string; to: string };
  const ref = reads.basedOn.tables[spec.name];
  if (!ref) return {};
  const manifest = await readManifest(run.lake.state, ref.manifest);
  const column = spec.partitionBy[0] as string;
  const inRange = Object.fromEntries(Object.entries(manifest.partitions).filter(([, entry]) => {
    const value = entry.values[column];
    return value !== null && value !== undefined && value >= range.from && value <= range.to;
  }));
  const files = Object.values(inRange).flatMap((entry) => entry.files).filter((file) => file.rows > 0);
  if (files.length === 0) return inRange;
  const release = await attachFiles(run.lake, run.engine, manifest, files, 'replaced_partitions');
  try {
    const { rows } = await run.engine.query(`SELECT DISTINCT source_object FROM replaced_partitions ANTI JOIN ${OFFERED_RECORDS} USING (source_object) ORDER BY 1 LIMIT 3`);
    if (rows.length > 0) {
      throw new MedallionError('REPLAY_WOULD_DROP_ROWS',
        `${run.job.name}: ${spec.name} holds rows from ${rows.map((row) => String(row.source_object)).join(', ')}${rows.length === 3 ? ' and maybe more' : ''} in ${range.from}..${range.to}, ` +
          'objects this replay could not read again (gone from landing, or unreadable): replacing the range would drop their rows; nothing was committed',
        { hint: 'put the objects back in landing, or replay a range without them' });
    }
  } finally {
    await release();
  }
  return inRange;
}

/** The partitions `sql` names, as the partition values Parquet folders carry (`day=2025-11-01`). */
async function partitionValues(engine: Engine, spec: TableSpec, sql: string): Promise<Record<string, string>[]> {
  const columns = spec.partitionBy.map((column) => `${quoteIdentifier(column)}::${spec.columns.find((c) => c.name === column)?.type ?? 'VARCHAR'}::VARCHAR AS ${quoteIdentifier(column)}`);
  const { rows } = await engine.query(`SELECT DISTINCT ${columns.join(', ')} FROM (${sql})`);
  // The NULL partition's value is null, as COPY's RETURN_STATS reports it (see persistStage).
  return rows.map((row) => Object.fromEntries(spec.partitionBy.map((column) => [column, (row[column] === null ? null : String(row[column])) as string])));
}

/**
 * The records this run quarantined, by reason code (a handful of stable codes, fit for a metric dimension): read back from the files its quarantine COPYs wrote (the stage's
 * own copies only: a replay's retained rows are in another stage).
 */
export async function quarantinedByReason(run: RunContext, stage: OutputStage): Promise<Record<string, number>> {
  const files = stage.copies.filter((row) => Number(row.count) > 0).map((row) => String(row.filename));
  if (files.length === 0) return {};
  const { rows } = await run.engine.query(`SELECT reason_code, count(*)::BIGINT AS n FROM read_parquet([${files.map(quoteLiteral).join(', ')}]) GROUP BY reason_code ORDER BY reason_code`);
  return Object.fromEntries(rows.map((row) => [String(row.reason_code), Number(row.n)]));
}
