import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTable, quoteLiteral } from '../../../core/index.ts';
import { attachTables } from '../../../core/catalog/index.ts';
import type { Engine } from '../../../core/engine/index.ts';
import { FileStateStore, type StateStore } from '../../../core/state/index.ts';
import { LocalStorage, type Storage } from '../../../core/storage/index.ts';
import { commitTables } from '../../../core/table/index.ts';
import { useEngines, useTempDirs } from '../test-resources.ts';
import { commitParquet } from './committed-parquet.ts';

const tempDir = useTempDirs();
const engine = useEngines();

const events = defineTable({
  name: 'silver.events',
  description: 'Events by day.',
  writeMode: 'replace_partitions',
  partitionBy: ['event_date'],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Event id.' },
    { name: 'name', type: 'VARCHAR', description: 'Event name.' },
    { name: 'tags', type: 'VARCHAR[]', description: 'Tags.' },
    { name: 'seen_at', type: 'TIMESTAMP', description: 'When.' },
    { name: 'event_date', type: 'DATE', description: 'Partition: day of the event.' },
  ],
});
const totals = defineTable({
  name: 'gold.totals',
  description: 'One row.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'total', type: 'DECIMAL(18,2)', description: 'Total.' },
    { name: 'n', type: 'INTEGER', description: 'Count.' },
  ],
});

const EVENTS_SQL = `
  SELECT range::BIGINT AS id, 'event ' || range AS name, ['t' || (range % 3)] AS tags,
         TIMESTAMP '2025-11-01 00:00:00' + INTERVAL (range * 7) HOUR AS seen_at,
         (TIMESTAMP '2025-11-01 00:00:00' + INTERVAL (range * 7) HOUR)::DATE AS event_date
  FROM range(20)`;

async function lake(): Promise<{ storage: Storage; state: StateStore }> {
  const root = await tempDir('catalog');
  return { storage: new LocalStorage(root), state: new FileStateStore(path.join(root, '_state')) };
}

async function rowsOf(duckdb: Engine, sql: string) {
  return (await duckdb.query(sql)).rows;
}

describe('attachTables', () => {
  it('answers min and max of a partition column when the table is a single file (NULL partition included)', async () => {
    for (const [label, sql, expected] of [
      ['one day', `${EVENTS_SQL} LIMIT 1`, { low: '2025-11-01', high: '2025-11-01', n: 1 }],
      ['no day', `SELECT id, name, tags, seen_at, NULL::DATE AS event_date FROM (${EVENTS_SQL}) LIMIT 2`, { low: null, high: null, n: 2 }],
    ] as const) {
      const { storage, state } = await lake();
      const { root } = await commitParquet(await engine(), storage, state, events, sql, 'run_1');
      const reader = await engine();
      const attached = await attachTables(reader, storage, state, root);
      try {
        expect(await rowsOf(reader, 'SELECT min(event_date) AS low, max(event_date) AS high, count(*) AS n FROM silver.events'), label).toEqual([expected]);
        expect(await rowsOf(reader, 'SELECT id FROM silver.events WHERE event_date IS NOT DISTINCT FROM (SELECT max(event_date) FROM silver.events) ORDER BY id'), label)
          .toHaveLength(expected.n);
      } finally {
        await attached.release();
      }
    }
  });

  it('makes a layer.table view whose rows are what was committed', async () => {
    const { storage, state } = await lake();
    const writer = await engine();
    const { root } = await commitParquet(writer, storage, state, events, EVENTS_SQL, 'run_1');
    expect(Object.keys(root.tables)).toEqual(['silver.events']);

    const reader = await engine();
    const attached = await attachTables(reader, storage, state, root);
    try {
      expect([...attached.tables.keys()]).toEqual(['silver.events']);
      const expected = await rowsOf(writer, `SELECT * FROM (${EVENTS_SQL}) ORDER BY id`);
      expect(await rowsOf(reader, 'SELECT id, name, tags, seen_at, event_date FROM silver.events ORDER BY id')).toEqual(expected);
      expect(expected).toHaveLength(20);
    } finally {
      await attached.release();
    }
  });

  it('gives partition columns back with their declared type', async () => {
    const { storage, state } = await lake();
    const { root, manifests } = await commitParquet(await engine(), storage, state, events, EVENTS_SQL, 'run_1');
    expect(Object.keys(manifests['silver.events']?.partitions ?? {}).length).toBeGreaterThan(1);
    const reader = await engine();
    await attachTables(reader, storage, state, root);
    const described = await rowsOf(reader, 'DESCRIBE silver.events');
    expect(described.map((row) => [row.column_name, row.column_type])).toEqual([
      ['id', 'BIGINT'], ['name', 'VARCHAR'], ['tags', 'VARCHAR[]'], ['seen_at', 'TIMESTAMP'], ['event_date', 'DATE'],
    ]);
    // Typed, so date arithmetic and comparisons work on the partition column.
    expect(await rowsOf(reader, `SELECT count(*) AS n FROM silver.events WHERE event_date = DATE '2025-11-02'`)).toEqual(
      await rowsOf(await engine(), `SELECT count(*) AS n FROM (${EVENTS_SQL}) WHERE event_date = DATE '2025-11-02'`),
    );
  });

  it('keeps text partition values as written, even when they all look like numbers', async () => {
    const codes = defineTable({
      name: 'silver.codes',
      description: 'Rows by text code.',
      writeMode: 'replace_partitions',
      partitionBy: ['code'],
      columns: [
        { name: 'n', type: 'INTEGER', description: 'Number.' },
        { name: 'code', type: 'VARCHAR', description: 'Partition: a text code.' },
      ],
    });
    const { storage, state } = await lake();
    const { root } = await commitParquet(await engine(), storage, state, codes, `SELECT * FROM (VALUES (1, '007'), (2, '012'), (3, '100')) AS t(n, code)`, 'run_1');
    const reader = await engine();
    await attachTables(reader, storage, state, root);
    expect(await rowsOf(reader, 'SELECT n, code FROM silver.codes ORDER BY n')).toEqual([
      { n: 1, code: '007' },
      { n: 2, code: '012' },
      { n: 3, code: '100' },
    ]);
  });

  it('reads a table committed with no files as zero rows of its declared columns', async () => {
    const { storage, state } = await lake();
    const { root } = await commitTables(state, { runId: 'run_1', basedOn: await state.readRoot(), writes: [{ spec: totals, kind: 'replace_all', partitions: {} }] });
    const reader = await engine();
    await attachTables(reader, storage, state, root);
    expect(await rowsOf(reader, 'SELECT count(*) AS n FROM gold.totals')).toEqual([{ n: 0 }]);
    expect((await rowsOf(reader, 'DESCRIBE gold.totals')).map((row) => [row.column_name, row.column_type])).toEqual([
      ['total', 'DECIMAL(18,2)'],
      ['n', 'INTEGER'],
    ]);
  });

  it('reads only the files the manifest lists, whatever else lies in the table folder', async () => {
    const { storage, state } = await lake();
    const writer = await engine();
    const { root } = await commitParquet(writer, storage, state, totals, 'SELECT 1.50 AS total, 1 AS n', 'run_1');
    // A run that staged files but never committed.
    const stray = await storage.createStagingArea('gold/totals/run_2');
    await writer.run(`COPY (SELECT 99.00 AS total, 99 AS n) TO ${quoteLiteral(path.join(stray.localDir, 'data_0.parquet'))} (FORMAT parquet)`);
    await stray.persist();
    const reader = await engine();
    await attachTables(reader, storage, state, root);
    expect(await rowsOf(reader, 'SELECT * FROM gold.totals')).toEqual([{ total: '1.50', n: 1 }]);
  });

  it('shows each root as of its commit', async () => {
    const { storage, state } = await lake();
    const writer = await engine();
    const first = await commitParquet(writer, storage, state, totals, 'SELECT 1.00 AS total, 1 AS n', 'run_1');
    const second = await commitParquet(writer, storage, state, totals, 'SELECT 2.00 AS total, 2 AS n UNION ALL SELECT 3.00, 3', 'run_2');
    const old = await engine();
    await attachTables(old, storage, state, first.root);
    expect(await rowsOf(old, 'SELECT n FROM gold.totals ORDER BY n')).toEqual([{ n: 1 }]);
    const current = await engine();
    await attachTables(current, storage, state, second.root);
    expect(await rowsOf(current, 'SELECT n FROM gold.totals ORDER BY n')).toEqual([{ n: 2 }, { n: 3 }]);
  });
});
