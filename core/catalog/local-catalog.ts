import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDbEngine, quoteIdentifier } from '../engine/index.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { Storage } from '../storage/index.ts';
import { TABLE_RELATION_RENDERERS, layerOf, manifestFiles, shortNameOf } from '../table/index.ts';
import { readManifests } from './attach-tables.ts';
import type { Catalog } from './catalog.ts';

/**
 * The embedded catalog: after each commit it rewrites `views.sql`, DuckDB statements that create a view
 * `layer.table` over the committed files of every table. Any DuckDB client can load it:
 * `duckdb -c ".read lake/_catalog/views.sql" -c "from gold.daily_task_kpis"`. It also rewrites
 * `lake.duckdb`, a database file with the same views: `duckdb lake/_catalog/lake.duckdb`.
 */
export class LocalCatalog implements Catalog {
  readonly directory: string;
  private readonly storage: Storage;
  private readonly state: StateStore;

  constructor(directory: string, storage: Storage, state: StateStore) {
    this.directory = path.resolve(directory);
    this.storage = storage;
    this.state = state;
  }

  get viewsPath(): string {
    return path.join(this.directory, 'views.sql');
  }

  async publish(root: LakeRoot): Promise<void> {
    const manifests = await readManifests(this.state, root);
    const statements = [`-- medallion catalog at commit ${root.seq} (${root.committedAt}); regenerated on every commit.`];
    const schemas = new Set<string>();
    for (const [name, manifest] of manifests) {
      const schema = layerOf(name);
      if (!schemas.has(schema)) statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};`);
      schemas.add(schema);
      const files = await this.storage.fetchLocal(manifestFiles(manifest).map((file) => file.key));
      try {
        const relation = TABLE_RELATION_RENDERERS.duckdb(manifest, files.paths);
        statements.push(`CREATE OR REPLACE VIEW ${quoteIdentifier(schema)}.${quoteIdentifier(shortNameOf(name))} AS SELECT * FROM ${relation};`);
      } finally {
        await files.release();
      }
    }
    await mkdir(this.directory, { recursive: true });
    // A temporary file of its own: two runs may publish at the same time.
    const temporary = `${this.viewsPath}.${randomUUID()}.tmp`;
    await writeFile(temporary, `${statements.join('\n')}\n`);
    await rename(temporary, this.viewsPath);
    await this.writeDatabase(statements);
  }

  /** A DuckDB database any client (CLI, DBeaver, a notebook) can open, holding the same views. */
  get databasePath(): string {
    return path.join(this.directory, 'lake.duckdb');
  }

  private async writeDatabase(statements: readonly string[]): Promise<void> {
    // Built aside and renamed into place: a client holding the old file keeps reading it undisturbed.
    const temporary = `${this.databasePath}.${randomUUID()}.tmp`;
    const engine = await DuckDbEngine.create({ databasePath: temporary, threads: 1 });
    try {
      for (const statement of statements.filter((line) => !line.startsWith('--'))) await engine.run(statement);
    } finally {
      engine.close();
    }
    await rename(temporary, this.databasePath);
    await rm(`${temporary}.wal`, { force: true });
  }
}
