import { describe, expect, it } from 'vitest';
import { JobDefinitionError, defineJob, defineTable, landingSource, openLocalLake, runJob, type Lake } from '../../../core/index.ts';
import type { Engine } from '../../../core/engine/index.ts';
import type { TableManifest } from '../../../core/table/index.ts';
import { queryLake } from '../../support/pipeline-check.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

const things = defineTable({
  name: 'bronze.things',
  description: 'Numbers as they landed.',
  writeMode: 'append',
  partitionBy: ['day'],
  columns: [
    { name: 'n', type: 'BIGINT', description: 'The number.' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object.' },
    { name: 'record_index', type: 'BIGINT', description: 'Position in the object.' },
    { name: 'day', type: 'DATE', description: 'Partition: a day from the number.' },
  ],
});

/**
 * A job that runs in batches: negative numbers are quarantined, the rest written by day. `output` is the
 * expression of n, `day` that of day (null: the output lacks it).
 */
function thingsJob(output = 'n', day: string | null = "DATE '2025-11-01' + (n % 5)::INTEGER") {
  return defineJob({
    name: 'bronze.things',
    description: 'Numbers from landing; negative ones are quarantined.',
    sources: { things: landingSource('things') },
    outputs: [things],
    perRecord: true,
    balance: { input: 'things', output: 'bronze.things' },
    transform: ({ input, step }) => ({
      steps: [{ name: 'numbers', sql: `SELECT source_object, record_index, raw, (raw::JSON->>'n')::BIGINT AS n FROM ${input('things')}` }],
      outputs: { 'bronze.things': `SELECT ${output} AS n, source_object, record_index${day === null ? '' : `, ${day} AS day`} FROM ${step('numbers')} WHERE n >= 0` },
      // Read from the input itself, the batch's spool, as an output may.
      quarantine: `SELECT source_object, record_index, 'negative' AS reason_code, 'a negative number' AS reason, raw FROM ${input('things')} WHERE (raw::JSON->>'n')::BIGINT < 0`,
    }),
  });
}

/** Lands objects `from` to `to` (exclusive) of 20 records each, every tenth number negative: about 200 bytes an object. */
async function landThings(lake: Lake, from: number, to: number): Promise<{ good: number; negative: number }> {
  let good = 0;
  let negative = 0;
  for (let object = from; object < to; object += 1) {
    const numbers = Array.from({ length: 20 }, (_, index) => (index % 10 === 9 ? -(object * 20 + index) : object * 20 + index));
    good += numbers.filter((n) => n >= 0).length;
    negative += numbers.filter((n) => n < 0).length;
    await lake.storage.put(`landing/things/2025/11/01/${String(object).padStart(2, '0')}/things-${object}`, Buffer.from(numbers.map((n) => `{"n":${n}}\n`).join('')));
  }
  return { good, negative };
}

/** A lake with 12 objects landed: in batches of 500 bytes, 6 batches or more. */
async function lakeWithThings(): Promise<{ lake: Lake; good: number; negative: number }> {
  const lake = openLocalLake(await tempDir('write-behind'), { threads: 2 });
  return { lake, ...(await landThings(lake, 0, 12)) };
}

/**
 * The lake, with a hook on the first COPY run on each fork of its engines (where a batch is written while
 * the next one's steps run) and a record of the statements the engines themselves run.
 */
function watching(lake: Lake, onForkCopy: (main: string[]) => Promise<void>): Lake {
  const createEngine = async () => {
    const engine = await lake.createEngine();
    const main: string[] = [];
    const run = engine.run.bind(engine);
    engine.run = async (sql: string) => {
      await run(sql);
      main.push(sql);
    };
    const fork = engine.fork.bind(engine);
    engine.fork = async (): Promise<Engine> => {
      const session = await fork();
      const query = session.query.bind(session);
      let first = true;
      session.query = async (sql: string) => {
        if (first && sql.trimStart().startsWith('COPY')) {
          first = false;
          await onForkCopy(main);
        }
        return query(sql);
      };
      return session;
    };
    return engine;
  };
  return { ...lake, createEngine };
}

const STEP = 'CREATE OR REPLACE TABLE "step_numbers"';

describe('a job that runs in batches', () => {
  it('writes a batch while the next one\'s steps replace the tables it reads, and writes that batch\'s rows', async () => {
    const { lake, good, negative } = await lakeWithThings();
    let held = 0;
    // Each batch written behind starts its COPY only once the next batch's step has been made again.
    const watched = watching(lake, async (main) => {
      held += 1;
      const stepsBefore = main.filter((sql) => sql.startsWith(STEP)).length;
      while (main.filter((sql) => sql.startsWith(STEP)).length === stepsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
    });
    const result = await runJob(watched, thingsJob(), { batchBytes: 500 });
    const root = await lake.state.readRoot();
    const manifest = await lake.state.getDocument<TableManifest>(root.tables['bronze.things']?.manifest as string);
    const batches = new Set(Object.values(manifest.partitions).flatMap((entry) => entry.files.map((file) => /\/(batch-\d+)\//.exec(file.key)?.[1])));
    expect(batches.size).toBeGreaterThan(3);
    // Every batch but the last was written behind (the last has no next batch to wait for).
    expect(held).toBe(batches.size - 1);
    expect(result).toMatchObject({ recordsRead: good + negative, recordsWritten: { 'bronze.things': good }, recordsQuarantined: negative });
    const rows = await queryLake(lake, 'SELECT count(*) AS n, count(DISTINCT n) AS distinct_n, min(n) AS low, max(n) AS high FROM bronze.things');
    expect(rows).toEqual([{ n: good, distinct_n: good, low: 0, high: 238 }]);
    const set = await queryLake(lake, "SELECT count(*) AS n, count(DISTINCT raw) AS distinct_raw FROM quarantine.records WHERE reason_code = 'negative'");
    expect(set).toEqual([{ n: negative, distinct_raw: negative }]);
  });

  it('writes behind in a bookmarked run that finds records it already holds, and takes none of them twice', async () => {
    const { lake, good, negative } = await lakeWithThings();
    const enable = { bookmark: { option: 'job-bookmark-enable' as const }, batchBytes: 500 };
    await runJob(lake, thingsJob(), enable);
    // Six objects landed again under their own keys (the same bytes, newer than the bookmark), and four new ones.
    const again = await landThings(lake, 6, 12);
    const fresh = await landThings(lake, 12, 16);
    let held = 0;
    const watched = watching(lake, async () => {
      held += 1;
    });
    const result = await runJob(watched, thingsJob(), enable);
    expect(held).toBeGreaterThan(2);
    expect(result).toMatchObject({
      recordsRead: again.good + again.negative + fresh.good + fresh.negative,
      recordsAlreadyHeld: again.good + again.negative,
      recordsWritten: { 'bronze.things': fresh.good },
      recordsQuarantined: fresh.negative,
    });
    const rows = await queryLake(lake, 'SELECT count(*) AS n, count(DISTINCT n) AS distinct_n FROM bronze.things');
    expect(rows).toEqual([{ n: good + fresh.good, distinct_n: good + fresh.good }]);
    const set = await queryLake(lake, "SELECT count(*) AS n, count(DISTINCT raw) AS distinct_raw FROM quarantine.records WHERE reason_code = 'negative'");
    expect(set).toEqual([{ n: negative + fresh.negative, distinct_raw: negative + fresh.negative }]);
  });

  it('fails with nothing committed when a batch written behind fails, and runs again after', async () => {
    const { lake, good } = await lakeWithThings();
    // The first object's records make the write fail, not the steps: the batch is written behind.
    const failing = thingsJob("CASE WHEN source_object LIKE '%things-0' THEN error('no writing this batch') ELSE n END");
    const error = await runJob(lake, failing, { batchBytes: 500 }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('no writing this batch');
    expect((await lake.state.readRoot()).tables['bronze.things']).toBeUndefined();
    const again = await runJob(lake, thingsJob(), { batchBytes: 500 });
    expect(again.recordsWritten).toEqual({ 'bronze.things': good });
  });

  it('says which column an output lacks, as a run in one batch does', async () => {
    const { lake } = await lakeWithThings();
    const error = await runJob(lake, thingsJob('n', null), { batchBytes: 500 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobDefinitionError);
    expect((error as Error).message).toContain('output lacks columns day');
  });

  it('stops with nothing committed when stopped while a batch is written behind', async () => {
    const { lake } = await lakeWithThings();
    const stop = new AbortController();
    const watched = watching(lake, async () => stop.abort(new Error('stopped by the test')));
    const error = await runJob(watched, thingsJob(), { batchBytes: 500, signal: stop.signal }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((await lake.state.readRoot()).tables['bronze.things']).toBeUndefined();
  });
});
