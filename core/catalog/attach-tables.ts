import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../engine/index.ts';
import { literalList, quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { LocalFiles, Storage } from '../storage/index.ts';
import { filesHoldManifestColumns, layerOf, manifestFiles, shortNameOf, tableVersionSql, type DataFile, type TableManifest, type TableName, type TableSpec } from '../table/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { MedallionError, NotFoundError } from '../errors.ts';

/** A committed table whose files cannot be read, and why. */
export interface DamagedTable {
  readonly table: TableName;
  readonly problem: string;
}

/** The committed manifests of a root, by table name. */
export async function readManifests(state: StateStore, root: LakeRoot, only?: readonly string[]): Promise<Map<TableName, TableManifest>> {
  const names = Object.keys(root.tables).filter((name) => !only || only.includes(name)).sort();
  const manifests = new Map<TableName, TableManifest>();
  for (const name of names) {
    const ref = root.tables[name];
    if (ref) manifests.set(name as TableName, await readManifest(state, ref.manifest));
  }
  return manifests;
}

/**
 * SQL that reads one committed table version; the files must be local (see Storage.fetchLocal). A file that
 * is gone, or whose size is not the one its commit recorded (cut short, overwritten), is DATA_FILE_MISSING or
 * DATA_FILE_DAMAGED naming the table, the version, the file and the repair, before anything reads it.
 * With `fileColumn`, each row also has the path of the file it is read from, in a column of that name.
 */
export async function tableRelation(engine: Engine, storage: Storage, manifest: TableManifest, options: { fileColumn?: string } = {}): Promise<{ sql: string; files: LocalFiles }> {
  const dataFiles = manifestFiles(manifest);
  let files: LocalFiles;
  try {
    files = await storage.fetchLocal(dataFiles.map((file) => file.key));
  } catch (error) {
    const missing = error instanceof NotFoundError ? dataFiles.find((file) => error.message.includes(file.key)) : undefined;
    if (missing) throw dataFileError(manifest, missing, 'missing');
    throw error;
  }
  try {
    await checkLocalFiles(manifest, files.paths);
    return { sql: tableVersionSql(manifest, files.paths, await columnsInFiles(engine, manifest, files.paths), options.fileColumn), files };
  } catch (error) {
    await files.release();
    throw error;
  }
}

/** Every file of the version is there, at the size its commit recorded. */
async function checkLocalFiles(manifest: TableManifest, localPaths: ReadonlyMap<string, string>): Promise<void> {
  const files = manifestFiles(manifest);
  for (let start = 0; start < files.length; start += STAT_AT_ONCE) {
    const sizes = await Promise.all(files.slice(start, start + STAT_AT_ONCE).map(async (file) => {
      const local = localPaths.get(file.key);
      const size = local === undefined ? undefined : await stat(local).then((info) => (info.isFile() ? info.size : -1), () => undefined);
      return { file, size };
    }));
    for (const { file, size } of sizes) {
      if (size === undefined) throw dataFileError(manifest, file, 'missing');
      if (size !== file.sizeBytes) throw dataFileError(manifest, file, size < 0 ? 'damaged: it is not a file' : `damaged: it has ${size} bytes where its commit recorded ${file.sizeBytes}`);
    }
  }
}

const STAT_AT_ONCE = 64;

/**
 * A committed data file that cannot be read, as the data error a reader reports: the table, its version, the
 * file, and how to repair it (runbooks/lost-or-corrupt-file.md).
 */
export function dataFileError(manifest: TableManifest, file: DataFile, problem: string): MedallionError {
  const writer = writerOf(manifest, file);
  const rebuild = writer ? `medallion run ${writer} --full-refresh` : `medallion run <the job that writes ${manifest.table}> --full-refresh`;
  return new MedallionError(problem === 'missing' ? 'DATA_FILE_MISSING' : 'DATA_FILE_DAMAGED',
    `table ${manifest.table} (version ${manifest.version}) cannot be read: data file ${file.key} is ${problem}`, {
      hint: `put the file back from a backup (on S3, its previous object version), or rebuild the table from its inputs: ${rebuild} ` +
        '(runbooks/lost-or-corrupt-file.md)',
    });
}

/** A lost or damaged committed file (see dataFileError). */
export function isDataFileError(error: unknown): error is MedallionError {
  return error instanceof MedallionError && error.code.startsWith('DATA_FILE_');
}

/** The job that wrote a file: the partition's job for the shared tables partitioned by job, else the version's. */
function writerOf(manifest: TableManifest, file: DataFile): string | undefined {
  if (manifest.partitionBy.includes('job')) {
    const entry = Object.values(manifest.partitions).find((partition) => partition.files.some((candidate) => candidate.key === file.key));
    const job = entry?.values.job;
    return job && job !== 'quality' ? job : undefined;
  }
  return manifest.job;
}

/**
 * The columns a table version's files hold, read from their Parquet footers (DuckDB caches them for the
 * query that follows), so a column declared after some files were written reads as NULL from them.
 */
async function columnsInFiles(engine: Engine, manifest: TableManifest, localPaths: ReadonlyMap<string, string>): Promise<ReadonlySet<string> | undefined> {
  // The manifest says every file holds the table's columns: nothing to read from the footers.
  if (filesHoldManifestColumns(manifest)) return undefined;
  const paths = manifestFiles(manifest).filter((file) => file.rows > 0).map((file) => localPaths.get(file.key)).filter((path): path is string => path !== undefined);
  if (paths.length === 0) return undefined;
  const { rows } = await engine.query(`DESCRIBE SELECT * FROM read_parquet(${literalList(paths)}, union_by_name = true, hive_partitioning = false)`);
  const present = new Set(rows.map((row) => String(row.column_name)));
  // Nothing missing: the common case renders as before.
  return manifest.columns.every((column) => present.has(column.name) || manifest.partitionBy.includes(column.name)) ? undefined : present;
}

/**
 * Creates a view `layer.table` in `engine` for every committed table of `root`, so SQL can name
 * tables as analysts do (only the tables `only` names, when given: a reader whose role reads just those). Call `release` when done (it removes temporary copies on S3 lakes). `directories`
 * are the local folders the views read.
 */
export async function attachTables(
  engine: Engine,
  storage: Storage,
  state: StateStore,
  root: LakeRoot,
  options: {
    readonly only?: readonly string[];
    /** Tables the lake declares: one with no commit yet reads as an empty table of its columns, not as a missing one. */
    readonly declared?: readonly TableSpec[];
  } = {},
): Promise<{ tables: Map<TableName, TableManifest>; directories: string[]; damaged: DamagedTable[]; release(): Promise<void> }> {
  const manifests = new Map<TableName, TableManifest>();
  const held: LocalFiles[] = [];
  const damaged: DamagedTable[] = [];
  try {
    const schemas = new Set<string>();
    for (const name of Object.keys(root.tables).filter((table) => !options.only || options.only.includes(table)).sort() as TableName[]) {
      const schema = layerOf(name);
      if (!schemas.has(schema)) {
        await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
        schemas.add(schema);
      }
      const view = `${quoteIdentifier(schema)}.${quoteIdentifier(shortNameOf(name))}`;
      let manifest: TableManifest;
      try {
        manifest = await readManifest(state, (root.tables[name] as { manifest: string }).manifest);
        manifests.set(name, manifest);
      } catch (error) {
        // A manifest that is missing or damaged is one damaged table too; a store that did not answer is not.
        if (!(error instanceof NotFoundError) && (error as MedallionError).code !== 'STATE_CORRUPT') throw error;
        const problem = describeProblem(error);
        damaged.push({ table: name, problem });
        await engine.run(`CREATE OR REPLACE VIEW ${view} AS ${failingSelect(`table ${name} cannot be read: ${problem}`, [])}`);
        continue;
      }
      try {
        const relation = await tableRelation(engine, storage, manifest);
        held.push(relation.files);
        await engine.run(`CREATE OR REPLACE VIEW ${view} AS SELECT * FROM ${relation.sql}`);
      } catch (error) {
        // One damaged table (a truncated file, a file removed by hand) is one table: the others stay
        // queryable, and a query that reads this one fails naming it.
        const problem = describeProblem(error);
        damaged.push({ table: name, problem });
        const message = isDataFileError(error) ? problem : `table ${name} (version ${manifest.version}) cannot be read: ${problem}`;
        await engine.run(`CREATE OR REPLACE VIEW ${view} AS ${failingSelect(message, manifest.columns)}`);
      }
    }
    for (const spec of options.declared ?? []) {
      if (root.tables[spec.name] !== undefined || (options.only && !options.only.includes(spec.name))) continue;
      const schema = layerOf(spec.name);
      if (!schemas.has(schema)) await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      schemas.add(schema);
      const columns = spec.columns.map((column) => `NULL::${column.type} AS ${quoteIdentifier(column.name)}`).join(', ');
      await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(schema)}.${quoteIdentifier(shortNameOf(spec.name))} AS SELECT ${columns} WHERE false`);
    }
  } catch (error) {
    await Promise.all(held.map((files) => files.release()));
    throw error;
  }
  // The local folders the views read from: a read-only session may allow exactly these (see `medallion query`).
  const directories = [...new Set(held.flatMap((files) => [...files.paths.values()].map((file) => `${path.dirname(file)}${path.sep}`)))].sort();
  return { tables: manifests, directories, damaged, release: async () => void (await Promise.all(held.map((files) => files.release()))) };
}

/**
 * A relation with the table's columns that fails with `message` whatever reads it: the error is in the
 * filter, which every query evaluates, even `count(*)` (a failing column would be pruned).
 */
function failingSelect(message: string, columns: readonly { readonly name: string; readonly type: string }[]): string {
  const list = columns.map((column) => `CAST(NULL AS ${column.type}) AS ${quoteIdentifier(column.name)}`).join(', ');
  return `SELECT ${list || 'NULL AS damaged'} FROM range(1) WHERE error(${quoteLiteral(message)}) IS NULL`;
}

function describeProblem(error: unknown): string {
  const hint = (error as { hint?: string }).hint;
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error';
  return hint ? `${message} (${hint})` : message;
}
