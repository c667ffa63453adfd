import type { UnreadableEntry } from './read-plan.ts';
import { quoteIdentifier } from '../../engine/index.ts';
import type { JobPlan } from '../../job/index.ts';
import { withAddedColumns, type TableManifest, type TableSpec } from '../../table/index.ts';
import { attachFiles, attachPrevious, attachTableInput, tableDeltas, type TableDelta } from '../run-inputs.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';
import { readManifest } from '../../state/state-documents.ts';

/** Rows and bytes a run read, in total and per source (what the balance check and the metrics use). */
export class ReadCounts {
  readonly rowsOf = new Map<string, number>();
  recordsRead = 0;
  bytesRead = 0;
  /** Landing records read that the job's tables already hold: skipped (see HeldRecords). */
  alreadyHeld = 0;
  /** Landing objects that could not be fetched (permissions, gone since the listing): set aside, not read. */
  readonly setAside: UnreadableEntry[] = [];

  add(source: string, rows: number, bytes: number): void {
    this.rowsOf.set(source, (this.rowsOf.get(source) ?? 0) + rows);
    this.recordsRead += rows;
    this.bytesRead += bytes;
  }

  /** Source `source` turned out to hold `rows` in all (an incremental run that falls back to a full one). */
  recount(source: string, rows: number): void {
    this.recordsRead += rows - (this.rowsOf.get(source) ?? 0);
    this.rowsOf.set(source, rows);
  }
}

/** The run's table inputs, attached to its engine, and its outputs as this run writes them. */
export interface RunInputs {
  /** What each table source gained since the bookmark, when the run can be incremental. */
  readonly deltas: ReadonlyMap<string, TableDelta> | undefined;
  /** Each output with the columns schema evolution added (in earlier runs, or in this one). */
  readonly specs: Map<string, TableSpec>;
  readonly counts: ReadCounts;
  /** Attaches the delta and before views a plan reads, once (a job may read only the delta, or neither). */
  attachAskedFor(plan: JobPlan): Promise<void>;
  /** Attaches `previous(table)` for every output again, with the columns `specs` has now, when a plan reads it. */
  attachPrevious(): Promise<void>;
}

/**
 * Attaches the run's table sources (as views `input_<name>`), the job's own outputs as last committed
 * (`previous_<layer>_<table>`) and, for an incremental job, what its sources gained since its bookmark.
 */
export async function openTableInputs(run: RunContext, reads: ReadPlan): Promise<RunInputs> {
  const { lake, job, engine } = run;
  const { basedOn, since } = reads;
  const counts = new ReadCounts();
  const deltas = job.incremental && since ? await tableDeltas(lake, job, basedOn, since) : undefined;
  const deltaViews = new Map<string, () => Promise<() => Promise<void>>>();
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'table') continue;
    const loaded = await attachTableInput(lake, engine, basedOn, name, source.table);
    run.defer(loaded.release);
    const delta = deltas?.get(name);
    if (delta) {
      deltaViews.set(`delta_${name}`, () => attachFiles(lake, engine, delta.manifest, delta.added, `delta_${name}`));
      deltaViews.set(`before_${name}`, () => attachFiles(lake, engine, delta.manifest, delta.before, `before_${name}`));
      deltaViews.set(locatedViewName(name), () => attachFiles(lake, engine, delta.manifest, delta.before, locatedViewName(name), { fileColumn: SOURCE_FILE_COLUMN }));
      counts.add(name, delta.added.reduce((sum, file) => sum + file.rows, 0), delta.added.reduce((sum, file) => sum + file.sizeBytes, 0));
    } else {
      counts.add(name, loaded.rows, loaded.bytes);
    }
  }

  // The job's own outputs as last committed, attached only when a plan reads them: a run that recomputes
  // everything never opens them, so a lost file of its last version does not stop the run that rebuilds it.
  // A full refresh reads them as empty.
  const previousViews = new Map<string, () => Promise<() => Promise<void>>>();
  const registerPrevious = () => {
    for (const spec of job.outputs) {
      const current = specs.get(spec.name) as TableSpec;
      previousViews.set(previousViewName(spec.name), () => attachPrevious(lake, engine, run.options.fullRefresh ? { ...basedOn, tables: {} } : basedOn, current));
    }
  };
  const specs = new Map<string, TableSpec>();
  for (const spec of job.outputs) {
    const ref = basedOn.tables[spec.name];
    const committed = ref ? (await readManifest(lake.state, ref.manifest)).columns : [];
    const evolved = committed.filter((column) => column.origin !== undefined && !spec.columns.some((own) => own.name === column.name));
    specs.set(spec.name, withAddedColumns(spec, evolved));
  }
  const inputs: RunInputs = {
    deltas,
    specs,
    counts,
    async attachAskedFor(plan) {
      const text = planText(plan);
      for (const views of [deltaViews, previousViews]) {
        for (const [view, attach] of views) {
          if (!text.includes(quoteIdentifier(view))) continue;
          views.delete(view);
          run.defer(await attach());
        }
      }
    },
    async attachPrevious() {
      registerPrevious();
    },
  };
  registerPrevious();
  return inputs;
}

/**
 * The view under `beforeMatching(name, ...)`: `before(name)` with each row's file (SOURCE_FILE_COLUMN). Named
 * with a character no source name has, so it is never another source's `before_<name>`.
 */
export function locatedViewName(name: string): string {
  return `before:${name}:located`;
}

/** The column of a located view naming the file a row is read from. */
export const SOURCE_FILE_COLUMN = '__source_file';

/** The view `previous(table)` names. */
function previousViewName(table: string): string {
  return `previous_${table.replace('.', '_')}`;
}

/** Every piece of SQL in a plan, joined: what the relations it reads are looked up in. */
function planText(plan: JobPlan): string {
  const texts: string[] = [];
  const collect = (value: unknown) => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(plan);
  return texts.join('\n');
}
