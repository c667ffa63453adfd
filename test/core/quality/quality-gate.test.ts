import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, runJob, tableSource, type Lake } from '../../../core/index.ts';
import { attachTables } from '../../../core/catalog/index.ts';
import type { ResultRow } from '../../../core/engine/index.ts';
import type { MetricDatum } from '../../../core/metrics/index.ts';
import { QualityGateError, parseTableRuleSet, type TableRuleSet } from '../../../core/quality/index.ts';
import { startJobRun, type JobRunRecord } from '../../../core/runner/index.ts';
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
    { name: 'score', type: 'INTEGER', description: 'Score.' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object.' },
    { name: 'record_index', type: 'BIGINT', description: 'Position in the object.' },
    { name: 'day', type: 'DATE', description: 'Partition: the item day.' },
  ],
});
const silverItems = defineTable({
  name: 'silver.items',
  description: 'Items with a score.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Item id.' },
    { name: 'score', type: 'INTEGER', description: 'Score.' },
  ],
});
const silverNames = defineTable({
  name: 'silver.names',
  description: 'Distinct names.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'name', type: 'VARCHAR', description: 'A name.' }],
});

/** bronze.items' rows from its landing input: the records that are JSON. */
const parsedItemsSql = (landing: string) => `
  SELECT (raw::JSON->>'id')::BIGINT AS id, raw::JSON->>'name' AS name, (raw::JSON->>'score')::INTEGER AS score,
         source_object, record_index, (raw::JSON->>'day')::DATE AS day
  FROM ${landing} WHERE json_valid(raw)`;
const notJsonSql = (landing: string) =>
  `SELECT source_object, record_index, 'invalid_json' AS reason_code, 'not JSON' AS reason, raw FROM ${landing} WHERE NOT json_valid(raw)`;
/** What every bronze.items job here is, whatever its plan. */
const bronzeItemsJob = {
  name: 'bronze.items',
  description: 'Items from landing.',
  sources: { items: landingSource('items') },
  outputs: [bronzeItems],
  perRecord: true,
  balance: { input: 'items', output: 'bronze.items' },
} as const;

/** Records that are not JSON are quarantined by the job itself; the rest go to bronze.items. */
const bronzeJob = defineJob({
  ...bronzeItemsJob,
  transform: ({ input }) => ({ outputs: { 'bronze.items': parsedItemsSql(input('items')) }, quarantine: notJsonSql(input('items')) }),
});

/** Two outputs, so a rule on one of them must not disturb the other's reconciliation. */
const silverJob = defineJob({
  name: 'silver.items',
  description: 'Scores and names.',
  sources: { items: tableSource('bronze.items') },
  outputs: [silverItems, silverNames],
  balance: { input: 'items', output: 'silver.items' },
  transform: ({ input }) => ({
    outputs: {
      'silver.items': `SELECT id, score FROM ${input('items')}`,
      'silver.names': `SELECT DISTINCT name FROM ${input('items')}`,
    },
  }),
});

interface Item {
  id: number;
  name: string | null;
  score: number | null;
  day: string;
}

/** 40 items over 4 objects (two days), with NULL names and scores, and one record that is not JSON. */
function items(): { objects: { key: string; records: string[] }[]; all: (Item & { source_object: string; record_index: number })[] } {
  const names = ['a', 'b', 'c', 'x', null];
  const objects: { key: string; records: string[] }[] = [];
  const all: (Item & { source_object: string; record_index: number })[] = [];
  for (let object = 0; object < 4; object += 1) {
    const day = `2025-11-0${1 + (object % 2)}`;
    const key = `landing/items/${day.replaceAll('-', '/')}/00/items-${object}`;
    const records: string[] = [];
    for (let index = 0; index < 10; index += 1) {
      const id = object * 10 + index;
      const item: Item = { id, name: names[id % 5] as string | null, score: id % 7 === 0 ? null : id % 4, day };
      records.push(JSON.stringify(item));
      all.push({ ...item, source_object: key, record_index: records.length - 1 });
    }
    if (object === 1) records.push('{broken');
    objects.push({ key, records });
  }
  return { objects, all };
}

async function lakeWith(objects: { key: string; records: string[] }[]): Promise<Lake> {
  const lake = openLocalLake(await tempDir('quality-gate'), { threads: 2 });
  for (const object of objects) await lake.storage.put(object.key, Buffer.from(object.records.map((record) => `${record}\n`).join('')));
  return lake;
}

async function query(lake: Lake, sql: string): Promise<readonly ResultRow[]> {
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
  try {
    return (await engine.query(sql)).rows;
  } finally {
    await attached.release();
    engine.close();
  }
}

function rules(table: string, text: string): Map<string, TableRuleSet> {
  return new Map([[table, parseTableRuleSet(table, text, `quality/rules/${table}.dqdl`)]]);
}

function recordingMetrics(lake: Lake): MetricDatum[] {
  const seen: MetricDatum[] = [];
  const emit = lake.metrics.emit.bind(lake.metrics);
  lake.metrics.emit = async (datums) => {
    seen.push(...datums);
    await emit(datums);
  };
  return seen;
}

describe('quality rules in job runs', () => {
  it('a quarantine rule moves exactly the failing rows (NULL included), in every batch, and the counts still add up', async () => {
    const { objects, all } = items();
    const lake = await lakeWith(objects);
    const quality = rules(
      'bronze.items',
      ['Rules = [', '  ColumnValues "name" in ["a", "b", "c"],  # action: quarantine', '  ColumnValues "score" != 3  # action: quarantine', ']'].join('\n'),
    );
    // Small batches: the job sees its landing input in several pieces.
    const result = await runJob(lake, bronzeJob, { quality, batchBytes: 300 });

    // Glue's null behaviour: NULL fails `in`, passes `!=`.
    const nameOk = (item: Item) => item.name !== null && ['a', 'b', 'c'].includes(item.name);
    const scoreOk = (item: Item) => item.score !== 3;
    const kept = all.filter((item) => nameOk(item) && scoreOk(item));
    const setAside = all
      .filter((item) => !(nameOk(item) && scoreOk(item)))
      .sort((a, b) => Buffer.compare(Buffer.from(a.source_object), Buffer.from(b.source_object)) || a.record_index - b.record_index);
    expect(kept.length).toBeGreaterThan(0);
    expect(setAside.filter((item) => item.name === null).length).toBeGreaterThan(0);
    expect(all.filter((item) => item.score === null && nameOk(item)).every((item) => kept.includes(item))).toBe(true);

    expect(await query(lake, 'SELECT id FROM bronze.items ORDER BY id')).toEqual(kept.map((item) => ({ id: item.id })));
    const quarantined = await query(lake, "SELECT source_object, record_index, reason, raw FROM quarantine.records WHERE reason_code = 'quality_rule' ORDER BY source_object, record_index");
    expect(quarantined.map((row) => [row.source_object, row.record_index])).toEqual(setAside.map((item) => [item.source_object, item.record_index]));
    for (const [index, row] of quarantined.entries()) {
      const item = setAside[index] as Item;
      // The first rule the row failed, with its file and line; the row itself as JSON.
      expect(row.reason).toBe(
        nameOk(item)
          ? 'quality rule failed: ColumnValues "score" != 3 (quality/rules/bronze.items.dqdl:3)'
          : 'quality rule failed: ColumnValues "name" in ["a", "b", "c"] (quality/rules/bronze.items.dqdl:2)',
      );
      expect(JSON.parse(String(row.raw))).toMatchObject({ id: item.id, name: item.name, score: item.score });
    }
    // read = written + quarantined (1 not JSON + the rows set aside).
    expect(result.recordsRead).toBe(all.length + 1);
    expect(result.recordsWritten['bronze.items']).toBe(kept.length);
    expect(result.recordsQuarantined).toBe(setAside.length + 1);

    const recorded = await query(lake, 'SELECT rule, action, outcome, value, rows_quarantined, scope, job, run_id FROM quality.results ORDER BY rule');
    expect(recorded).toEqual([
      {
        rule: 'ColumnValues "name" in ["a", "b", "c"]', action: 'quarantine', outcome: 'FAIL', value: all.filter(nameOk).length / all.length,
        rows_quarantined: all.filter((item) => !nameOk(item)).length, scope: 'run', job: 'bronze.items', run_id: result.runId,
      },
      {
        rule: 'ColumnValues "score" != 3', action: 'quarantine', outcome: 'FAIL', value: all.filter(scoreOk).length / all.length,
        rows_quarantined: all.filter((item) => !scoreOk(item)).length, scope: 'run', job: 'bronze.items', run_id: result.runId,
      },
    ]);
  });

  it('a rule gated at a step made as a view sets aside the same rows, batch after batch, and the steps after it see only the rest', async () => {
    const { objects, all } = items();
    const lake = await lakeWith(objects);
    const quality = rules('bronze.items', ['Rules = [', '  ColumnValues "score" != 3  # action: quarantine', ']'].join('\n'));
    // The parsed rows are a table, the valid ones a view of it (gated: the gate makes it a table of the rows that
    // passed, and the next batch a view again), and the output reads a table made from the view.
    const viewJob = defineJob({
      ...bronzeItemsJob,
      transform: ({ input }) => ({
        steps: [
          { name: 'parsed', sql: parsedItemsSql(input('items')) },
          { name: 'valid', sql: 'SELECT * FROM step_parsed', view: true },
          { name: 'after_gate', sql: 'SELECT * FROM step_valid' },
        ],
        gateAt: { 'bronze.items': 'valid' },
        outputs: { 'bronze.items': 'SELECT * FROM step_after_gate' },
        quarantine: notJsonSql(input('items')),
      }),
    });
    const result = await runJob(lake, viewJob, { quality, batchBytes: 300 });

    const kept = all.filter((item) => item.score !== 3);
    expect(kept.length).toBeLessThan(all.length);
    expect(await query(lake, 'SELECT id FROM bronze.items ORDER BY id')).toEqual(kept.map((item) => ({ id: item.id })));
    const quarantined = await query(lake, "SELECT record_index FROM quarantine.records WHERE reason_code = 'quality_rule'");
    expect(quarantined).toHaveLength(all.length - kept.length);
    expect(result.recordsRead).toBe(all.length + 1);
    expect(result.recordsWritten['bronze.items']).toBe(kept.length);
    expect(result.recordsQuarantined).toBe(all.length - kept.length + 1);
  });

  it('a failing fail rule commits nothing but its results and the rows it refused, is not retried, and its run record names the rule', async () => {
    const { objects, all } = items();
    const lake = await lakeWith(objects);
    const quality = rules('bronze.items', ['Rules = [', '  RowCount > 0,', '  IsComplete "name",  # action: fail', '  ColumnValues "score" <= 3', ']'].join('\n'));
    const records: JobRunRecord[] = [];
    const error = await startJobRun(
      lake, bronzeJob, { maxRetries: 2, bookmark: { option: 'job-bookmark-enable' } },
      { quality, retryBaseDelayMs: 1, onRecord: (record) => records.push(record) },
    ).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(QualityGateError);
    expect((error as Error).message).toContain('IsComplete "name" (quality/rules/bronze.items.dqdl:3) failed');
    const root = await lake.state.readRoot();
    expect(Object.keys(root.tables).sort()).toEqual(['quality.rejected_rows', 'quality.results']);
    expect(root.bookmarks['bronze.items']).toBeUndefined();
    expect(await collect(lake.storage.list('bronze/'))).toEqual([]);
    const finals = records.filter((record) => record.JobRunState !== 'STARTING' && record.JobRunState !== 'RUNNING');
    expect(finals.map((record) => [record.JobRunState, record.Attempt])).toEqual([['FAILED', 0]]);
    expect(finals[0]?.ErrorMessage).toContain('QUALITY_GATE_FAILED');
    expect(finals[0]?.ErrorMessage).toContain('IsComplete "name"');

    const recorded = await query(lake, 'SELECT rule, action, outcome FROM quality.results ORDER BY rule');
    expect(recorded).toEqual([
      { rule: 'ColumnValues "score" <= 3', action: 'warn', outcome: 'FAIL' },
      { rule: 'IsComplete "name"', action: 'fail', outcome: 'FAIL' },
      { rule: 'RowCount > 0', action: 'warn', outcome: 'PASS' },
    ]);
    // Exactly the rows the fail rule refused (the warn rule's failures are not), queryable with where they came from.
    const rejected = await query(lake, `SELECT run_id, table_name, rule, source_object, record_index, row::JSON->>'name' AS name, job FROM quality.rejected_rows ORDER BY source_object, record_index`);
    const refused = all.filter((item) => item.name === null).sort((a, b) => a.source_object.localeCompare(b.source_object) || a.record_index - b.record_index);
    expect(refused.length).toBeGreaterThan(0);
    expect(rejected).toEqual(refused.map((item) => ({
      run_id: finals[0]!.Id, table_name: 'bronze.items', rule: 'IsComplete "name" (quality/rules/bronze.items.dqdl:3)',
      source_object: item.source_object, record_index: item.record_index, name: null, job: 'bronze.items',
    })));
  });

  it('warn rules record and go on, with Glue Data Quality metrics; the run dataset and references are there', async () => {
    const { objects, all } = items();
    const lake = await lakeWith(objects);
    await runJob(lake, bronzeJob);
    const metrics = recordingMetrics(lake);
    const quality = new Map([
      ...rules('silver.items', [
        '# reference names = silver.names',
        'Rules = [',
        '  CustomSql "select records_written * 1.0 / records_read from run" = 1.0,',
        '  RowCountMatch "names" >= 10,',
        '  ColumnValues "score" in [0, 1, 2],',
        '  IsUnique "id"',
        ']',
      ].join('\n')),
      // A rule on the other output quarantines rows that are not part of the balance.
      ...rules('silver.names', 'Rules = [ ColumnValues "name" in ["a", "b"]  # action: quarantine\n]'),
    ]);
    const result = await runJob(lake, silverJob, { quality });

    expect(result.recordsWritten).toEqual({ 'silver.items': all.length, 'silver.names': 2 });
    expect(result.recordsQuarantined).toBe(3);
    const outcomes = Object.fromEntries((result.quality ?? []).map((evaluation) => [evaluation.rule, [evaluation.outcome, evaluation.value]]));
    const distinctNames = new Set(all.map((item) => item.name)).size;
    expect(outcomes).toEqual({
      'CustomSql "select records_written * 1.0 / records_read from run" = 1.0': ['PASS', 1],
      // names as staged by this run, after its quarantine rule: a and b.
      'RowCountMatch "names" >= 10': ['PASS', all.length / 2],
      'ColumnValues "score" in [0, 1, 2]': ['FAIL', all.filter((item) => item.score !== null && item.score <= 2).length / all.length],
      'IsUnique "id"': ['PASS', 1],
      'ColumnValues "name" in ["a", "b"]': ['FAIL', 2 / distinctNames],
    });
    const named = (name: string, table: string) => metrics.find((datum) => datum.name === name && datum.dimensions.Table === table)?.value;
    expect(named('glue.data.quality.rules.passed', 'silver.items')).toBe(3);
    expect(named('glue.data.quality.rules.failed', 'silver.items')).toBe(1);
    expect(named('medallion.quality.rules.failed.warn', 'silver.items')).toBe(1);
    // No fail rule on silver.items: no fail count (a series that is always 0 would carry an alarm that never fires).
    expect(named('medallion.quality.rules.failed.fail', 'silver.items')).toBeUndefined();
    expect(named('medallion.quality.rowsQuarantined', 'silver.names')).toBe(3);
    expect(metrics.find((datum) => datum.name === 'glue.data.quality.rules.passed')?.dimensions).toMatchObject({ JobName: 'silver.items', JobRunId: result.runId });
  });

  it('fails the run when an output checked by quarantine rules gives other rows when it is written', async () => {
    const { objects } = items();
    const lake = await lakeWith(objects);
    // Rows only while the COPY runs: the rules see none (nothing to set aside), the writer would write them all.
    const fickle = defineJob({
      ...bronzeJob,
      balance: undefined,
      transform: (context) => {
        const plan = bronzeJob.transform(context);
        return { ...plan, outputs: { 'bronze.items': `SELECT * FROM (${plan.outputs['bronze.items'] as string}) WHERE current_query() LIKE 'COPY%'` } };
      },
    });
    const quality = rules('bronze.items', 'Rules = [ ColumnValues "score" != 3  # action: quarantine\n]');
    await expect(runJob(lake, fickle, { quality })).rejects.toThrow(/bronze.items: its SQL gave 0 rows when its quarantine rules checked them and 32 when it was written; nothing was committed/);
    expect(Object.keys((await lake.state.readRoot()).tables)).toEqual([]);
  });

  it('a quarantine rule that cannot be evaluated fails the run instead of letting rows through', async () => {
    const { objects } = items();
    const lake = await lakeWith(objects);
    const quality = rules('bronze.items', 'Rules = [ ColumnValues "nope" > 1  # action: quarantine\n]');
    await expect(runJob(lake, bronzeJob, { quality })).rejects.toThrow(/ColumnValues "nope" > 1 .*could not be evaluated/);
    expect(Object.keys((await lake.state.readRoot()).tables)).toEqual([]);
  });
});

describe('anomalies across runs', () => {
  it('DetectAnomalies learns a growing, weekly-seasonal row count over 60 daily runs and flags a day with 30% of the usual rows', async () => {
    const lake = openLocalLake(await tempDir('quality-anomaly'), { threads: 1 });
    const quality = rules('bronze.items', 'Rules = [\n  DetectAnomalies "RowCount",\n  RowCount >= 0.2 * avg(last(7))\n]');
    let seed = 7;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 0.95 + (seed / 2 ** 31) * 0.1;
    };
    const usual = (day: number) => 150 * (1 + 0.01 * day) * (day % 7 >= 5 ? 0.4 : 1);
    const land = async (day: number, rows: number) => {
      const date = new Date(Date.UTC(2025, 0, 1 + day)).toISOString().slice(0, 10);
      const records = Array.from({ length: rows }, (_, index) => JSON.stringify({ id: day * 1000 + index, name: 'a', score: 1, day: date }));
      await lake.storage.put(`landing/items/${date.replaceAll('-', '/')}/00/items-${day}`, Buffer.from(`${records.join('\n')}\n`));
    };
    const outcomes: { day: number; rows: number; anomaly: string; dynamic: string; threshold: string }[] = [];
    for (let day = 0; day <= 60; day += 1) {
      const rows = Math.round(usual(day) * (day === 60 ? 0.3 : noise()));
      await land(day, rows);
      const result = await runJob(lake, bronzeJob, { quality, bookmark: { option: 'job-bookmark-enable' } });
      const find = (type: string) => result.quality?.find((evaluation) => evaluation.ruleType === type);
      expect(find('DetectAnomalies')?.value, `day ${day}`).toBe(rows);
      outcomes.push({ day, rows, anomaly: find('DetectAnomalies')?.outcome ?? '', dynamic: find('RowCount')?.outcome ?? '', threshold: find('RowCount')?.threshold ?? '' });
    }
    // 60 normal days (the first ones warming up) pass; the 30% day does not.
    expect(outcomes.filter((outcome) => outcome.day < 60 && outcome.anomaly !== 'PASS')).toEqual([]);
    expect(outcomes[60]?.anomaly).toBe('FAIL');
    // The dynamic rule read the same history from quality.results: 30% of a weekday is above 20% of the weekly mean.
    expect(outcomes.every((outcome) => outcome.dynamic === 'PASS')).toBe(true);
    const lastWeek = outcomes.slice(53, 60).map((outcome) => outcome.rows);
    const resolved = Number(/^>= (.+)$/.exec(outcomes[60]?.threshold ?? '')?.[1]);
    expect(resolved).toBeCloseTo((0.2 * lastWeek.reduce((sum, rows) => sum + rows, 0)) / 7, 6);
    const history = await query(lake, "SELECT count(DISTINCT run_id) AS runs FROM quality.results WHERE metric = 'Dataset.*.RowCount' AND rule_type = 'DetectAnomalies'");
    expect(history).toEqual([{ runs: 61 }]);
  }, 120_000);
});
