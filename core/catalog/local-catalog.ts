import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDbEngine, quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { Storage } from '../storage/index.ts';
import { firstRetainedCommit, layerOf, manifestFiles, shortNameOf, tableHistory, tableVersionSql, type TableManifest, type TableName } from '../table/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { readManifests } from './attach-tables.ts';
import type { Catalog } from './catalog.ts';

interface TableView {
  /** `schema.view`, as duckdb_views() names it. */
  readonly name: string;
  readonly schema: string;
  readonly view: string;
  /** The table the view reads a version of. */
  readonly table: TableName;
  /** The manifest document the view reads (its id is kept in the view's comment in lake.duckdb). */
  readonly manifestId: string;
  readonly manifest: TableManifest;
  readonly create: string;
}

/** Version views per table at most: a table committed every hour would otherwise bring 168 a week. */
const MAX_VERSION_VIEWS = 50;

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
      if (!schemas.has(view.schema)) statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(view.schema)};`);
      schemas.add(view.schema);
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

  /**
   * A view `layer.table` per table at the root, and one per version kept (inside the retention window, see
   * firstRetainedCommit; the newest MAX_VERSION_VIEWS of a table at most): `<layer>_versions.<table>_v<version>`,
   * for time travel from any DuckDB client. (`medallion query --as-of` reaches every kept version.)
   */
  private async views(root: LakeRoot): Promise<TableView[]> {
    const manifests = await readManifests(this.state, root);
    const views: TableView[] = [];
    const view = async (name: TableName, manifestId: string, manifest: TableManifest, schema: string, viewName: string) => {
      const files = await this.storage.fetchLocal(manifestFiles(manifest).map((file) => file.key));
      try {
        const target = `${quoteIdentifier(schema)}.${quoteIdentifier(viewName)}`;
        views.push({ name: `${schema}.${viewName}`, schema, view: viewName, table: name, manifestId, manifest, create: `CREATE OR REPLACE VIEW ${target} AS SELECT * FROM ${tableVersionSql(manifest, files.paths)}` });
      } finally {
        await files.release();
      }
    };
    for (const [name, manifest] of manifests) await view(name, root.tables[name]?.manifest ?? '', manifest, layerOf(name), shortNameOf(name));
    const first = await firstRetainedCommit(this.state, new Date(root.committedAt));
    for (const name of manifests.keys()) {
      for (const version of await tableHistory(this.state, name, { root, untilCommit: first, limit: MAX_VERSION_VIEWS })) {
        if (version.removed) continue;
        await view(name, version.manifestId, await readManifest(this.state, version.manifestId), `${layerOf(name)}_versions`, `${shortNameOf(name)}_v${version.version}`);
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
          await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(view.schema)}`);
          await engine.run(view.create);
          const comment = `medallion table ${view.table}, version ${view.manifest.version}, committed ${view.manifest.committedAt}` +
            `${view.manifest.commitSeq === undefined ? '' : ` in commit ${view.manifest.commitSeq}`} (manifest ${view.manifestId})`;
          await engine.run(`COMMENT ON VIEW ${quoteIdentifier(view.schema)}.${quoteIdentifier(view.view)} IS ${quoteLiteral(comment)}`);
        }
        const wanted = new Set(views.map((view) => view.name));
        for (const name of current.keys()) {
          if (wanted.has(name)) continue;
          const [schema, table] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
          await engine.run(`DROP VIEW IF EXISTS ${quoteIdentifier(schema)}.${quoteIdentifier(table)}`);
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
