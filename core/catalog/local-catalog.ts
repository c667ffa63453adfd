import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDbEngine, quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { Storage } from '../storage/index.ts';
import { layerOf, manifestFiles, shortNameOf, tableVersionSql, type TableManifest, type TableName } from '../table/index.ts';
import { readManifests } from './attach-tables.ts';
import type { Catalog } from './catalog.ts';

interface TableView {
  readonly name: TableName;
  /** The manifest document the view reads (its id is kept in the view's comment in lake.duckdb). */
  readonly manifestId: string;
  readonly manifest: TableManifest;
  readonly create: string;
}

const COMMIT_LINE = /^-- medallion catalog at commit (\d+) /;
const MANIFEST_IN_COMMENT = /\(manifest (\S+)\)$/;

/**
 * The embedded catalog: after each commit it rewrites `views.sql`, DuckDB statements that create a view
 * `layer.table` over the committed files of every table. Any DuckDB client can load it:
 * `duckdb -c ".read lake/_catalog/views.sql" -c "from gold.daily_task_kpis"`. It also keeps
 * `lake.duckdb`, a database file with the same views: `duckdb lake/_catalog/lake.duckdb`.
 *
 * Publishing always shows the newest commit: publishes in one process run one at a time, and each one
 * ends by checking the state store, publishing again if another process committed meanwhile (the last
 * publisher to finish therefore leaves the newest root in place).
 */
export class LocalCatalog implements Catalog {
  readonly directory: string;
  private readonly storage: Storage;
  private readonly state: StateStore;
  private queue: Promise<void> = Promise.resolve();

  constructor(directory: string, storage: Storage, state: StateStore) {
    this.directory = path.resolve(directory);
    this.storage = storage;
    this.state = state;
  }

  get viewsPath(): string {
    return path.join(this.directory, 'views.sql');
  }

  /** A DuckDB database any client (CLI, DBeaver, a notebook) can open, holding the same views. */
  get databasePath(): string {
    return path.join(this.directory, 'lake.duckdb');
  }

  publish(root: LakeRoot): Promise<void> {
    const next = this.queue.then(() => this.publishNewest(root));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The commit sequence views.sql reflects, or undefined when nothing was published yet. */
  async publishedSeq(): Promise<number | undefined> {
    try {
      const match = COMMIT_LINE.exec(await readFile(this.viewsPath, 'utf8'));
      return match ? Number(match[1]) : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async publishNewest(requested: LakeRoot): Promise<void> {
    let root = requested;
    for (;;) {
      const newest = await this.state.readRoot();
      if (newest.seq > root.seq) root = newest;
      const published = await this.publishedSeq();
      // Already showing this commit (a publish queued behind another one for the same or a newer root).
      if (published === root.seq) return;
      await this.write(root);
      if ((await this.state.readRoot()).seq === root.seq) return;
    }
  }

  private async write(root: LakeRoot): Promise<void> {
    const views = await this.views(root);
    const statements = [`-- medallion catalog at commit ${root.seq} (${root.committedAt}); regenerated on every commit.`];
    const schemas = new Set<string>();
    for (const view of views) {
      const schema = layerOf(view.name);
      if (!schemas.has(schema)) statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};`);
      schemas.add(schema);
      statements.push(`${view.create};`);
    }
    await mkdir(this.directory, { recursive: true });
    // The database first, views.sql last: views.sql names the commit that is fully published.
    await this.writeDatabase(views);
    // A temporary file of its own: two runs may publish at the same time.
    const temporary = `${this.viewsPath}.${randomUUID()}.tmp`;
    await writeFile(temporary, `${statements.join('\n')}\n`);
    await rename(temporary, this.viewsPath);
  }

  private async views(root: LakeRoot): Promise<TableView[]> {
    const manifests = await readManifests(this.state, root);
    const views: TableView[] = [];
    for (const [name, manifest] of manifests) {
      const files = await this.storage.fetchLocal(manifestFiles(manifest).map((file) => file.key));
      try {
        const relation = tableVersionSql(manifest, files.paths);
        views.push({
          name,
          manifestId: root.tables[name]?.manifest ?? '',
          manifest,
          create: `CREATE OR REPLACE VIEW ${viewName(name)} AS SELECT * FROM ${relation}`,
        });
      } finally {
        await files.release();
      }
    }
    return views;
  }

  /**
   * Updates lake.duckdb aside and renames it into place, so a client holding the old file keeps reading
   * it undisturbed. Only views whose table moved are replaced: each view's comment names its manifest.
   */
  private async writeDatabase(views: readonly TableView[]): Promise<void> {
    const temporary = `${this.databasePath}.${randomUUID()}.tmp`;
    try {
      let engine: DuckDbEngine;
      try {
        await copyFile(this.databasePath, temporary);
        engine = await DuckDbEngine.create({ databasePath: temporary, threads: 1 });
      } catch {
        // No database yet, or one this DuckDB cannot open: build it anew.
        await rm(temporary, { force: true });
        engine = await DuckDbEngine.create({ databasePath: temporary, threads: 1 });
      }
      try {
        const existing = await engine.query(`SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal`);
        const current = new Map(existing.rows.map((row) => [`${String(row.schema_name)}.${String(row.view_name)}`, MANIFEST_IN_COMMENT.exec(String(row.comment ?? ''))?.[1]]));
        for (const view of views) {
          if (current.get(view.name) === view.manifestId) continue;
          await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(layerOf(view.name))}`);
          await engine.run(view.create);
          const comment = `medallion table ${view.name}, version ${view.manifest.version}, committed ${view.manifest.committedAt} (manifest ${view.manifestId})`;
          await engine.run(`COMMENT ON VIEW ${viewName(view.name)} IS ${quoteLiteral(comment)}`);
        }
        const wanted = new Set(views.map((view) => view.name as string));
        for (const name of current.keys()) {
          if (!wanted.has(name)) await engine.run(`DROP VIEW IF EXISTS ${viewName(name as TableName)}`);
        }
      } finally {
        engine.close();
      }
      await rename(temporary, this.databasePath);
    } finally {
      await rm(temporary, { force: true });
      await rm(`${temporary}.wal`, { force: true });
    }
  }
}

function viewName(name: TableName): string {
  return `${quoteIdentifier(layerOf(name))}.${quoteIdentifier(shortNameOf(name))}`;
}
