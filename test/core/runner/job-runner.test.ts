import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, runJob, tableSource, type Lake } from '../../../core/index.ts';
import { attachTables } from '../../../core/catalog/index.ts';
import type { ResultRow } from '../../../core/engine/index.ts';
import { JobRunError, MedallionError } from '../../../core/errors.ts';
import type { MetricDatum } from '../../../core/metrics/index.ts';
import { EMPTY_ROOT } from '../../../core/state/index.ts';
import type { TableManifest } from '../../../core/table/index.ts';
import { collect, useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

const bronzeItems = defineTable({
  name: 'bronze.items',
  description: 'Item records as they landed.',
  writeMode: 'append',
  partitionBy: ['day'],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Item id.' },
    { name: 'name', type: 'VARCHAR', description: 'Item name.' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object.' },
    { name: 'record_index', type: 'BIGINT', description: 'Position in the object.' },
    { name: 'day', type: 'DATE', description: 'Partition: the item day.' },
  ],
});
const silverItems = defineTable({
  name: 'silver.items',
  description: 'One row per item id.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Item id.' },
    { name: 'name', type: 'VARCHAR', description: 'Item name.' },
    { name: 'day', type: 'DATE', description: 'Item day.' },
  ],
});
const silverNameNumbers = defineTable({
  name: 'silver.name_numbers',
  description: 'Names read as numbers, which they are not.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'n', type: 'INTEGER', description: 'Number.' }],
});

/**
 * The bronze job of the test lake: records that are not JSON are quarantined, records marked `resent` are counted
 * as duplicates; `keep` filters the rest (a job that loses rows passes a narrower one).
 */
function landingJob(keep = 'true') {
  return defineJob({
    name: 'bronze.items',
    description: 'Items from landing; records that are not JSON are quarantined.',
    sources: { items: landingSource('items') },
    outputs: [bronzeItems],
    perRecord: true,
    balance: { input: 'items', output: 'bronze.items' },
    transform: ({ input, step }) => ({
      steps: [
        {
          name: 'parsed',
          sql: `SELECT source_object, record_index, raw, split_error,
                       CASE WHEN split_error IS NULL AND json_valid(raw) THEN raw::JSON END AS doc
                FROM ${input('items')}`,
        },
      ],
      outputs: {
        'bronze.items': `SELECT (doc->>'id')::BIGINT AS id, doc->>'name' AS name, source_object, record_index, (doc->>'day')::DATE AS day
                         FROM ${step('parsed')} WHERE doc IS NOT NULL AND NOT coalesce((doc->>'resent')::BOOLEAN, false) AND ${keep}`,
      },
      duplicates: `SELECT record_index FROM ${step('parsed')} WHERE (doc->>'resent')::BOOLEAN`,
      quarantine: `SELECT source_object, record_index, coalesce(split_error, 'invalid_json') AS reason_code, 'not a JSON record' AS reason, raw
                   FROM ${step('parsed')} WHERE doc IS NULL`,
    }),
  });
}

const dedupJob = defineJob({
  name: 'silver.items',
  description: 'Keeps the first record of each item id.',
  sources: { items: tableSource('bronze.items') },
  outputs: [silverItems],
  balance: { input: 'items', output: 'silver.items' },
  transform: ({ input }) => {
    const ranked = `SELECT id, name, day, row_number() OVER (PARTITION BY id ORDER BY source_object, record_index) AS position FROM ${input('items')}`;
    return {
      outputs: { 'silver.items': `SELECT id, name, day FROM (${ranked}) WHERE position = 1` },
      duplicates: `SELECT id FROM (${ranked}) WHERE position > 1`,
    };
  },
});

const failingJob = defineJob({
  name: 'silver.name_numbers',
  description: 'Casts names to numbers, which fails while the output is written.',
  sources: { items: tableSource('bronze.items') },
  outputs: [silverNameNumbers],
  transform: ({ input }) => ({ outputs: { 'silver.name_numbers': `SELECT CAST(name AS INTEGER) AS n FROM ${input('items')}` } }),
});

interface LandedItem {
  readonly id: number;
  readonly name: string;
  readonly day: string;
  readonly source_object: string;
  readonly record_index: number;
}

/**
 * Landing objects of item records: every other object gzip, alternating newline-delimited and concatenated
 * records, object 2 holding one record that is not JSON, every fourth object ending with a resent copy of its
 * first record, and the last object repeating item 1.
 */
function makeItemLanding({ objects, perObject }: { objects: number; perObject: number }) {
  const files: { key: string; body: Buffer }[] = [];
  const good: LandedItem[] = [];
  const bad: { source_object: string; record_index: number; raw: string }[] = [];
  let resent = 0;
  for (let object = 0; object < objects; object += 1) {
    const day = `2025-11-0${1 + (object % 3)}`;
    const gzip = object % 2 === 1;
    const key = `landing/items/${day.replaceAll('-', '/')}/00/items-1-${day}-00-00-${String(object).padStart(2, '0')}-x${gzip ? '.gz' : ''}`;
    const records: string[] = [];
    for (let index = 0; index < perObject; index += 1) {
      const id = object === objects - 1 && index === 0 ? 1 : object * perObject + index + 1;
      const item = { id, name: `item "${id}" it's é`, day };
      records.push(JSON.stringify(item));
      good.push({ ...item, source_object: key, record_index: records.length - 1 });
      if (object === 2 && index === 0) {
        records.push('{"id": 999, broken');
        bad.push({ source_object: key, record_index: records.length - 1, raw: '{"id": 999, broken' });
      }
    }
    if (object % 4 === 3) {
      records.push(JSON.stringify({ ...JSON.parse(records[0] as string), resent: true }));
      resent += 1;
    }
    const text = object % 2 === 0 ? records.map((record) => `${record}\n`).join('') : records.join('');
    files.push({ key, body: gzip ? gzipSync(text) : Buffer.from(text) });
  }
  // Tables are read back in (source_object, record_index) order, keys in byte order.
  good.sort((a, b) => Buffer.compare(Buffer.from(a.source_object), Buffer.from(b.source_object)) || a.record_index - b.record_index);
  return { files, good, bad, resent, records: good.length + bad.length + resent, bytes: files.reduce((sum, file) => sum + file.body.length, 0) };
}

async function newLake(landing?: ReturnType<typeof makeItemLanding>): Promise<{ dir: string; lake: Lake }> {
  const dir = await tempDir('runner');
  const lake = openLocalLake(dir, { threads: 2 });
  for (const file of landing?.files ?? []) await lake.storage.put(file.key, file.body);
  return { dir, lake };
}

/** Rows of `sql` over the lake's committed tables. */
async function query(lake: Lake, sql: string): Promise<readonly ResultRow[]> {
  const engine = await lake.createEngine();
  try {
    const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
    try {
      return (await engine.query(sql)).rows;
    } finally {
      await attached.release();
    }
  } finally {
    engine.close();
  }
}

async function keysUnder(lake: Lake, prefix: string): Promise<string[]> {
  return (await collect(lake.storage.list(prefix))).map((object) => object.key);
}

const BRONZE_ROWS = `SELECT id, name, strftime(day, '%Y-%m-%d') AS day, source_object, record_index FROM bronze.items ORDER BY source_object, record_index`;
const QUARANTINE_ROWS = `SELECT layer, job, source_object, record_index, reason_code, raw FROM quarantine.records ORDER BY source_object, record_index`;

describe('runJob', () => {
  it('commits a landing job, quarantining what is not JSON, and a table job reads what it committed', async () => {
    const landing = makeItemLanding({ objects: 6, perObject: 3 });
    const { dir, lake } = await newLake(landing);

    const bronze = await runJob(lake, landingJob());
    expect(bronze).toMatchObject({
      job: 'bronze.items',
      state: 'SUCCEEDED',
      recordsRead: landing.records,
      bytesRead: landing.bytes,
      recordsWritten: { 'bronze.items': landing.good.length },
      recordsQuarantined: 1,
      recordsDuplicated: landing.resent,
      commitSeq: 1,
    });
    expect(await query(lake, BRONZE_ROWS)).toEqual(landing.good);
    expect(await query(lake, QUARANTINE_ROWS)).toEqual(landing.bad.map((record) => ({ layer: 'bronze', job: 'bronze.items', reason_code: 'invalid_json', ...record })));
    expect(await query(lake, 'SELECT DISTINCT run_id FROM quarantine.records')).toEqual([{ run_id: bronze.runId }]);
    // Where its time went, by phase: each phase it went through, one after another within its elapsed time
    // (which ends at its commit; publishing follows).
    expect(Object.keys(bronze.phasesMs ?? {})).toEqual(['plan', 'landing', 'steps', 'write', 'commit', 'publish']);
    const phaseSum = Object.entries(bronze.phasesMs ?? {}).filter(([phase]) => phase !== 'publish').reduce((sum, [, ms]) => sum + ms, 0);
    expect(Object.values(bronze.phasesMs ?? {}).every((ms) => ms >= 0)).toBe(true);
    expect(phaseSum).toBeLessThanOrEqual(bronze.elapsedMs + 10);

    const silver = await runJob(lake, dedupJob);
    expect(silver).toMatchObject({ recordsRead: landing.good.length, recordsWritten: { 'silver.items': landing.good.length - 1 }, recordsDuplicated: 1, commitSeq: 2 });
    const firstOfEach = landing.good.filter((item, index) => landing.good.findIndex((other) => other.id === item.id) === index);
    expect(await query(lake, `SELECT id, name, strftime(day, '%Y-%m-%d') AS day FROM silver.items ORDER BY id`)).toEqual(
      firstOfEach.map(({ id, name, day }) => ({ id, name, day })).sort((a, b) => a.id - b.id),
    );

    // The catalog follows the commit: views.sql names both tables.
    const views = await readFile(path.join(dir, '_catalog', 'views.sql'), 'utf8');
    expect(views).toContain('"bronze"."items"');
    expect(views).toContain('"silver"."items"');
  });

  it('replaces its tables when run again, rather than adding to them', async () => {
    const landing = makeItemLanding({ objects: 4, perObject: 2 });
    const { lake } = await newLake(landing);
    await runJob(lake, landingJob());
    const second = await runJob(lake, landingJob());
    expect(second.commitSeq).toBe(2);
    expect(await query(lake, BRONZE_ROWS)).toEqual(landing.good);
    expect(await query(lake, 'SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM quarantine.records')).toEqual([{ n: 1, runs: 1 }]);
  });

  it('throws JobRunError when the SQL fails while writing, leaving the root and the table folder as they were', async () => {
    const landing = makeItemLanding({ objects: 3, perObject: 2 });
    const { lake } = await newLake(landing);
    await runJob(lake, landingJob());
    const before = await lake.state.readRoot();
    const filesBefore = await keysUnder(lake, '');

    const error = await runJob(lake, failingJob, { runId: 'jr_failing' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobRunError);
    expect(error).toMatchObject({ code: 'JOB_RUN_FAILED', job: 'silver.name_numbers', runId: 'jr_failing' });
    expect((error as Error).message).toMatch(/Conversion Error|Could not convert/);

    expect(await lake.state.readRoot()).toEqual(before);
    expect(await keysUnder(lake, 'silver/')).toEqual([]);
    expect((await keysUnder(lake, '')).filter((key) => !key.startsWith('_'))).toEqual(filesBefore.filter((key) => !key.startsWith('_')));
  });

  it('names the column a quarantine query lacks, not the ones the runner adds, and commits nothing', async () => {
    const landing = makeItemLanding({ objects: 2, perObject: 2 });
    const { lake } = await newLake(landing);
    const before = await lake.state.readRoot();
    const base = landingJob();
    const lacking = defineJob({
      ...base,
      transform: (context) => {
        const plan = base.transform(context);
        return { ...plan, quarantine: (plan.quarantine as string).replace(", 'not a JSON record' AS reason", '') };
      },
    });
    const error = await runJob(lake, lacking).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as Error).message).toContain('output lacks columns reason (DuckDB: Binder Error');
    expect(await lake.state.readRoot()).toEqual(before);
  });

  it('names every declared column an output lacks, and commits nothing', async () => {
    const landing = makeItemLanding({ objects: 2, perObject: 2 });
    const { lake } = await newLake(landing);
    await runJob(lake, landingJob());
    const before = await lake.state.readRoot();
    const lacking = defineJob({
      name: 'silver.items',
      description: 'Forgets two columns.',
      sources: { items: tableSource('bronze.items') },
      outputs: [silverItems],
      transform: ({ input }) => ({ outputs: { 'silver.items': `SELECT id FROM ${input('items')}` } }),
    });
    const error = await runJob(lake, lacking).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect((error as Error).message).toContain('output lacks columns name, day');
    expect(await lake.state.readRoot()).toEqual(before);
  });

  it('refuses to commit a run whose rows do not add up', async () => {
    const landing = makeItemLanding({ objects: 3, perObject: 2 });
    const { lake } = await newLake(landing);
    const error = await runJob(lake, landingJob('id <> 2')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect(error).not.toBeInstanceOf(JobRunError);
    expect((error as MedallionError).code).toBe('RECONCILIATION_FAILED');
    expect((error as MedallionError).message).toContain(`read ${landing.records} rows`);
    expect(await lake.state.readRoot()).toEqual(EMPTY_ROOT);
    expect(await keysUnder(lake, 'bronze/')).toEqual([]);
    expect(await keysUnder(lake, 'quarantine/')).toEqual([]);
  });

  it('refuses a table job whose source table was never committed', async () => {
    const { lake } = await newLake();
    await expect(runJob(lake, dedupJob)).rejects.toMatchObject({ code: 'SOURCE_TABLE_MISSING' });
    expect(await lake.state.readRoot()).toEqual(EMPTY_ROOT);
  });

  it('gives a perRecord job the same rows in many small batches as in one', async () => {
    const landing = makeItemLanding({ objects: 12, perObject: 3 });
    const whole = await newLake(landing);
    const batched = await newLake(landing);
    const one = await runJob(whole.lake, landingJob());
    const many = await runJob(batched.lake, landingJob(), { batchBytes: 200 });
    expect(landing.resent).toBeGreaterThan(1);
    expect(many).toMatchObject({ recordsRead: one.recordsRead, recordsWritten: one.recordsWritten, recordsQuarantined: 1, recordsDuplicated: landing.resent });
    expect(many.bytesRead).toBe(one.bytesRead);
    expect(await query(batched.lake, BRONZE_ROWS)).toEqual(await query(whole.lake, BRONZE_ROWS));
    expect(await query(batched.lake, QUARANTINE_ROWS)).toEqual(await query(whole.lake, QUARANTINE_ROWS));
    expect(await query(batched.lake, BRONZE_ROWS)).toEqual(landing.good);

    // The small batches really happened: the files come from several batch folders.
    const root = await batched.lake.state.readRoot();
    const manifest = await batched.lake.state.getDocument<TableManifest>(root.tables['bronze.items']?.manifest as string);
    const batchFolders = new Set(Object.values(manifest.partitions).flatMap((entry) => entry.files.map((file) => /\/(batch-\d+)\//.exec(file.key)?.[1])));
    expect(batchFolders.size).toBeGreaterThan(4);
    expect(batchFolders.has(undefined)).toBe(false);
  });

  it('commits empty tables when nothing has landed', async () => {
    const { lake } = await newLake();
    const result = await runJob(lake, landingJob());
    expect(result).toMatchObject({ recordsRead: 0, recordsWritten: { 'bronze.items': 0 }, recordsQuarantined: 0, commitSeq: 1 });
    expect(await query(lake, 'SELECT count(*) AS n FROM bronze.items')).toEqual([{ n: 0 }]);
  });

  it('emits the run metrics under Glue names', async () => {
    const landing = makeItemLanding({ objects: 3, perObject: 2 });
    const { dir, lake } = await newLake(landing);
    const result = await runJob(lake, landingJob());
    const history = (await readFile(path.join(dir, '_metrics', 'history.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as MetricDatum);
    const value = (name: string) => history.find((datum) => datum.name === name)?.value;
    expect(history.map((datum) => datum.name).sort()).toEqual([
      'glue.driver.aggregate.bytesRead',
      'glue.driver.aggregate.elapsedTime',
      'glue.driver.aggregate.recordsRead',
      'medallion.catalog.publishFailures',
      'medallion.job.recordsDuplicated',
      'medallion.job.recordsQuarantined',
      'medallion.job.recordsQuarantinedByReason',
      'medallion.job.recordsWritten',
    ]);
    expect(value('glue.driver.aggregate.recordsRead')).toBe(landing.records);
    expect(value('glue.driver.aggregate.bytesRead')).toBe(landing.bytes);
    expect(value('medallion.job.recordsWritten')).toBe(landing.good.length);
    expect(value('medallion.job.recordsQuarantined')).toBe(1);
    expect(history.find((datum) => datum.name === 'medallion.job.recordsQuarantinedByReason')?.dimensions).toEqual({ JobName: 'bronze.items', Reason: 'invalid_json' });
    for (const datum of history.filter((datum) => datum.name.startsWith('glue.'))) expect(datum.dimensions).toMatchObject({ JobName: 'bronze.items', JobRunId: result.runId });
    const prom = await readFile(path.join(dir, '_metrics', 'medallion.prom'), 'utf8');
    expect(prom).toContain(`glue_driver_aggregate_records_read{job_name="bronze.items"} ${landing.records}\n`);
    expect(prom).not.toContain(result.runId);
  });
});
