import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, runJob, tableSource, type Lake } from '../../../core/index.ts';
import { queryLake } from '../../support/pipeline-check.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();
const enable = { bookmark: { option: 'job-bookmark-enable' as const } };

const numbers = defineTable({
  name: 'bronze.numbers',
  description: 'Numbers as they landed.',
  writeMode: 'append',
  partitionBy: ['remainder'],
  columns: [
    { name: 'n', type: 'BIGINT', description: 'The number.' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object.' },
    { name: 'record_index', type: 'BIGINT', description: 'Position in the object.' },
    { name: 'remainder', type: 'BIGINT', description: 'Partition: n modulo 5.' },
  ],
});

const bronzeJob = defineJob({
  name: 'bronze.numbers',
  description: 'Numbers from landing.',
  sources: { numbers: landingSource('numbers') },
  outputs: [numbers],
  perRecord: true,
  balance: { input: 'numbers', output: 'bronze.numbers' },
  transform: ({ input }) => ({
    outputs: { 'bronze.numbers': `SELECT (raw::JSON->>'n')::BIGINT AS n, source_object, record_index, (raw::JSON->>'n')::BIGINT % 5 AS remainder FROM ${input('numbers')}` },
  }),
});

/** The earlier rows of a number that came again, found two ways: by beforeMatching, and by a filter on before(). */
const earlierColumns = numbers.columns.filter((column) => column.name !== 'remainder');
const matched = defineTable({ name: 'silver.matched', description: 'Earlier rows of numbers that came again.', writeMode: 'append', partitionBy: [], columns: earlierColumns });
const filtered = defineTable({ name: 'silver.filtered', description: 'The same, by a filter.', writeMode: 'append', partitionBy: [], columns: earlierColumns });

const repeatsJob = defineJob({
  name: 'silver.repeats',
  description: 'The earlier rows of numbers that land again.',
  sources: { numbers: tableSource('bronze.numbers') },
  outputs: [matched, filtered],
  incremental: true,
  transform: ({ mode, input, delta, before, beforeMatching }) => {
    if (mode === 'full') {
      const none = `SELECT n, source_object, record_index FROM ${input('numbers')} WHERE false`;
      return { outputs: { 'silver.matched': none, 'silver.filtered': none } };
    }
    const keys = `SELECT n FROM ${delta('numbers')}`;
    return {
      outputs: {
        'silver.matched': `SELECT * EXCLUDE (remainder) FROM ${beforeMatching('numbers', 'n', keys)}`,
        'silver.filtered': `SELECT * EXCLUDE (remainder) FROM ${before('numbers')} WHERE n IN (${keys})`,
      },
    };
  },
});

async function land(lake: Lake, object: string, values: readonly number[]): Promise<void> {
  await lake.storage.put(`landing/numbers/2025/11/01/00/${object}`, Buffer.from(values.map((n) => `{"n":${n}}\n`).join('')));
}

async function runBoth(lake: Lake): Promise<void> {
  await runJob(lake, bronzeJob, enable);
  await runJob(lake, repeatsJob, enable);
}

const ROWS = 'SELECT n, source_object, record_index FROM {table} ORDER BY ALL';

describe('beforeMatching in an incremental run', () => {
  it('gives exactly the earlier rows a plain filter on before() gives', async () => {
    const lake = openLocalLake(await tempDir('before-matching'), { threads: 2 });
    // Two runs of earlier rows, in files of five partitions each.
    await land(lake, 'numbers-1', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await runBoth(lake);
    await land(lake, 'numbers-2', [11, 12, 13, 14, 15, 3, 3]);
    await runBoth(lake);
    // 3 came before three times, 12 once, 15 once; 40 and 41 are new.
    await land(lake, 'numbers-3', [3, 12, 15, 40, 41]);
    await runBoth(lake);
    const rows = await queryLake(lake, ROWS.replace('{table}', 'silver.matched'));
    expect(rows).toEqual(await queryLake(lake, ROWS.replace('{table}', 'silver.filtered')));
    // The last run's matches (each run writes its own): every earlier 3, 12 and 15, from both earlier objects.
    const object = (name: string) => `landing/numbers/2025/11/01/00/${name}`;
    expect(rows).toEqual([
      { n: 3, source_object: object('numbers-1'), record_index: 2 },
      { n: 3, source_object: object('numbers-2'), record_index: 5 },
      { n: 3, source_object: object('numbers-2'), record_index: 6 },
      { n: 12, source_object: object('numbers-2'), record_index: 1 },
      { n: 15, source_object: object('numbers-2'), record_index: 4 },
    ]);
  });

  it('gives no row when before() has no file, and when no key matches', async () => {
    const lake = openLocalLake(await tempDir('before-matching'), { threads: 2 });
    const counts = async () => [
      ...(await queryLake(lake, 'SELECT count(*) AS n FROM silver.matched')),
      ...(await queryLake(lake, 'SELECT count(*) AS n FROM silver.filtered')),
    ];
    await runBoth(lake);
    await land(lake, 'numbers-1', [1, 2]);
    await runBoth(lake);
    expect(await counts()).toEqual([{ n: 0 }, { n: 0 }]);
    await land(lake, 'numbers-2', [3, 4]);
    await runBoth(lake);
    expect(await counts()).toEqual([{ n: 0 }, { n: 0 }]);
  });

  it('finds the rows of a before() of one file (its partition values spelled out)', async () => {
    const lake = openLocalLake(await tempDir('before-matching'), { threads: 2 });
    await land(lake, 'numbers-1', [5]);
    await runBoth(lake);
    await land(lake, 'numbers-2', [5, 6]);
    await runBoth(lake);
    const rows = await queryLake(lake, ROWS.replace('{table}', 'silver.matched'));
    expect(rows).toEqual([{ n: 5, source_object: 'landing/numbers/2025/11/01/00/numbers-1', record_index: 0 }]);
    expect(rows).toEqual(await queryLake(lake, ROWS.replace('{table}', 'silver.filtered')));
  });

  it('finds the rows of a table with a column named filename, which hides the file name DuckDB gives', async () => {
    const lake = openLocalLake(await tempDir('before-matching'), { threads: 2 });
    const named = defineTable({
      name: 'bronze.named',
      description: 'Numbers and a name.',
      writeMode: 'append',
      partitionBy: [],
      columns: [
        { name: 'n', type: 'BIGINT', description: 'The number.' },
        { name: 'filename', type: 'VARCHAR', description: 'A name; NULL for odd numbers.' },
      ],
    });
    const namedJob = defineJob({
      name: 'bronze.named',
      description: 'Numbers from landing, named.',
      sources: { numbers: landingSource('numbers') },
      outputs: [named],
      transform: ({ input }) => ({ outputs: { 'bronze.named': `SELECT (raw::JSON->>'n')::BIGINT AS n, CASE WHEN n % 2 = 0 THEN 'name-' || n END AS filename FROM ${input('numbers')}` } }),
    });
    const found = defineTable({ name: 'silver.found', description: 'Earlier rows found.', writeMode: 'append', partitionBy: [], columns: named.columns });
    const findJob = defineJob({
      name: 'silver.found',
      description: 'The earlier rows of numbers that land again.',
      sources: { named: tableSource('bronze.named') },
      outputs: [found],
      incremental: true,
      transform: ({ mode, input, delta, beforeMatching }) => ({
        outputs: { 'silver.found': mode === 'full' ? `SELECT * FROM ${input('named')} WHERE false` : `SELECT * FROM ${beforeMatching('named', 'n', `SELECT n FROM ${delta('named')}`)}` },
      }),
    });
    await land(lake, 'numbers-1', [1, 2, 3]);
    await runJob(lake, namedJob, enable);
    await runJob(lake, findJob, enable);
    await land(lake, 'numbers-2', [2, 3, 9]);
    await runJob(lake, namedJob, enable);
    await runJob(lake, findJob, enable);
    expect(await queryLake(lake, 'SELECT n, filename FROM silver.found ORDER BY n')).toEqual([{ n: 2, filename: 'name-2' }, { n: 3, filename: null }]);
  });
});
