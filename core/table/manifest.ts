import { createHash } from 'node:crypto';
import type { TableName } from './table-spec.ts';

export interface DataFile {
  readonly key: string;
  readonly rows: number;
  readonly sizeBytes: number;
  /**
   * The columns the file holds (names and types, partition columns left out), as `fileSchema` prints them.
   * Readers skip the Parquet footers when every file of a version holds the table's columns; files written
   * before this was recorded have none, and their footers are read.
   */
  readonly schema?: string;
  /**
   * The smallest and largest `source_object` in the file, for tables whose rows carry the landing record they
   * came from: a run that re-reads landing objects looks for them only in files whose range holds their keys.
   * Left out when the table has no such column, the file was written before it was recorded, or the largest
   * key is longer than Parquet statistics keep whole.
   */
  readonly sourceObjects?: { readonly min: string; readonly max: string };
}

/** Files of one partition, e.g. key `ingest_date=2025-11-01` (the empty string for an unpartitioned table). */
export interface PartitionEntry {
  readonly values: Readonly<Record<string, string>>;
  readonly files: readonly DataFile[];
}

/**
 * The committed content of a table at one version: which files make it up. Files not listed here are
 * invisible, whatever lies in storage.
 */
export interface TableManifest {
  readonly table: TableName;
  /** Monotonic per table: 1 for the first commit. The commit sequence table bookmarks follow. */
  readonly version: number;
  /** The table's columns as committed; `origin` marks a column added by schema evolution (see ColumnSpec). */
  readonly columns: readonly { readonly name: string; readonly type: string; readonly origin?: string }[];
  readonly partitionBy: readonly string[];
  readonly partitions: Readonly<Record<string, PartitionEntry>>;
  readonly committedAt: string;
  readonly runId: string;
  /** The job whose run committed this version (absent in versions committed before it was recorded). */
  readonly job?: string;
  /**
   * How the version came from the one before: `append`, `replace_partitions`, `replace_all` (a run's write),
   * or `restore` (a version made current again). Absent in versions committed before it was recorded.
   */
  readonly operation?: string;
  /** The lake commit (root sequence) that made this version current; absent in versions committed before it was recorded. */
  readonly commitSeq?: number;
  /** The version this one was restored from (operation `restore`). */
  readonly restoredFrom?: number;
}

export function emptyManifest(table: TableName, columns: TableManifest['columns'], partitionBy: readonly string[]): TableManifest {
  return { table, version: 0, columns, partitionBy, partitions: {}, committedAt: new Date(0).toISOString(), runId: '' };
}

/** A short fingerprint of the columns a data file holds: its name and type of every non-partition column, in order. */
export function fileSchema(columns: readonly { readonly name: string; readonly type: string }[], partitionBy: readonly string[]): string {
  const stored = columns.filter((column) => !partitionBy.includes(column.name)).map((column) => [column.name, column.type]);
  return createHash('sha256').update(JSON.stringify(stored)).digest('hex').slice(0, 16);
}

/**
 * True when every non-empty file of the version records that it holds exactly the manifest's columns: then
 * no column reads as NULL for being missing and all files share one schema.
 */
export function filesHoldManifestColumns(manifest: TableManifest): boolean {
  const expected = fileSchema(manifest.columns, manifest.partitionBy);
  return manifestFiles(manifest).every((file) => file.rows === 0 || file.schema === expected);
}

export function manifestFiles(manifest: TableManifest): DataFile[] {
  return Object.values(manifest.partitions).flatMap((partition) => partition.files);
}

export function manifestRows(manifest: TableManifest): number {
  return manifestFiles(manifest).reduce((sum, file) => sum + file.rows, 0);
}

/** `a=1/b=x` for partition values in partition-column order; '' when unpartitioned. */
export function partitionKey(partitionBy: readonly string[], values: Readonly<Record<string, string>>): string {
  return partitionBy.map((column) => `${column}=${values[column] ?? ''}`).join('/');
}
