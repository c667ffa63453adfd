import { describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import type { Engine, ResultRow } from '../../core/engine/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { landingRecordCount, makeBadInputCorpus, type BadInputCase, type RecordOutcome, type RowChecks } from '../fixtures/bad-input/index.ts';

/**
 * Product requirement: bad input never crashes a job or vanishes. Each kind of bad landing input in the
 * corpus (test/fixtures/bad-input/) is written between good records into a fresh lake, the whole pipeline
 * runs, and every landing record must be accounted for: in bronze and silver, a duplicate, or quarantined
 * with the right reason code, a reason that says what was wrong, its source object and record index.
 */

const tempDir = useTempDirs();

/** Kinds the pipeline does not handle as the corpus expects yet, each run as `it.fails` with why (none today). */
const KNOWN_FAILURES: Readonly<Record<string, string>> = {};

const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Runs queries on the lake's committed tables through one engine. */
async function withTables<T>(lake: Lake, work: (query: (sql: string) => Promise<ResultRow[]>) => Promise<T>): Promise<T> {
  const engine: Engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
  try {
    return await work(async (sql) => [...(await engine.query(sql)).rows]);
  } finally {
    await attached.release();
    engine.close();
  }
}

/** The expected value of a row check, as vitest matches it. */
function expectedValue(value: RowChecks[string]): unknown {
  return value instanceof RegExp ? expect.stringMatching(value) : value;
}

/** SELECT list of row checks, each as c0, c1, ... */
const checkColumns = (checks: RowChecks) => Object.keys(checks).map((expression, index) => `${expression} AS c${index}`).join(', ');
const checkValues = (checks: RowChecks) => Object.fromEntries(Object.values(checks).map((value, index) => [`c${index}`, expectedValue(value)]));

interface Located<T extends RecordOutcome = RecordOutcome> {
  readonly sourceObject: string;
  readonly recordIndex: number;
  readonly outcome: T;
}

/** Every landing record of the case with its outcome, in (source object, record index) order as the tables sort. */
function located(badInputCase: BadInputCase): Located[] {
  const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return [...badInputCase.objects]
    .sort((a, b) => utf8Order(a.key, b.key))
    .flatMap((object) => object.records.map((outcome, recordIndex) => ({ sourceObject: object.key, recordIndex, outcome })));
}

const byStage = <S extends RecordOutcome['stage']>(records: readonly Located[], ...stages: S[]) =>
  records.filter((record): record is Located<Extract<RecordOutcome, { stage: S }>> => (stages as string[]).includes(record.outcome.stage));

async function expectCase(badInputCase: BadInputCase): Promise<void> {
  const dir = await tempDir('bad-input');
  const lake = openLocalLake(dir, { threads: 2 });
  for (const object of badInputCase.objects) await lake.storage.put(object.key, object.body);

  // No crash: every job of the pipeline succeeds.
  const results = await runJobs(lake, PIPELINE_JOBS);
  expect(results.map((result) => result.state)).toEqual(PIPELINE_JOBS.map(() => 'SUCCEEDED'));

  const source = badInputCase.source;
  const bronzeTable = `bronze.${source}_cdc`;
  const bronzeJob = bronzeTable;
  const silverJob = `silver.${source}`;
  const eventsTable = source === 'tasks' ? 'silver.task_events' : 'silver.user_events';
  const currentTable = `silver.${source}`;
  const records = located(badInputCase);

  await withTables(lake, async (query) => {
    // Which records landed in bronze, by position.
    const bronzeRows = await query(`SELECT source_object, record_index, event_id FROM ${bronzeTable} ORDER BY source_object, record_index`);
    expect(bronzeRows, 'bronze rows').toEqual(
      byStage(records, 'effective', 'duplicate', 'silver_quarantine').map((record) => ({
        source_object: record.sourceObject, record_index: record.recordIndex, event_id: record.outcome.eventId,
      })),
    );

    // Which were quarantined by bronze, why, and where from.
    const bronzeQuarantine = await query(
      `SELECT source_object, record_index, reason_code, reason FROM quarantine.records WHERE job = ${sqlText(bronzeJob)} ORDER BY source_object, record_index`,
    );
    expect(bronzeQuarantine, 'bronze quarantine').toEqual(
      byStage(records, 'bronze_quarantine').map((record) => ({
        source_object: record.sourceObject, record_index: record.recordIndex, reason_code: record.outcome.reasonCode, reason: expect.stringMatching(record.outcome.reason),
      })),
    );
    for (const record of byStage(records, 'bronze_quarantine')) {
      if (!record.outcome.quarantine) continue;
      const rows = await query(
        `SELECT ${checkColumns(record.outcome.quarantine)} FROM quarantine.records
         WHERE job = ${sqlText(bronzeJob)} AND source_object = ${sqlText(record.sourceObject)} AND record_index = ${record.recordIndex}`,
      );
      expect(rows, `quarantined record ${record.recordIndex} of ${record.sourceObject}`).toEqual([checkValues(record.outcome.quarantine)]);
    }

    // Which were quarantined by silver.
    const silverQuarantine = await query(
      `SELECT source_object, record_index, reason_code, reason FROM quarantine.records WHERE job = ${sqlText(silverJob)} ORDER BY source_object, record_index`,
    );
    expect(silverQuarantine, 'silver quarantine').toEqual(
      byStage(records, 'silver_quarantine').map((record) => ({
        source_object: record.sourceObject, record_index: record.recordIndex, reason_code: record.outcome.reasonCode, reason: expect.stringMatching(record.outcome.reason),
      })),
    );

    // The effective events, the good records around the bad one among them.
    const events = await query(`SELECT _source_object, _record_index, event_id FROM ${eventsTable} ORDER BY _source_object, _record_index`);
    expect(events, 'silver events').toEqual(
      byStage(records, 'effective').map((record) => ({ _source_object: record.sourceObject, _record_index: record.recordIndex, event_id: record.outcome.eventId })),
    );
    for (const { outcome } of byStage(records, 'effective')) {
      if (outcome.bronze) {
        const rows = await query(`SELECT ${checkColumns(outcome.bronze)} FROM ${bronzeTable} WHERE event_id = ${sqlText(outcome.eventId)}`);
        expect(rows, `bronze row of ${outcome.eventId}`).toEqual([checkValues(outcome.bronze)]);
      }
      if (outcome.silver) {
        const rows = await query(`SELECT ${checkColumns(outcome.silver)} FROM ${eventsTable} WHERE event_id = ${sqlText(outcome.eventId)}`);
        expect(rows, `silver event ${outcome.eventId}`).toEqual([checkValues(outcome.silver)]);
      }
      if (outcome.current) {
        const rows = await query(`SELECT count(*)::INTEGER AS n FROM ${currentTable} WHERE _event_id = ${sqlText(outcome.eventId)}`);
        expect(rows, `current state from ${outcome.eventId}`).toEqual([{ n: 1 }]);
      }
      if (outcome.keyAbsent) {
        const where = Object.entries(outcome.keyAbsent).map(([column, value]) => `${column} = ${sqlText(value)}`).join(' AND ');
        const rows = await query(`SELECT count(*)::INTEGER AS n FROM ${currentTable} WHERE ${where}`);
        expect(rows, `key ${where} absent from ${currentTable}`).toEqual([{ n: 0 }]);
      }
    }

    // Counts add up, computed independently of the runner's own balance check.
    const [counts] = await query(`
      SELECT (SELECT count(*) FROM ${bronzeTable})::INTEGER AS bronze_rows,
             (SELECT count(*) FROM quarantine.records WHERE job = ${sqlText(bronzeJob)})::INTEGER AS bronze_quarantined,
             (SELECT count(*) FROM ${eventsTable})::INTEGER AS effective_events,
             -- Later copies of an eventID: duplicates, but those that say something else are quarantined instead.
             ((SELECT count(*) - count(DISTINCT event_id) FROM ${bronzeTable})
               - (SELECT count(*) FROM quarantine.records WHERE job = ${sqlText(silverJob)} AND reason_code = 'conflicting_duplicate'))::INTEGER AS duplicates,
             (SELECT count(*) FROM quarantine.records WHERE job = ${sqlText(silverJob)})::INTEGER AS silver_quarantined`);
    const { bronze_rows, bronze_quarantined, effective_events, duplicates, silver_quarantined } = counts as {
      bronze_rows: number; bronze_quarantined: number; effective_events: number; duplicates: number; silver_quarantined: number;
    };
    const landingRecords = landingRecordCount(badInputCase);
    expect(bronze_rows + bronze_quarantined, 'landing records = bronze rows + bronze quarantine').toBe(landingRecords);
    expect(effective_events + duplicates + silver_quarantined, 'bronze rows = effective events + duplicates + silver quarantine').toBe(bronze_rows);
    const bronzeRun = results.find((result) => result.job === bronzeJob);
    expect(bronzeRun?.recordsRead, 'records the bronze run read').toBe(landingRecords);
    expect(results.find((result) => result.job === silverJob)?.recordsDuplicated, 'duplicates the silver run counted').toBe(duplicates);
  });

  // And the lake's own reconciliation (landing cut again = bronze + quarantine = silver + duplicates + quarantine) agrees.
  expect((await reconcileLake(lake)).differences, 'reconcileLake differences').toEqual([]);
}

const corpus = makeBadInputCorpus();

describe('bad-input corpus', () => {
  it('has at least 30 distinct kinds', () => {
    expect(new Set(corpus.map((badInputCase) => badInputCase.kind)).size).toBe(corpus.length);
    expect(corpus.length).toBeGreaterThanOrEqual(30);
  });

  for (const badInputCase of corpus) {
    const known = KNOWN_FAILURES[badInputCase.kind];
    const test = known === undefined ? it : it.fails;
    test(`${badInputCase.kind}: ${badInputCase.description}`, () => expectCase(badInputCase));
  }
});
