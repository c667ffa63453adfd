import { z } from 'zod';
import { ConfigError, JobDefinitionError } from '../errors.ts';
import type { ColumnSpec, Layer, TableName, TableSpec } from '../table/index.ts';
import { layerOf } from '../table/index.ts';
import { landingPrefix } from '../layout/index.ts';
import { DEFAULT_LANDING_LIMITS, type LandingLimits } from '../landing/record-splitter.ts';
import { jobArgumentDeclarationProblems } from './job-arguments.ts';
import { markDefined } from './job-registry.ts';

/** Raw Firehose objects under a landing prefix, cut into records by the framework. */
export interface LandingSourceSpec {
  readonly kind: 'landing';
  /** e.g. `landing/tasks/` */
  readonly prefix: string;
  /** Width of the band of recent objects the bookmark remembers by key (default 15 minutes). */
  readonly bandMs?: number;
  /** What one object may hold before it is quarantined whole, unread (default DEFAULT_LANDING_LIMITS). */
  readonly limits?: LandingLimits;
}

/** A committed table of the lake. */
export interface TableSourceSpec {
  readonly kind: 'table';
  readonly table: TableName;
  /**
   * Read as committed, also in incremental runs: the source has no delta(name) or before(name), and
   * how it changed does not decide whether a run can be incremental. For a table the job only looks
   * up (a current-state table written in the same commit as the events it follows, say).
   */
  readonly snapshot?: boolean;
}

export type SourceSpec = LandingSourceSpec | TableSourceSpec;

export function landingSource(source: string, options: { bandMs?: number; limits?: Partial<LandingLimits> } = {}): LandingSourceSpec {
  const { maxObjectBytes, maxObjectRecords } = { ...DEFAULT_LANDING_LIMITS, ...options.limits };
  // A text is decoded into one buffer: past 1 GiB the limit would not bound memory, and past the largest
  // buffer every object would fail to decode.
  if (!Number.isSafeInteger(maxObjectBytes) || maxObjectBytes < 1 || maxObjectBytes > MAX_OBJECT_BYTES_LIMIT) {
    throw new ConfigError('LANDING_LIMITS_INVALID', `landing source ${source}: maxObjectBytes ${maxObjectBytes} is not a whole number of bytes from 1 to ${MAX_OBJECT_BYTES_LIMIT} (1 GiB)`);
  }
  if (!Number.isSafeInteger(maxObjectRecords) || maxObjectRecords < 1) {
    throw new ConfigError('LANDING_LIMITS_INVALID', `landing source ${source}: maxObjectRecords ${maxObjectRecords} is not a whole number of at least 1`);
  }
  return {
    kind: 'landing',
    prefix: landingPrefix(source),
    ...(options.bandMs === undefined ? {} : { bandMs: options.bandMs }),
    ...(options.limits === undefined ? {} : { limits: { ...DEFAULT_LANDING_LIMITS, ...options.limits } }),
  };
}

export function tableSource(table: TableName, options: { snapshot?: boolean } = {}): TableSourceSpec {
  return { kind: 'table', table, ...(options.snapshot ? { snapshot: true } : {}) };
}

const MAX_OBJECT_BYTES_LIMIT = 1024 ** 3;

/** What a transform can refer to. Relation names come back quoted, ready to drop into SQL. */
export interface TransformContext {
  readonly jobName: string;
  readonly runId: string;
  /**
   * `full` when the run reads all of its input; `incremental` when the job declared `incremental`, its
   * bookmark is set and its table sources only grew since: then `delta(name)` holds the rows added to
   * source `name` since the bookmark and `before(name)` the rows it had then (`beforeMatching` looks a few up).
   */
  readonly mode: 'full' | 'incremental';
  /** When the run started; use it (not `now()`) so one run stamps one time. */
  readonly startedAt: Date;
  readonly args: Readonly<Record<string, string>>;
  /** Relation holding source `name`. Landing sources have LANDING_RECORD_COLUMNS. */
  input(name: string): string;
  /** Relation holding an earlier step's rows. */
  step(name: string): string;
  /** Incremental mode: rows added to table source `name` since the job's bookmark. */
  delta(name: string): string;
  /** Incremental mode: rows table source `name` held when the bookmark was committed. */
  before(name: string): string;
  /**
   * Incremental mode: the rows of `before(name)` whose `column` (a column name) is among `keys` (SQL giving one
   * column), as `SELECT * FROM before(name) WHERE column IN (keys)` gives them (a NULL matches nothing), but
   * read from only the files that hold one: a filter on `before(name)` reads the columns it uses from every
   * file, this reads `column` from every file and the rest from those few. The way to find the earlier rows a
   * delta's keys match in a large table. `keys` is read twice, so it must give the same rows both times.
   *
   * @example
   * `SELECT * FROM ${beforeMatching('bronze', 'event_id', `SELECT event_id FROM ${delta('bronze')}`)}`
   */
  beforeMatching(name: string, column: string, keys: string): string;
  /** This job's own output table as last committed (empty when it has none yet). */
  previous(table: TableName): string;
  /**
   * An output's columns for this run: the declared ones and those schema evolution added (by earlier runs,
   * or by this one's `evolve` SQL), partition columns last.
   */
  columns(table: TableName): readonly ColumnSpec[];
}

/** A named intermediate result of a plan, referred to with `step(name)` by later steps and the outputs. */
export interface PlanStep {
  readonly name: string;
  readonly sql: string;
  /**
   * Made as a view instead of a table: nothing is copied, and every reader runs `sql` again. For a step
   * that only filters or renames an earlier one: at 10M events, copying silver's effective events out of
   * the typed ones cost 9 s of a spilling write, and the filter costs nothing to repeat. Its SQL must give
   * the same rows on every read (no random(), now(), or LIMIT without a full ORDER BY): a quality gate at
   * the step checks one read and the outputs write another. When the gate sets rows aside, the step
   * becomes a table of the rows that passed.
   */
  readonly view?: boolean;
}

/**
 * A job's plan: SQL the runner executes. Steps run first, in order, each materialized once (or made a view);
 * every output must return exactly the columns its table declares.
 */
export interface JobPlan {
  readonly steps?: readonly PlanStep[];
  readonly outputs: Readonly<Partial<Record<TableName, string>>>;
  /** Rows to quarantine, with columns source_object, record_index, reason_code, reason, raw. */
  readonly quarantine?: string;
  /** Rows dropped because an equal row was kept (counted, not stored). */
  readonly duplicates?: string;
  /** Incremental mode: outputs whose rows are added to the table (the rest replace it, see replacePartitions). */
  readonly appendTo?: readonly TableName[];
  /**
   * Partitioned outputs whose rows already come nearly grouped by partition, written as they come instead
   * of sorted by partition first (silver's events come in runs of the bronze files they were typed from,
   * which bronze writes in landing time order: at 10M events, 10.7 s against 15.4 s sorted). Rows out of
   * order are still written right, but in more and smaller pieces, with a buffer held for every partition
   * they touch (see copyToStaging): only for rows that mostly are in order.
   */
  readonly clustered?: readonly TableName[];
  /**
   * Incremental mode, for a partitioned output not in appendTo: SQL returning the partitions (one column
   * per partition column) the output's rows replace; each becomes exactly the output's rows for it, empty
   * when there are none, and every other partition stays as committed. Without it the output replaces
   * the whole table.
   */
  readonly replacePartitions?: Readonly<Partial<Record<TableName, string>>>;
  /**
   * Incremental mode: SQL that returns a row when this run cannot be incremental; the runner then plans
   * and runs it in full. Evaluated after the steps, so it may read them.
   */
  readonly needsFullRun?: string;
  /**
   * Schema evolution: per output, SQL (run after the steps) returning columns to add, as rows (name, type,
   * origin, description). Columns the table already has are ignored; when any is new, the runner plans the
   * run again (`columns()` then includes it) and runs its steps again, and the table keeps it from then on.
   * Not for perRecord jobs.
   */
  readonly evolve?: Readonly<Partial<Record<TableName, string>>>;
  /**
   * Per output: the step whose rows are exactly that output's rows (its SQL is `SELECT * FROM` the step, or
   * a projection of it: the step may carry columns of its own, which the quarantine's copy of a row leaves
   * out). The output's quarantine rules are applied to the step as soon as it is made, so every later step
   * and output reads only the rows that passed, and what they set aside goes to the quarantine: required
   * for an output other outputs derive from (see JobSpec.derivedOutputs).
   */
  readonly gateAt?: Readonly<Partial<Record<TableName, string>>>;
}

export interface JobSpec<Sources extends Record<string, SourceSpec> = Record<string, SourceSpec>> {
  /** `layer.name`, e.g. `silver.tasks`. */
  readonly name: string;
  readonly description: string;
  readonly sources: Sources;
  readonly outputs: readonly TableSpec[];
  /**
   * Reconciliation the runner enforces on every run: rows read from `input` equal rows written to
   * `output` plus rows quarantined plus duplicates. A run that breaks it fails and commits nothing.
   */
  readonly balance?: { readonly input: keyof Sources & string; readonly output: TableName };
  /**
   * The transform looks at one landing record at a time (no joins, windows or aggregates across
   * records), so the runner may feed it its landing input in batches: memory stays bounded however
   * much has landed. Only for jobs whose one source is a landing source.
   */
  readonly perRecord?: boolean;
  /**
   * The transform also handles `mode: 'incremental'` (see TransformContext), so a bookmarked run whose
   * table sources only grew reads just what they gained.
   */
  readonly incremental?: boolean;
  /** Job arguments (`--name value`) with their defaults. */
  readonly defaultArguments?: Readonly<Record<string, string>>;
  /**
   * Outputs computed from another output's rows, each naming that source output (`silver.tasks` and
   * `silver.tasks_history` from `silver.task_events`). The source's quarantine rules are applied where its
   * rows are made (the plan's `gateAt` step), so a row they set aside is out of every table; a quarantine
   * rule on a derived output is refused (it would take a row out of it and not out of its source): use
   * `warn` or `fail` there, or put the rule on the source.
   */
  readonly derivedOutputs?: Readonly<Partial<Record<TableName, TableName>>>;
  transform(context: TransformContext): JobPlan;
}

/** A checked job, as the runner and the job registry see it. */
export interface Job extends Omit<JobSpec, 'balance'> {
  readonly layer: Layer;
  readonly balance?: { readonly input: string; readonly output: TableName };
}

const JobNameSchema = z.string().regex(/^(bronze|silver|gold)\.[a-z][a-z0-9_]*$/, 'must be bronze|silver|gold.<snake_case>');

/**
 * Declares a job. Checked when its module loads: every problem is listed in one error.
 *
 * @example
 * export default defineJob({
 *   name: 'gold.tasks_per_user',
 *   description: 'Open tasks per user.',
 *   sources: { tasks: tableSource('silver.tasks') },
 *   outputs: [tasksPerUser],
 *   transform: ({ input }) => ({
 *     outputs: { 'gold.tasks_per_user': `SELECT user_id, count(*) AS open_tasks FROM ${input('tasks')} WHERE status <> 'done' GROUP BY ALL` },
 *   }),
 * });
 */
export function defineJob<Sources extends Record<string, SourceSpec>>(spec: JobSpec<Sources>): Job {
  const problems: string[] = [];
  const name = JobNameSchema.safeParse(spec.name);
  if (!name.success) problems.push(`name ${JSON.stringify(spec.name)} ${name.error.issues[0]?.message ?? 'is not valid'}`);
  if (Object.keys(spec.sources).length === 0) problems.push('it reads no source');
  if (spec.outputs.length === 0) problems.push('it writes no table');
  const layer = spec.name.split('.')[0] as Layer;
  for (const output of spec.outputs) {
    if (layerOf(output.name) !== layer) problems.push(`a ${layer} job cannot write ${output.name}`);
  }
  for (const [sourceName, source] of Object.entries(spec.sources)) {
    if (!/^[a-z][a-z0-9_]*$/.test(sourceName)) problems.push(`source name ${sourceName} must be snake_case`);
    if (source.kind === 'table' && spec.outputs.some((output) => output.name === source.table)) {
      problems.push(`it reads and writes ${source.table}`);
    }
  }
  problems.push(...jobArgumentDeclarationProblems(spec.defaultArguments ?? {}));
  if (spec.perRecord && (Object.keys(spec.sources).length !== 1 || Object.values(spec.sources)[0]?.kind !== 'landing')) {
    problems.push('perRecord needs exactly one source, a landing source');
  }
  if (spec.incremental && !Object.values(spec.sources).some((source) => source.kind === 'table' && !source.snapshot)) {
    problems.push('incremental needs a table source that is not a snapshot');
  }
  if (spec.balance) {
    if (!(spec.balance.input in spec.sources)) problems.push(`balance names unknown input ${spec.balance.input}`);
    if (!spec.outputs.some((output) => output.name === spec.balance?.output)) problems.push(`balance names unknown output ${spec.balance.output}`);
  }
  const outputNames = new Set<string>(spec.outputs.map((output) => output.name));
  for (const [derived, source] of Object.entries(spec.derivedOutputs ?? {})) {
    if (!outputNames.has(derived)) problems.push(`derivedOutputs names ${derived}, which is not an output`);
    if (source === undefined || !outputNames.has(source)) problems.push(`derivedOutputs derives ${derived} from ${String(source)}, which is not an output`);
    else if (spec.derivedOutputs?.[source] !== undefined) problems.push(`derivedOutputs derives ${derived} from ${source}, which is itself derived`);
  }
  if (problems.length > 0) {
    throw new JobDefinitionError(spec.name, problems.join('; '));
  }
  return Object.freeze(markDefined({ ...spec, layer })) as Job;
}
