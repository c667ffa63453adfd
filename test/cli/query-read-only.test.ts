import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { runCli } from './cli-output.ts';

let lake: string;
beforeAll(async () => {
  lake = await mkdtemp(path.join(tmpdir(), 'medallion-query-ro-'));
  const opened = openLocalLake(lake, { threads: 2 });
  await generateLanding(opened.storage, { seed: 2, days: 1, users: 5, tasksPerDay: 6 });
  await runJobs(opened, PIPELINE_JOBS);
});

const query = (...args: string[]) => runCli(lake, 'query', ...args);

describe('medallion query is read-only', () => {
  it('runs queries over the tables', async () => {
    const result = await query('WITH t AS (SELECT count(*) AS n FROM silver.tasks) SELECT n > 0 AS ok FROM t', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ ok: true }]);
    expect((await query('EXPLAIN SELECT * FROM gold.daily_task_kpis')).code).toBe(0);
  });

  it.each([
    ['COPY (SELECT 1) TO', `COPY (SELECT 1 AS a) TO '${'<lake>'}/_state/roots/999999999999.json'`, 'COPY'],
    ['CREATE TABLE', 'CREATE TABLE t AS SELECT 1', 'CREATE'],
    ['ATTACH', `ATTACH '${'<lake>'}/_catalog/other.duckdb'`, 'ATTACH'],
    ['SET', 'SET enable_external_access = true', 'SET'],
    ['a query then a COPY', `SELECT 1; COPY (SELECT 1) TO '${'<lake>'}/x.csv'`, 'COPY'],
  ])('refuses %s, and writes nothing', async (_label, template, kind) => {
    const before = await readdir(path.join(lake, '_state', 'roots'));
    const result = await query(template.replaceAll('<lake>', lake));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error: QUERY_NOT_READ_ONLY: medallion query runs queries only; statement \\d is ${kind}`));
    expect(await readdir(path.join(lake, '_state', 'roots'))).toEqual(before);
    expect(existsSync(path.join(lake, 'x.csv'))).toBe(false);
  });

  it('reads no file outside the lake\'s tables unless --allow-local-files', async () => {
    const file = path.join(lake, '_state', 'HEAD');
    const refused = await query(`SELECT content FROM read_text('${file}')`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/file system operations are disabled.*--allow-local-files/s);
    const outside = await query("SELECT * FROM read_text('/etc/hostname')");
    expect(outside.code).toBe(2);
    const allowed = await query(`SELECT length(content) > 0 AS ok FROM read_text('${file}')`, '--allow-local-files', '--format', 'json');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toEqual([{ ok: true }]);
  });
});
