import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../core/index.ts';
import { LocalCatalog } from '../../../core/catalog/index.ts';
import { DuckDbEngine } from '../../../core/engine/index.ts';
import { FileStateStore } from '../../../core/state/index.ts';
import { LocalStorage } from '../../../core/storage/index.ts';
import { commitTables } from '../../../core/table/index.ts';
import { useEngines, useTempDirs } from '../test-resources.ts';
import { commitParquet } from './committed-parquet.ts';

const tempDir = useTempDirs();
const engine = useEngines();

const items = defineTable({
  name: 'bronze.items',
  description: 'Items by day.',
  writeMode: 'append',
  partitionBy: ['day'],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Item id.' },
    { name: 'label', type: 'VARCHAR', description: 'Label.' },
    { name: 'day', type: 'DATE', description: 'Partition.' },
  ],
});
const summary = defineTable({
  name: 'gold.summary',
  description: 'Nothing yet.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'total', type: 'BIGINT', description: 'Total.' }],
});
const ITEMS_SQL = `SELECT range AS id, 'it''s ' || range AS label, DATE '2025-11-01' + (range % 3)::INTEGER AS day FROM range(9)`;

/** A lake folder whose path holds a quote and a space, as a user's home folder may. */
async function awkwardLakeRoot(): Promise<string> {
  return mkdtemp(path.join(await tempDir('catalog'), "o'brien lake "));
}

describe('LocalCatalog.publish', () => {
  it('writes views.sql that a fresh DuckDB can load to query every committed table', async () => {
    const root = await awkwardLakeRoot();
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    await commitParquet(await engine(), storage, state, items, ITEMS_SQL, 'run_1');
    const { root: lakeRoot } = await commitTables(state, { runId: 'run_2', basedOn: await state.readRoot(), writes: [{ spec: summary, kind: 'replace_all', partitions: {} }] });
    await catalog.publish(lakeRoot);

    expect(catalog.viewsPath).toBe(path.join(root, '_catalog', 'views.sql'));
    const views = await readFile(catalog.viewsPath, 'utf8');
    const fresh = await engine();
    await fresh.run(views);
    expect((await fresh.query('SELECT id, label, day FROM bronze.items ORDER BY id')).rows).toEqual(
      (await (await engine()).query(`SELECT * FROM (${ITEMS_SQL}) ORDER BY id`)).rows,
    );
    expect((await fresh.query('SELECT typeof(day) AS type FROM bronze.items LIMIT 1')).rows).toEqual([{ type: 'DATE' }]);
    expect((await fresh.query('SELECT count(*) AS n FROM gold.summary')).rows).toEqual([{ n: 0 }]);
  });

  it('keeps lake.duckdb, a database file any DuckDB client can open, current with every publish', async () => {
    const root = await awkwardLakeRoot();
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const { root: first } = await commitParquet(await engine(), storage, state, items, ITEMS_SQL, 'run_1');
    await catalog.publish(first);
    const openDatabase = async () => DuckDbEngine.create({ databasePath: catalog.databasePath });
    const before = await openDatabase();
    try {
      expect((await before.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 9 }]);
    } finally {
      before.close();
    }
    const { root: second } = await commitTables(state, { runId: 'run_2', basedOn: first, writes: [{ spec: summary, kind: 'replace_all', partitions: {} }] });
    await catalog.publish(second);
    const after = await openDatabase();
    try {
      expect((await after.query('SELECT count(*) AS n FROM gold.summary')).rows).toEqual([{ n: 0 }]);
      expect((await after.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 9 }]);
    } finally {
      after.close();
    }
  });

  it('runs statement by statement as well, and names the commit it reflects', async () => {
    const root = await tempDir('catalog');
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const { root: lakeRoot } = await commitParquet(await engine(), storage, state, items, ITEMS_SQL, 'run_1');
    await catalog.publish(lakeRoot);
    const views = await readFile(catalog.viewsPath, 'utf8');
    expect(views).toContain(`commit ${lakeRoot.seq}`);
    const fresh = await engine();
    for (const statement of views.split(';\n').filter((text) => text.trim() !== '')) await fresh.run(statement);
    expect((await fresh.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 9 }]);
  });

  it('rewrites views.sql on each publish so it follows the newest root', async () => {
    const root = await tempDir('catalog');
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const writer = await engine();
    await catalog.publish((await commitParquet(writer, storage, state, items, ITEMS_SQL, 'run_1')).root);
    await catalog.publish((await commitParquet(writer, storage, state, items, `${ITEMS_SQL} LIMIT 2`, 'run_2')).root);
    const fresh = await engine();
    await fresh.run(await readFile(catalog.viewsPath, 'utf8'));
    expect((await fresh.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 2 }]);
  });

  // A fixed temporary name (`views.sql.tmp`) is shared by publishes that overlap, in one process or
  // in two `medallion run` processes on the same lake: the later rename finds the file gone (ENOENT).
  it('survives overlapping publishes', async () => {
    const root = await tempDir('catalog');
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const { root: lakeRoot } = await commitParquet(await engine(), storage, state, items, ITEMS_SQL, 'run_1');
    for (let round = 0; round < 10; round += 1) {
      await Promise.all([catalog.publish(lakeRoot), catalog.publish(lakeRoot), catalog.publish(lakeRoot)]);
    }
  });

  it('never goes back to an older commit: a late publish of an old root shows the newest one', async () => {
    const root = await tempDir('catalog');
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const writer = await engine();
    const { root: first } = await commitParquet(writer, storage, state, items, ITEMS_SQL, 'run_1');
    const { root: second } = await commitParquet(writer, storage, state, items, `${ITEMS_SQL} LIMIT 2`, 'run_2');
    // Two runs committed one after the other; the first run's publish finishes last.
    await catalog.publish(second);
    await catalog.publish(first);
    expect(await catalog.publishedSeq()).toBe(second.seq);
    const fresh = await engine();
    await fresh.run(await readFile(catalog.viewsPath, 'utf8'));
    expect((await fresh.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 2 }]);
    const database = await DuckDbEngine.create({ databasePath: catalog.databasePath });
    try {
      expect((await database.query('SELECT count(*) AS n FROM bronze.items')).rows).toEqual([{ n: 2 }]);
    } finally {
      database.close();
    }
  });

  it("names each view's manifest in lake.duckdb, follows the tables that moved, and rebuilds a damaged file", async () => {
    const root = await tempDir('catalog');
    const storage = new LocalStorage(root);
    const state = new FileStateStore(path.join(root, '_state'));
    const catalog = new LocalCatalog(path.join(root, '_catalog'), storage, state);
    const writer = await engine();
    await commitParquet(writer, storage, state, items, ITEMS_SQL, 'run_1');
    const { root: withSummary } = await commitTables(state, { runId: 'run_2', basedOn: await state.readRoot(), writes: [{ spec: summary, kind: 'replace_all', partitions: {} }] });
    await catalog.publish(withSummary);
    const comments = async () => {
      const database = await DuckDbEngine.create({ databasePath: catalog.databasePath });
      try {
        const rows = (await database.query(`SELECT schema_name || '.' || view_name AS name, comment FROM duckdb_views() WHERE NOT internal ORDER BY name`)).rows;
        const [items] = (await database.query('SELECT count(*) AS n FROM bronze.items')).rows;
        return { comments: Object.fromEntries(rows.map((row) => [row.name, row.comment])), items: items?.n };
      } finally {
        database.close();
      }
    };
    const before = await comments();
    expect(before.comments['bronze.items']).toContain(`(manifest ${withSummary.tables['bronze.items']?.manifest})`);
    expect(before.items).toBe(9);

    const { root: moved } = await commitParquet(writer, storage, state, items, `${ITEMS_SQL} LIMIT 4`, 'run_3');
    await catalog.publish(moved);
    const after = await comments();
    expect(after.items).toBe(4);
    expect(after.comments['bronze.items']).toContain(`(manifest ${moved.tables['bronze.items']?.manifest})`);
    expect(after.comments['gold.summary']).toBe(before.comments['gold.summary']);

    await writeFile(catalog.databasePath, 'not a database');
    const { root: again } = await commitParquet(writer, storage, state, items, `${ITEMS_SQL} LIMIT 5`, 'run_4');
    await catalog.publish(again);
    const rebuilt = await comments();
    expect(rebuilt.items).toBe(5);
    // The current views, and one per kept version of each table (bronze.items has three: runs 1, 3 and 4).
    expect(Object.keys(rebuilt.comments)).toEqual(['bronze.items', 'bronze_versions.items_v1', 'bronze_versions.items_v2', 'bronze_versions.items_v3', 'gold.summary', 'gold_versions.summary_v1']);
  });
});
