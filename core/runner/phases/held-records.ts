import { quoteIdentifier, quoteLiteral } from '../../engine/index.ts';
import { ConfigError } from '../../errors.ts';
import type { ObjectInfo } from '../../storage/index.ts';
import { manifestFiles, QUARANTINE_TABLE, SOURCE_OBJECT_COLUMN, type DataFile, type TableManifest } from '../../table/index.ts';
import { readManifest } from '../../state/state-documents.ts';
import { attachFiles } from '../run-inputs.ts';
import { selectQuarantined } from '../quarantine-selection.ts';

/** The engine table of the records a quarantine replay re-offers (see RunOptions.replayQuarantine). */
export const REPLAYED_RECORDS = 'replayed_records';
/** The engine table of the records a replay took (read and not held): they get a new outcome. */
export const OFFERED_RECORDS = 'offered_records';
/** The engine table of the objects a quarantine replay read again. */
export const READ_OBJECTS = 'read_objects';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';

/**
 * Landing records a `perRecord` job has already taken: the rows of its balanced output and of its quarantine
 * partition, by landing record (`source_object`, `record_index`). A run that appends (a bookmark or a pause
 * window chose what it reads) may read objects the job took before: a bookmark rewound or started over with
 * its tables kept, a pause run followed by the bookmarked one, an object landed again under its key. Such a
 * record is skipped and counted as already held, so a landing record is in the output or the quarantine at
 * most once whatever an operator does, and the first reading of it stands. (To read records again with
 * changed rules, replace them: `medallion replay` for landing, `medallion quarantine replay` for the
 * quarantine.) A run that reads all its input replaces its output and needs none of this.
 */
export class HeldRecords {
  private constructor(
    private readonly run: RunContext,
    private readonly tables: readonly { readonly manifest: TableManifest; readonly files: readonly DataFile[] }[],
    /** A quarantine replay: the table of the records re-offered, the only ones the run takes. */
    private readonly replay?: string,
    /** A range replay: every record is taken, and noted as offered. */
    private readonly range = false,
  ) {}

  /** The records the job holds, when the run can meet some again; undefined when it cannot. */
  static async open(run: RunContext, reads: ReadPlan): Promise<HeldRecords | undefined> {
    const { job, lake } = run;
    if (reads.replayRange) {
      // A range replay replaces what came of the objects it reads: nothing is held, their objects are noted.
      await run.engine.run(`CREATE OR REPLACE TEMP TABLE ${OFFERED_RECORDS} (${SOURCE_OBJECT_COLUMN} VARCHAR, record_index BIGINT)`);
      return new HeldRecords(run, [], undefined, true);
    }
    const tables = await heldTables(run, reads);
    if (reads.replay) {
      if (!keepsLandingRecords(job)) {
        throw new ConfigError('RUN_ARGUMENTS_INVALID', `${job.name}: its records cannot be re-offered alone (its balanced output must be append-only and keep source_object and record_index); rebuild it with --full-refresh`);
      }
      // The re-offered records are not held (they leave the quarantine if taken); every other record of the objects
      // read is skipped when the job holds it, and taken when it holds it nowhere (records after a break the
      // quarantine stood for as one: an object over a limit, a gzip stream cut short then landed again whole).
      await selectQuarantined(lake, run.engine, reads.basedOn, job.name, reads.replay, REPLAYED_RECORDS);
      await run.engine.run(`CREATE OR REPLACE TEMP TABLE ${OFFERED_RECORDS} (${SOURCE_OBJECT_COLUMN} VARCHAR, record_index BIGINT)`);
      await run.engine.run(`CREATE OR REPLACE TEMP TABLE ${READ_OBJECTS} (${SOURCE_OBJECT_COLUMN} VARCHAR)`);
      return new HeldRecords(run, tables, REPLAYED_RECORDS);
    }
    return tables.length > 0 ? new HeldRecords(run, tables) : undefined;
  }

  /**
   * Makes `input` the records of `landing` (a batch of `objects`) that the job does not hold yet; returns
   * how many it holds. Reads only the files whose recorded range of source objects holds a key of the batch.
   * In a quarantine replay the re-offered records count as not held, and what is taken is noted as offered.
   */
  async exclude(objects: readonly ObjectInfo[], landing: string, input: string): Promise<number> {
    const held = await this.excludeHeld(objects, landing, input);
    if (this.replay || this.range) await this.run.engine.run(`INSERT INTO ${OFFERED_RECORDS} SELECT ${SOURCE_OBJECT_COLUMN}, record_index FROM ${quoteIdentifier(input)}`);
    if (this.replay) await this.run.engine.run(`INSERT INTO ${READ_OBJECTS} SELECT DISTINCT ${SOURCE_OBJECT_COLUMN} FROM ${quoteIdentifier(landing)}`);
    return held;
  }

  private async excludeHeld(objects: readonly ObjectInfo[], landing: string, input: string): Promise<number> {
    const { engine } = this.run;
    if (this.range) {
      await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)}`);
      return 0;
    }
    const keys = objects.map((object) => Buffer.from(object.key)).sort(Buffer.compare);
    const candidates = this.tables
      .map(({ manifest, files }) => ({ manifest, files: files.filter((file) => mayHold(file, keys)) }))
      .filter(({ files }) => files.length > 0);
    const passThrough = () => engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)}`);
    if (candidates.length === 0 || keys.length === 0) {
      await passThrough();
      return 0;
    }
    const [first, last] = [keys[0]?.toString() ?? '', keys.at(-1)?.toString() ?? ''];
    const held = quoteIdentifier(`${input}_held`);
    const using = `USING (${SOURCE_OBJECT_COLUMN}, record_index)`;
    const parts: string[] = [];
    const releases: (() => Promise<void>)[] = [];
    try {
      for (const [index, { manifest, files }] of candidates.entries()) {
        const view = `${input}_held_${index}`;
        releases.push(await attachFiles(this.run.lake, engine, manifest, files, view));
        parts.push(`SELECT ${SOURCE_OBJECT_COLUMN}, record_index FROM ${quoteIdentifier(view)} WHERE ${SOURCE_OBJECT_COLUMN} BETWEEN ${quoteLiteral(first)} AND ${quoteLiteral(last)}`);
      }
      const notOffered = this.replay ? ` ANTI JOIN ${quoteIdentifier(this.replay)} ${using}` : '';
      await engine.run(`CREATE OR REPLACE TABLE ${held} AS SELECT * FROM (SELECT DISTINCT * FROM (${parts.join(' UNION ALL ')}))${notOffered}`);
    } finally {
      for (const release of releases) await release();
    }
    const { rows } = await engine.query(`SELECT count(*) AS n FROM ${quoteIdentifier(landing)} SEMI JOIN ${held} ${using}`);
    const count = Number(rows[0]?.n ?? 0);
    if (count === 0) {
      await passThrough();
      return 0;
    }
    await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)} ANTI JOIN ${held} ${using}`);
    return count;
  }
}

/** The committed files that may hold records a `perRecord` job took: its append-only output's and its quarantine partition's. */
async function heldTables(run: RunContext, reads: ReadPlan): Promise<{ manifest: TableManifest; files: DataFile[] }[]> {
  const { job, lake } = run;
  const balance = job.balance;
  // (An output that is not append-only replaces the partitions a run writes: skipping held rows there would drop them.)
  if (!balance || !reads.readsSubset || !keepsLandingRecords(job)) return [];
  const tables: { manifest: TableManifest; files: DataFile[] }[] = [];
  for (const [table, partition] of [[balance.output, undefined], [QUARANTINE_TABLE.name, job.name]] as const) {
    const ref = reads.basedOn.tables[table];
    if (!ref) continue;
    const manifest = await readManifest(lake.state, ref.manifest);
    const files = partition === undefined
      ? manifestFiles(manifest)
      : Object.values(manifest.partitions).filter((entry) => entry.values.job === partition).flatMap((entry) => entry.files);
    const kept = files.filter((file) => file.rows > 0);
    if (kept.length > 0) tables.push({ manifest, files: kept });
  }
  return tables;
}

/** Whether the job's records can be told apart as held: a `perRecord` job balanced on an append-only output keeping the landing record. */
function keepsLandingRecords(job: RunContext['job']): boolean {
  const output = job.outputs.find((spec) => spec.name === job.balance?.output);
  const names = new Set(output?.columns.map((column) => column.name));
  return job.perRecord === true && names.has(SOURCE_OBJECT_COLUMN) && names.has('record_index') && output?.writeMode === 'append';
}

/** Whether a file may hold a record of one of `keys` (sorted by their bytes): always, when it records no range. */
function mayHold(file: DataFile, keys: readonly Buffer[]): boolean {
  const range = file.sourceObjects;
  if (!range) return true;
  const min = Buffer.from(range.min);
  // The first key at or above the file's smallest.
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (Buffer.compare(keys[middle] as Buffer, min) < 0) low = middle + 1;
    else high = middle;
  }
  return low < keys.length && Buffer.compare(keys[low] as Buffer, Buffer.from(range.max)) <= 0;
}
