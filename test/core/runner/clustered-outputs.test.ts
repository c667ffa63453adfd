import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobDefinitionError, defineJob, defineTable, landingSource, openLocalLake, runJob, type JobPlan, type Lake } from '../../../core/index.ts';
import { queryLake } from '../../support/pipeline-check.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();
const numbers = defineTable({
  name: 'silver.numbers',
  description: 'Numbers, by their remainder.',
  writeMode: 'replace_partitions',
  partitionBy: ['remainder'],
  columns: [
    { name: 'n', type: 'BIGINT', description: 'A number.' },
    { name: 'remainder', type: 'BIGINT', description: 'n modulo 7.' },
  ],
});
const total = defineTable({ name: 'silver.number_total', description: 'Their sum.', writeMode: 'replace_partitions', partitionBy: [], columns: [{ name: 'n', type: 'BIGINT', description: 'The sum.' }] });

function job(plan: (input: string) => JobPlan) {
  return defineJob({
    name: 'silver.numbers',
    description: 'Numbers and their total.',
    sources: { things: landingSource('things') },
    outputs: [numbers, total],
    transform: ({ input }) => plan(input('things')),
  });
}

/** The lake, keeping the COPY statements its engines run. */
function watchingCopies(lake: Lake): { lake: Lake; copies: () => string[] } {
  const seen: string[] = [];
  const createEngine = async () => {
    const engine = await lake.createEngine();
    const query = engine.query.bind(engine);
    engine.query = (sql: string) => {
      if (sql.trimStart().startsWith('COPY')) seen.push(sql);
      return query(sql);
    };
    return engine;
  };
  return { lake: { ...lake, createEngine }, copies: () => seen };
}

async function lakeWithThings(): Promise<string> {
  const dir = await tempDir('clustered');
  await mkdir(path.join(dir, 'landing/things/2025/11/01/00'), { recursive: true });
  await writeFile(path.join(dir, 'landing/things/2025/11/01/00/things-1'), '{"n":1}\n');
  return dir;
}

describe('a plan that says an output comes clustered by partition', () => {
  // Rows in no partition order at all: the claim is only about speed, so every row still lands in its partition.
  const outputs = {
    'silver.numbers': 'SELECT n, n % 7 AS remainder FROM (SELECT hash(i) % 100000 AS n FROM range(200000) AS t(i))',
    'silver.number_total': 'SELECT 1::BIGINT AS n',
  };

  it('has it written as it comes, not sorted first, each row in its partition even when the rows come out of order', async () => {
    const lake = openLocalLake(await lakeWithThings(), { threads: 2 });
    const { lake: watched, copies } = watchingCopies(lake);
    await runJob(watched, job(() => ({ outputs, clustered: ['silver.numbers'] })));
    expect(copies().filter((sql) => sql.includes('/numbers/'))).toEqual([expect.not.stringContaining('ORDER BY')]);
    const rows = await queryLake(lake, 'SELECT remainder, count(*) AS n, count(*) FILTER (WHERE n % 7 <> remainder) AS misplaced FROM silver.numbers GROUP BY ALL ORDER BY remainder');
    expect(rows.map((row) => Number(row.remainder))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(rows.reduce((sum, row) => sum + Number(row.n), 0)).toBe(200000);
    expect(rows.every((row) => Number(row.misplaced) === 0)).toBe(true);
  });

  it('is what spares the sort: without it the same output is sorted by partition before it is written', async () => {
    const lake = openLocalLake(await lakeWithThings(), { threads: 2 });
    const { lake: watched, copies } = watchingCopies(lake);
    await runJob(watched, job(() => ({ outputs })));
    expect(copies().filter((sql) => sql.includes('/numbers/'))).toEqual([expect.stringContaining('ORDER BY "remainder"')]);
  });

  it('is refused for an output that is not partitioned', async () => {
    const lake = openLocalLake(await lakeWithThings());
    const error = await runJob(lake, job(() => ({ outputs, clustered: ['silver.number_total'] }))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobDefinitionError);
    expect((error as Error).message).toContain('clustered names silver.number_total, which is not a partitioned output');
  });
});
