import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Engine, ResultRow } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import { JobDefinitionError } from '../errors.ts';
import type { ObjectInfo, StagingArea } from '../storage/index.ts';
import { fileSchema, partitionKey, type DataFile, type PartitionEntry } from './manifest.ts';
import type { TableSpec } from './table-spec.ts';

/** One table being written by a run: where it is staged and what each COPY into it reported. */
export interface OutputStage {
  /** The table as this run writes it (with columns schema evolution added). */
  spec: TableSpec;
  readonly area: StagingArea;
  readonly copies: ResultRow[];
}

/** The table's columns, each cast to its declared type (what COPY writes to Parquet). */
export function castColumns(spec: TableSpec): string {
  return spec.columns.map((column) => `${quoteIdentifier(column.name)}::${column.type} AS ${quoteIdentifier(column.name)}`).join(', ');
}

/** How a COPY into a partitioned stage may take its rows. */
export interface CopyOptions {
  /**
   * The rows already come grouped by partition (a `perRecord` job's rows, in landing key order, which is
   * arrival order): they are written as they come. Otherwise they are sorted by the partition columns first.
   */
  readonly clustered?: boolean;
  /** The columns the job's own SQL (`planSql`) must give, named when a COPY cannot bind: by default the table's. */
  readonly planColumns?: readonly string[];
}

/**
 * Writes `sql`'s rows as Parquet under the stage's folder (one sub-folder per partition); returns COPY's
 * per-file stats. `planSql` is the job's own SQL for the output (before the casts to the declared types),
 * for error messages.
 *
 * A partitioned COPY keeps a buffer per partition and writes a partition's rows when its buffer fills
 * (PARTITIONED_WRITE_FLUSH_ROWS): rows in no particular order (silver.tasks' events, by key after
 * deduplication, spread over 90 days) fill every buffer a little at a time, so each is written in many
 * small pieces while all are held. Sorted by the partition columns first, one partition fills at a time:
 * at 1M events silver.tasks' two partitioned outputs were written in 4.3 s instead of 8.5 s, the sort
 * included (`npm run bench`).
 */
export async function copyToStaging(engine: Engine, stage: OutputStage, sql: string, folder: string, planSql?: string, options: CopyOptions = {}): Promise<ResultRow[]> {
  try {
    return await copyRows(engine, stage, sql, folder, options);
  } catch (error) {
    // Say which declared columns the job's SQL lacks, rather than DuckDB's binder message about the first one.
    // Any other failure (the disk, the target folder) is DuckDB's own error, as it said it.
    if (planSql !== undefined && /^Binder Error/.test(error instanceof Error ? error.message : '')) {
      const described = await engine.query(`DESCRIBE ${planSql}`).then((result) => result.rows, () => []);
      const produced = new Set(described.map((row) => String(row.column_name)));
      const required = options.planColumns ?? stage.spec.columns.map((column) => column.name);
      const missing = described.length > 0 ? required.filter((column) => !produced.has(column)) : [];
      // DuckDB's own words go along: they name the column it could not bind.
      const said = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      if (missing.length > 0) throw new JobDefinitionError(stage.spec.name, `output lacks columns ${missing.join(', ')} (DuckDB: ${said})`, { cause: error });
    }
    throw error;
  }
}

async function copyRows(engine: Engine, stage: OutputStage, sql: string, folder: string, options: CopyOptions): Promise<ResultRow[]> {
  const base = folder ? path.join(stage.area.localDir, folder) : stage.area.localDir;
  const partitioned = stage.spec.partitionBy.length > 0;
  const target = partitioned ? base : path.join(base, 'data_0.parquet');
  const partitionColumns = stage.spec.partitionBy.map(quoteIdentifier).join(', ');
  const partitionOption = partitioned ? `, PARTITION_BY (${partitionColumns})` : '';
  const rowsSql = partitioned && !options.clustered ? `SELECT * FROM (${sql}) ORDER BY ${partitionColumns}` : sql;
  // DuckDB makes the target's own folder, not the folders above it (a batch's, for a copy into a folder of the batch).
  await mkdir(base, { recursive: true });
  const { rows } = await engine.query(`COPY (${rowsSql}) TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, RETURN_STATS true${partitionOption})`);
  return [...rows];
}

/**
 * Stores what a stage's COPYs wrote and returns the files by partition. Nothing is visible until the
 * commit lists them; files with no rows are left out.
 */
export async function persistStage(stage: OutputStage, persisted?: readonly ObjectInfo[]): Promise<Record<string, PartitionEntry>> {
  const stored = new Map((persisted ?? (await stage.area.persist())).map((object) => [object.key, object]));
  const partitions: Record<string, PartitionEntry> = {};
  // Every file of a stage holds the stage's columns: COPY writes them cast to the declared types.
  const schema = fileSchema(stage.spec.columns, stage.spec.partitionBy);
  const recordsSourceObjects = stage.spec.columns.some((column) => column.name === SOURCE_OBJECT_COLUMN && !stage.spec.partitionBy.includes(column.name));
  for (const row of stage.copies) {
    const count = Number(row.count);
    if (count === 0) continue;
    const relative = path.relative(stage.area.localDir, String(row.filename)).split(path.sep).join('/');
    const key = `${stage.area.prefix}${relative}`;
    const values: Record<string, string> = {};
    for (const entry of (row.partition_keys ?? []) as { key: string; value: string }[]) values[entry.key] = entry.value;
    const range = recordsSourceObjects ? sourceObjectRange(row.column_statistics) : undefined;
    const file: DataFile = { key, rows: count, sizeBytes: stored.get(key)?.sizeBytes ?? Number(row.file_size_bytes), schema, ...(range ? { sourceObjects: range } : {}) };
    const pkey = partitionKey(stage.spec.partitionBy, values);
    partitions[pkey] = { values, files: [...(partitions[pkey]?.files ?? []), file] };
  }
  return partitions;
}

/** The column naming the landing object a row came from (see DataFile.sourceObjects). */
export const SOURCE_OBJECT_COLUMN = 'source_object';

/**
 * DuckDB keeps string statistics of at most this many bytes: a longer minimum is cut (still a lower bound), a
 * longer maximum is cut and its last byte raised, an upper bound whose bytes may no longer be UTF-8 and so may
 * not survive the trip to a JavaScript string. A file whose largest key is this long records no range.
 */
const STATISTICS_STRING_BYTES = 256;

/** The min and max of `source_object` from the per-column statistics COPY's RETURN_STATS reports for a file. */
function sourceObjectRange(statistics: unknown): { min: string; max: string } | undefined {
  if (!Array.isArray(statistics)) return undefined;
  const column = statistics.find((entry: { key?: unknown }) => entry?.key === `"${SOURCE_OBJECT_COLUMN}"` || entry?.key === SOURCE_OBJECT_COLUMN) as { value?: unknown } | undefined;
  if (!column || !Array.isArray(column.value)) return undefined;
  const stat = (name: string) => (column.value as { key?: unknown; value?: unknown }[]).find((entry) => entry?.key === name)?.value;
  const min = stat('min');
  const max = stat('max');
  if (typeof min !== 'string' || typeof max !== 'string') return undefined;
  if (Buffer.byteLength(max) >= STATISTICS_STRING_BYTES) return undefined;
  return { min, max };
}

export function countRows(partitions: Record<string, PartitionEntry>): number {
  return Object.values(partitions).reduce((sum, entry) => sum + entry.files.reduce((acc, file) => acc + file.rows, 0), 0);
}

export async function countQuery(engine: Engine, sql: string): Promise<number> {
  const { rows } = await engine.query(`SELECT count(*) AS n FROM (${sql})`);
  return Number(rows[0]?.n ?? 0);
}
