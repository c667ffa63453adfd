import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';
import { startAthenaEndpoint } from '../support/athena-endpoint.ts';

/**
 * `medallion athena query` and `athena verify` through the real @aws-sdk/client-athena, against a loopback endpoint
 * speaking Athena's JSON protocol (no Athena runs offline): the requests they send, paging, a failed query, and verify
 * comparing each committed version's rows with what Athena counts. Not run against a real account.
 */

const tempDir = useFileTempDirs();
let lake = '';
let counts: Record<string, number> = {};
let lagging: string | undefined;
let athena: Awaited<ReturnType<typeof startAthenaEndpoint>>;

async function cli(args: readonly string[]) {
  const io = bufferIo();
  const code = await invoke(args, { io, env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_ATHENA: athena.url, MEDALLION_ATHENA_WORKGROUP: 'medallion-dev' } });
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  for (const [name, value] of Object.entries({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })) vi.stubEnv(name, value);
  lake = await tempDir('athena');
  await ok(['--lake', lake, 'generate', '--days', '1', '--users', '5', '--tasks-per-day', '10']);
  await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
  const rows = JSON.parse(await ok(['--lake', lake, 'tables', '--format', 'json'])) as { table: string; rows: number }[];
  counts = Object.fromEntries(rows.map((row) => [row.table, Number(row.rows)]));
  athena = await startAthenaEndpoint((sql) => {
    const count = /^SELECT count\(\*\) AS n FROM `(\w+)_(\w+)`\.`(\w+)`$/.exec(sql);
    if (count) {
      const table = `${count[2]}.${count[3]}`;
      if (table === 'gold.missing') return { error: 'TABLE_NOT_FOUND' };
      return { columns: [{ name: 'n', type: 'bigint' }], rows: [[String((counts[table] ?? 0) + (table === lagging ? -1 : 0))]] };
    }
    if (sql.includes('broken')) return { error: "SYNTAX_ERROR: line 1:8: Column 'broken' cannot be resolved" };
    return { columns: [{ name: 'dt', type: 'date' }, { name: 'tasks', type: 'bigint' }], rows: [['2025-11-01', '3'], ['2025-11-02', '4'], ['2025-11-03', null], ['2025-11-04', '9']] };
  });
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await athena?.stop();
});

describe('medallion athena query', () => {
  it('starts the query in the workgroup, waits for it, and streams every page of rows, numbers as numbers', async () => {
    athena.requests.length = 0;
    const result = await cli(['athena', 'query', 'SELECT dt, tasks FROM medallion_dev_gold.daily_task_kpis', '--format', 'json', '--database', 'medallion_dev_gold']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ dt: '2025-11-01', tasks: 3 }, { dt: '2025-11-02', tasks: 4 }, { dt: '2025-11-03', tasks: null }, { dt: '2025-11-04', tasks: 9 }]);
    expect(result.stderr).toContain('Athena query q-1, 1234 bytes scanned, results in s3://results-bucket/q-1.csv');
    const [start, ...rest] = athena.requests;
    expect(start).toEqual({ operation: 'StartQueryExecution', body: expect.objectContaining({ QueryString: 'SELECT dt, tasks FROM medallion_dev_gold.daily_task_kpis', WorkGroup: 'medallion-dev', QueryExecutionContext: { Database: 'medallion_dev_gold' } }) });
    expect(rest.map((request) => request.operation)).toEqual(['GetQueryExecution', 'GetQueryExecution', 'GetQueryResults', 'GetQueryResults']);
    expect(rest.at(-1)?.body).toEqual({ QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: '1' });
  });

  it('a query Athena fails is ATHENA_QUERY_FAILED with its reason, exit 1', async () => {
    const result = await cli(['athena', 'query', 'SELECT broken']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: ATHENA_QUERY_FAILED: Athena query q-\d+ FAILED: SYNTAX_ERROR: line 1:8: Column 'broken' cannot be resolved/m);
  });
});

describe('medallion athena verify', () => {
  it('counts every committed table in Athena and matches the committed version\'s rows; one that lags is named, exit 1', async () => {
    lagging = undefined;
    const verified = await cli(['--lake', lake, '--glue-database-prefix', 'medallion_dev', 'athena', 'verify', '--format', 'json']);
    expect(verified.code, verified.stderr).toBe(0);
    const rows = JSON.parse(verified.stdout) as { table: string; lake_rows: number; athena_rows: number; ok: string }[];
    // Every table of the pipeline has a committed version after run --all.
    expect(rows.map((row) => row.table)).toEqual(expect.arrayContaining(['bronze.tasks_cdc', 'silver.tasks', 'silver.users_history', 'gold.daily_task_kpis', 'quarantine.records', 'quality.results']));
    for (const row of rows) expect(row).toMatchObject({ lake_rows: counts[row.table], athena_rows: counts[row.table], ok: 'yes' });
    expect(verified.stderr).toContain(`Athena sees the committed rows of all ${rows.length} tables`);
    // The catalog points silver.tasks at an older version: Athena counts one row fewer.
    lagging = 'silver.tasks';
    const behind = await cli(['--lake', lake, '--glue-database-prefix', 'medallion_dev', 'athena', 'verify', '--format', 'json']);
    expect(behind.code).toBe(1);
    expect(behind.stderr).toMatch(/ATHENA_VERIFY_FAILED: Athena does not see the committed rows of silver\.tasks \(publish the committed versions with `medallion catalog publish`/);
    expect((JSON.parse(behind.stdout) as { table: string; ok: string }[]).filter((row) => row.ok === 'NO').map((row) => row.table)).toEqual(['silver.tasks']);
  });
});
