import path from 'node:path';
import type { Engine } from '../engine/index.ts';
import { literalList, quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { LocalFiles, Storage } from '../storage/index.ts';
import { filesHoldManifestColumns, layerOf, manifestFiles, shortNameOf, tableVersionSql, type TableManifest, type TableName } from '../table/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { NotFoundError, type MedallionError } from '../errors.ts';

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

/** SQL that reads one committed table version; the files must be local (see Storage.fetchLocal). */
export async function tableRelation(engine: Engine, storage: Storage, manifest: TableManifest): Promise<{ sql: string; files: LocalFiles }> {
  const files = await storage.fetchLocal(manifestFiles(manifest).map((file) => file.key));
  try {
    return { sql: tableVersionSql(manifest, files.paths, await columnsInFiles(engine, manifest, files.paths)), files };
  } catch (error) {
    await files.release();
    throw error;
  }
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
 * tables as analysts do. Call `release` when done (it removes temporary copies on S3 lakes). `directories`
 * are the local folders the views read.
 */
export async function attachTables(
  engine: Engine,
  storage: Storage,
  state: StateStore,
  root: LakeRoot,
): Promise<{ tables: Map<TableName, TableManifest>; directories: string[]; damaged: DamagedTable[]; release(): Promise<void> }> {
  const manifests = new Map<TableName, TableManifest>();
  const held: LocalFiles[] = [];
  const damaged: DamagedTable[] = [];
  try {
    const schemas = new Set<string>();
    for (const name of Object.keys(root.tables).sort() as TableName[]) {
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
        await engine.run(`CREATE OR REPLACE VIEW ${view} AS ${failingSelect(`table ${name} (version ${manifest.version}) cannot be read: ${problem}`, manifest.columns)}`);
      }
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
