import { literalList, quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { TableManifest } from './manifest.ts';
import { filesHoldManifestColumns, manifestFiles } from './manifest.ts';

/**
 * The DuckDB relation that reads one committed table version from local file paths, every column cast to
 * its declared type. `columnsInFiles`, when given, are the columns the files hold: a declared column none of them has (one
 * added to the table after they were written) reads as NULL, as a new column of an old partition should.
 */
export function tableVersionSql(manifest: TableManifest, localPaths: ReadonlyMap<string, string>, columnsInFiles?: ReadonlySet<string>, fileColumn?: string): string {
  const files = manifestFiles(manifest).filter((file) => file.rows > 0);
  // The local path of the file each row is read from, when asked for (a lookup reads only the files it needs).
  // A table with a column named filename hides DuckDB's: every row then says '' (no file is skipped).
  const ownFilename = manifest.columns.some((column) => column.name === 'filename');
  const file = fileColumn === undefined ? '' : `, ${ownFilename ? "''::VARCHAR" : 'filename'} AS ${quoteIdentifier(fileColumn)}`;
  const stored = (name: string) => !columnsInFiles || columnsInFiles.has(name) || manifest.partitionBy.includes(name);
  const columnList = manifest.columns
    .map((column) => `${stored(column.name) ? quoteIdentifier(column.name) : 'NULL'}::${column.type} AS ${quoteIdentifier(column.name)}`)
    .join(', ');
  if (files.length === 0) {
    const none = fileColumn === undefined ? '' : `, NULL::VARCHAR AS ${quoteIdentifier(fileColumn)}`;
    return `(SELECT ${manifest.columns.map((column) => `NULL::${column.type} AS ${quoteIdentifier(column.name)}`).join(', ')}${none} WHERE false)`;
  }
  const paths = files.map((file) => {
    const local = localPaths.get(file.key);
    if (local === undefined) throw new Error(`no local copy of ${file.key}`);
    return local;
  });
  const partitioned = manifest.partitionBy.length > 0;
  const only = partitioned && files.length === 1 ? Object.values(manifest.partitions).find((entry) => entry.files.some((file) => file.rows > 0)) : undefined;
  if (only) {
    // One file: its partition values are spelled out. (DuckDB 1.5.5 fails an internal assertion when it
    // answers min/max of a hive partition column of a single file from Parquet statistics.)
    const columns = manifest.columns.map((column) => {
      if (!manifest.partitionBy.includes(column.name)) return `${stored(column.name) ? quoteIdentifier(column.name) : 'NULL'}::${column.type} AS ${quoteIdentifier(column.name)}`;
      const value = only.values[column.name];
      return `${value === null || value === undefined ? 'NULL' : quoteLiteral(value)}::${column.type} AS ${quoteIdentifier(column.name)}`;
    });
    return `(SELECT ${columns.join(', ')}${file} FROM read_parquet(${literalList(paths)}, hive_partitioning = false))`;
  }
  const hiveTypes = manifest.partitionBy
    .map((key) => {
      const type = manifest.columns.find((column) => column.name === key)?.type ?? 'VARCHAR';
      return `${quoteLiteral(key)}: ${quoteLiteral(type)}`;
    })
    .join(', ');
  const options = partitioned ? `, hive_partitioning = true, hive_types = {${hiveTypes}}` : ', hive_partitioning = false';
  // Files known to share the table's schema are bound from one footer; otherwise columns are matched by name across all.
  const unionByName = !filesHoldManifestColumns(manifest);
  return `(SELECT ${columnList}${file} FROM read_parquet(${literalList(paths)}, union_by_name = ${unionByName}${options}))`;
}
