import { HiveSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';
import { linesOf, stackFrames, withoutLakeLine } from './cli-output.ts';

const LOCATION = ['--location', 's3://example-lake-bucket/lake'];

async function run(args: string[]) {
  const io = bufferIo();
  const code = await invoke(args, { io, env: {} });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

describe('medallion athena ddl', () => {
  it('prints the database and table DDL for one table', async () => {
    const result = await run(['athena', 'ddl', 'gold.daily_task_kpis', ...LOCATION, '--database-prefix', 'analytics']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    // It says what version 0 is: no manifest until a commit is published.
    expect(result.stdout.startsWith('-- Athena DDL of gold.daily_task_kpis for the lake at s3://example-lake-bucket/lake (Glue databases analytics_<layer>).\n-- Version 0:')).toBe(true);
    expect(result.stdout).toContain('catalog publish');
    expect(result.stdout.split('\n').filter((line) => !line.startsWith('--')).join('\n').trimStart().startsWith('CREATE DATABASE IF NOT EXISTS `analytics_gold`;\n')).toBe(true);
    expect(result.stdout).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `analytics_gold`.`daily_task_kpis` (');
    expect(result.stdout).toContain("LOCATION 's3://example-lake-bucket/lake/gold/_symlink/daily_task_kpis/current/'");
    expect(result.stdout.match(/CREATE EXTERNAL TABLE/g)).toHaveLength(1);
    expect(new HiveSQL().validate(result.stdout)).toEqual([]);
  });

  it('prints every table when none is named, databases first', async () => {
    const result = await run(['athena', 'ddl', ...LOCATION]);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/CREATE EXTERNAL TABLE/g)).toHaveLength(PIPELINE_TABLES.length);
    for (const spec of PIPELINE_TABLES) expect(result.stdout).toContain(`\`medallion_${spec.name.replace('.', '`.`')}\``);
    const statements = linesOf(result.stdout).filter((line) => line.startsWith('CREATE'));
    expect(statements.slice(0, 5)).toEqual(['bronze', 'gold', 'quality', 'quarantine', 'silver'].map((layer) => `CREATE DATABASE IF NOT EXISTS \`medallion_${layer}\`;`));
    expect(new HiveSQL().validate(result.stdout)).toEqual([]);
  });

  it('refuses an unknown table on one line, listing the known ones, with exit 2', async () => {
    const result = await run(['athena', 'ddl', 'gold.nope', ...LOCATION]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: ATHENA_TABLE_UNKNOWN: no table "gold.nope"; known tables: /);
    for (const spec of PIPELINE_TABLES) expect(result.stderr).toContain(spec.name);
    expect(stackFrames(result.stderr)).toEqual([]);
  });

  it('refuses a missing or malformed location and database prefix in one message', async () => {
    const missing = await run(['athena', 'ddl']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: ATHENA_OPTIONS_INVALID: --location is required/);
    const bad = await run(['athena', 'ddl', '--location', 'https://example.com', '--database-prefix', 'Bad-Prefix']);
    expect(bad.code).toBe(2);
    expect(linesOf(bad.stderr)).toHaveLength(1);
    expect(bad.stderr).toContain('--database-prefix "Bad-Prefix"');
    expect(bad.stderr).toContain('--location "https://example.com"');
  });
});
