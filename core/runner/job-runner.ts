import { tableRelation } from '../catalog/index.ts';
import type { Engine, ResultRow } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import { JobDefinitionError, JobRunError, MedallionError } from '../errors.ts';
import type { Job, JobPlan, SourceSpec, TransformContext } from '../job/index.ts';
import { loadLandingRecords } from '../landing/index.ts';
import type { Lake } from '../lake.ts';
import type { MetricDatum } from '../metrics/index.ts';
import type { LakeRoot } from '../state/index.ts';
import type { LocalFiles, ObjectInfo, StagingArea } from '../storage/index.ts';
import {
  commitTables, manifestFiles, partitionKey, tablePrefix,
  type DataFile, type PartitionEntry, type TableManifest, type TableSpec, type TableWrite,
} from '../table/index.ts';
import { QUARANTINE_TABLE } from './quarantine-table.ts';
import { newRunId } from './run-id.ts';

export interface RunOptions {
  readonly runId?: string;
  readonly args?: Readonly<Record<string, string>>;
  readonly now?: () => Date;
}

export interface JobRunResult {
  readonly job: string;
  readonly runId: string;
  readonly state: 'SUCCEEDED';
  readonly startedAt: string;
  readonly completedAt: string;
  readonly elapsedMs: number;
  readonly recordsRead: number;
  readonly bytesRead: number;
  readonly recordsWritten: Readonly<Record<string, number>>;
  readonly recordsQuarantined: number;
  readonly recordsDuplicated: number;
  /** The root sequence the run committed. */
  readonly commitSeq: number;
}

interface LoadedInput {
  readonly relation: string;
  readonly rows: number;
  readonly bytes: number;
  readonly release: () => Promise<void>;
}

/**
 * Runs one job: reads its sources, executes its SQL in a fresh engine, stages the outputs as Parquet,
 * then commits tables, quarantine rows and (later) bookmarks in one atomic step. A failure at any
 * point leaves the lake as it was and removes what the run staged.
 */
export async function runJob(lake: Lake, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const runId = options.runId ?? newRunId(startedAt);
  const engine = await lake.createEngine();
  const staged: StagingArea[] = [];
  const inputs = new Map<string, LoadedInput>();
  let committed = false;
  try {
    const basedOn = await lake.state.readRoot();
    for (const [name, source] of Object.entries(job.sources)) {
      inputs.set(name, await loadInput(lake, engine, basedOn, name, source));
    }
    const context = transformContext(job, runId, startedAt, options.args ?? {}, inputs);
    const plan = job.transform(context);
    await checkPlan(engine, job, plan);

    for (const step of plan.steps ?? []) {
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdentifier(`step_${step.name}`)} AS ${step.sql}`);
    }

    const writes: TableWrite[] = [];
    const recordsWritten: Record<string, number> = {};
    for (const spec of job.outputs) {
      const sql = plan.outputs[spec.name] as string;
      const area = await lake.storage.createStagingArea(`${tablePrefix(spec.name)}${runId}`);
      staged.push(area);
      const partitions = await stageTable(engine, area, spec, `SELECT ${castColumns(spec)} FROM (${sql})`);
      recordsWritten[spec.name] = countRows(partitions);
      writes.push({ spec, kind: 'replace_all', partitions });
    }

    let recordsQuarantined = 0;
    {
      const area = await lake.storage.createStagingArea(`${tablePrefix(QUARANTINE_TABLE.name)}${runId}`);
      staged.push(area);
      const partitions = plan.quarantine
        ? await stageTable(engine, area, QUARANTINE_TABLE, `
            SELECT ${quoteLiteral(job.layer)} AS layer, source_object::VARCHAR AS source_object, record_index::BIGINT AS record_index,
                   reason_code::VARCHAR AS reason_code, reason::VARCHAR AS reason, raw::VARCHAR AS raw, ${quoteLiteral(runId)} AS run_id,
                   ${timestampLiteral(startedAt)} AS quarantined_at, ${quoteLiteral(job.name)} AS job
            FROM (${plan.quarantine})`)
        : {};
      recordsQuarantined = countRows(partitions);
      // This run read all its input, so its quarantine replaces what earlier runs of the job left there.
      const ownPartition = partitionKey(QUARANTINE_TABLE.partitionBy, { job: job.name });
      writes.push({
        spec: QUARANTINE_TABLE,
        kind: 'replace_partitions',
        partitions: { [ownPartition]: partitions[ownPartition] ?? { values: { job: job.name }, files: [] } },
      });
    }

    const recordsDuplicated = plan.duplicates ? await countQuery(engine, plan.duplicates) : 0;
    if (job.balance) {
      const read = inputs.get(job.balance.input)?.rows ?? 0;
      const written = recordsWritten[job.balance.output] ?? 0;
      if (read !== written + recordsQuarantined + recordsDuplicated) {
        throw new MedallionError(
          'RECONCILIATION_FAILED',
          `job ${job.name} read ${read} rows from ${job.balance.input} but accounted for ${written + recordsQuarantined + recordsDuplicated} ` +
            `(${written} written to ${job.balance.output}, ${recordsQuarantined} quarantined, ${recordsDuplicated} duplicates); nothing was committed`,
          { hint: 'a row was lost or doubled by the job SQL: every input row must be written, quarantined or counted as a duplicate' },
        );
      }
    }

    const { root } = await commitTables(lake.state, { runId, basedOn, writes, now });
    committed = true;
    const completedAt = now();
    const result: JobRunResult = {
      job: job.name,
      runId,
      state: 'SUCCEEDED',
      startedAt: startedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      elapsedMs: completedAt.getTime() - startedAt.getTime(),
      recordsRead: [...inputs.values()].reduce((sum, input) => sum + input.rows, 0),
      bytesRead: [...inputs.values()].reduce((sum, input) => sum + input.bytes, 0),
      recordsWritten,
      recordsQuarantined,
      recordsDuplicated,
      commitSeq: root.seq,
    };
    await lake.catalog.publish(root);
    await lake.metrics.emit(runMetrics(result, completedAt.getTime()));
    return result;
  } catch (error) {
    if (error instanceof MedallionError) throw error;
    throw new JobRunError(job.name, runId, error instanceof Error ? error.message : String(error), { cause: error });
  } finally {
    await Promise.all([...inputs.values()].map((input) => input.release()));
    await Promise.all(staged.map((area) => area.dispose({ discardStored: !committed })));
    engine.close();
  }
}

async function loadInput(lake: Lake, engine: Engine, root: LakeRoot, name: string, source: SourceSpec): Promise<LoadedInput> {
  const relation = quoteIdentifier(`input_${name}`);
  if (source.kind === 'landing') {
    const objects: ObjectInfo[] = [];
    for await (const object of lake.storage.list(source.prefix)) objects.push(object);
    const loaded = await loadLandingRecords(engine, lake.storage, objects, `input_${name}`);
    return { relation, rows: loaded.records, bytes: loaded.bytesRead, release: async () => undefined };
  }
  const ref = root.tables[source.table];
  if (!ref) {
    throw new MedallionError('SOURCE_TABLE_MISSING', `source table ${source.table} has no committed version yet`, {
      hint: `run the job that writes ${source.table} first, or use \`medallion run --all\``,
    });
  }
  const manifest = await lake.state.getDocument<TableManifest>(ref.manifest);
  const { sql, files } = await tableRelation(engine, lake.storage, manifest);
  await engine.run(`CREATE OR REPLACE TEMP VIEW ${relation} AS SELECT * FROM ${sql}`);
  const rows = manifestFiles(manifest).reduce((sum, file) => sum + file.rows, 0);
  const bytes = manifestFiles(manifest).reduce((sum, file) => sum + file.sizeBytes, 0);
  return { relation, rows, bytes, release: () => releaseFiles(files) };
}

async function releaseFiles(files: LocalFiles): Promise<void> {
  await files.release();
}

function transformContext(
  job: Job,
  runId: string,
  startedAt: Date,
  args: Readonly<Record<string, string>>,
  inputs: ReadonlyMap<string, LoadedInput>,
): TransformContext {
  return {
    jobName: job.name,
    runId,
    mode: 'full',
    startedAt,
    args: { ...(job.defaultArguments ?? {}), ...args },
    input(name) {
      const input = inputs.get(name);
      if (!input) throw new JobDefinitionError(job.name, `transform asks for input ${name}, but the job's sources are ${[...inputs.keys()].join(', ')}`);
      return input.relation;
    },
    step(name) {
      return quoteIdentifier(`step_${name}`);
    },
  };
}

/** Checks, before running anything, that every output's SQL returns exactly its table's columns. */
async function checkPlan(engine: Engine, job: Job, plan: JobPlan): Promise<void> {
  const problems: string[] = [];
  for (const spec of job.outputs) {
    if (plan.outputs[spec.name] === undefined) problems.push(`no SQL for output ${spec.name}`);
  }
  for (const name of Object.keys(plan.outputs)) {
    if (!job.outputs.some((spec) => spec.name === name)) problems.push(`SQL for ${name}, which is not a declared output`);
  }
  if (problems.length > 0) throw new JobDefinitionError(job.name, problems.join('; '));
}

async function describeColumns(engine: Engine, sql: string): Promise<string[]> {
  const { rows } = await engine.query(`DESCRIBE SELECT * FROM (${sql})`);
  return rows.map((row: ResultRow) => String(row.column_name));
}

function castColumns(spec: TableSpec): string {
  return spec.columns.map((column) => `${quoteIdentifier(column.name)}::${column.type} AS ${quoteIdentifier(column.name)}`).join(', ');
}

function timestampLiteral(date: Date): string {
  return `make_timestamp(${date.getTime() * 1000}::BIGINT)`;
}

/**
 * Writes `sql`'s rows as Parquet under the staging area, one folder per partition, and stores them.
 * Returns the files by partition; nothing is visible until the commit lists them.
 */
async function stageTable(engine: Engine, area: StagingArea, spec: TableSpec, sql: string): Promise<Record<string, PartitionEntry>> {
  const produced = await describeColumns(engine, sql);
  const missing = spec.columns.filter((column) => !produced.includes(column.name)).map((column) => column.name);
  if (missing.length > 0) throw new JobDefinitionError(spec.name, `output lacks columns ${missing.join(', ')}`);

  const partitioned = spec.partitionBy.length > 0;
  const target = partitioned ? area.localDir : `${area.localDir}/data_0.parquet`;
  const partitionOption = partitioned ? `, PARTITION_BY (${spec.partitionBy.map(quoteIdentifier).join(', ')})` : '';
  const { rows } = await engine.query(
    `COPY (${sql}) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd, RETURN_STATS true${partitionOption})`,
  );
  const stored = new Map((await area.persist()).map((object) => [object.key, object]));
  const partitions: Record<string, PartitionEntry> = {};
  for (const row of rows) {
    const count = Number(row.count);
    if (count === 0) continue;
    const localPath = String(row.filename);
    const relative = localPath.slice(area.localDir.length).replace(/^[\\/]+/, '').split(/[\\/]/).join('/');
    const key = `${area.prefix}${relative}`;
    const values: Record<string, string> = {};
    for (const entry of (row.partition_keys ?? []) as { key: string; value: string }[]) values[entry.key] = entry.value;
    const file: DataFile = { key, rows: count, sizeBytes: stored.get(key)?.sizeBytes ?? Number(row.file_size_bytes) };
    const pkey = partitionKey(spec.partitionBy, values);
    const existing = partitions[pkey];
    partitions[pkey] = { values, files: [...(existing?.files ?? []), file] };
  }
  return partitions;
}

function countRows(partitions: Record<string, PartitionEntry>): number {
  return Object.values(partitions).reduce((sum, entry) => sum + entry.files.reduce((acc, file) => acc + file.rows, 0), 0);
}

async function countQuery(engine: Engine, sql: string): Promise<number> {
  const { rows } = await engine.query(`SELECT count(*) AS n FROM (${sql})`);
  return Number(rows[0]?.n ?? 0);
}

/** Glue's job metric names, plus the record accounting Glue does not have. */
export function runMetrics(result: JobRunResult, timestampMs: number): MetricDatum[] {
  const dimensions = { JobName: result.job, JobRunId: result.runId, Type: 'count' };
  const gauge = { JobName: result.job, JobRunId: result.runId, Type: 'gauge' };
  const written = Object.values(result.recordsWritten).reduce((sum, value) => sum + value, 0);
  return [
    { name: 'glue.driver.aggregate.recordsRead', value: result.recordsRead, unit: 'Count', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.bytesRead', value: result.bytesRead, unit: 'Bytes', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.elapsedTime', value: result.elapsedMs, unit: 'Milliseconds', dimensions: gauge, timestampMs },
    { name: 'medallion.job.recordsWritten', value: written, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsQuarantined', value: result.recordsQuarantined, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsDuplicated', value: result.recordsDuplicated, unit: 'Count', dimensions, timestampMs },
  ];
}

