import { quoteIdentifier, quoteLiteral } from '../../engine/index.ts';
import type { ObjectInfo } from '../../storage/index.ts';
import { manifestFiles, QUARANTINE_TABLE, SOURCE_OBJECT_COLUMN, type DataFile, type TableManifest } from '../../table/index.ts';
import { readManifest } from '../../state/state-documents.ts';
import { attachFiles } from '../run-inputs.ts';
import { selectQuarantined } from '../quarantine-selection.ts';

/** The engine table of the records a quarantine replay re-offers (see RunOptions.replayQuarantine). */
export const REPLAYED_RECORDS = 'replayed_records';
/** The engine table of the re-offered records a replay actually read (their landing objects were there). */
export const OFFERED_RECORDS = 'offered_records';
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
    if (reads.replay) {
      // Every record of the objects read is the job's already (a row or quarantined), but those re-offered.
      await selectQuarantined(lake, run.engine, reads.basedOn, job.name, reads.replay, REPLAYED_RECORDS);
      await run.engine.run(`CREATE OR REPLACE TEMP TABLE ${OFFERED_RECORDS} (${SOURCE_OBJECT_COLUMN} VARCHAR, record_index BIGINT)`);
      return new HeldRecords(run, [], REPLAYED_RECORDS);
    }
    const balance = job.balance;
    if (!job.perRecord || !balance || !reads.readsSubset) return undefined;
    const output = job.outputs.find((spec) => spec.name === balance.output);
    const names = new Set(output?.columns.map((column) => column.name));
    if (!names.has(SOURCE_OBJECT_COLUMN) || !names.has('record_index')) return undefined;
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
    return tables.length > 0 ? new HeldRecords(run, tables) : undefined;
  }

  /**
   * Makes `input` the records of `landing` (a batch of `objects`) that the job does not hold yet; returns
   * how many it holds. Reads only the files whose recorded range of source objects holds a key of the batch.
   */
  async exclude(objects: readonly ObjectInfo[], landing: string, input: string): Promise<number> {
    const { engine } = this.run;
    if (this.range) {
      await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)}`);
      await engine.run(`INSERT INTO ${OFFERED_RECORDS} SELECT ${SOURCE_OBJECT_COLUMN}, record_index FROM ${quoteIdentifier(input)}`);
      return 0;
    }
    if (this.replay) {
      const using = `USING (${SOURCE_OBJECT_COLUMN}, record_index)`;
      await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)} SEMI JOIN ${quoteIdentifier(this.replay)} ${using}`);
      await engine.run(`INSERT INTO ${OFFERED_RECORDS} SELECT ${SOURCE_OBJECT_COLUMN}, record_index FROM ${quoteIdentifier(input)}`);
      const { rows } = await engine.query(`SELECT (SELECT count(*) FROM ${quoteIdentifier(landing)}) - (SELECT count(*) FROM ${quoteIdentifier(input)}) AS n`);
      return Number(rows[0]?.n ?? 0);
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
    const parts: string[] = [];
    const releases: (() => Promise<void>)[] = [];
    try {
      for (const [index, { manifest, files }] of candidates.entries()) {
        const view = `${input}_held_${index}`;
        releases.push(await attachFiles(this.run.lake, engine, manifest, files, view));
        parts.push(`SELECT ${SOURCE_OBJECT_COLUMN}, record_index FROM ${quoteIdentifier(view)} WHERE ${SOURCE_OBJECT_COLUMN} BETWEEN ${quoteLiteral(first)} AND ${quoteLiteral(last)}`);
      }
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${held} AS SELECT DISTINCT * FROM (${parts.join(' UNION ALL ')})`);
    } finally {
      for (const release of releases) await release();
    }
    const { rows } = await engine.query(`SELECT count(*) AS n FROM ${quoteIdentifier(landing)} SEMI JOIN ${held} USING (${SOURCE_OBJECT_COLUMN}, record_index)`);
    const count = Number(rows[0]?.n ?? 0);
    if (count === 0) {
      await passThrough();
      return 0;
    }
    await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(input)} AS SELECT * FROM ${quoteIdentifier(landing)} ANTI JOIN ${held} USING (${SOURCE_OBJECT_COLUMN}, record_index)`);
    return count;
  }
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
