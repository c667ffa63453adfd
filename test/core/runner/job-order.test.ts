import { describe, expect, it } from 'vitest';
import { ConfigError, defineJob, defineTable, landingSource, orderJobs, tableSource, type Job, type SourceSpec, type TableName } from '../../../core/index.ts';

function table(name: TableName) {
  return defineTable({ name, description: 'A table.', writeMode: 'replace_partitions', partitionBy: [], columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }] });
}

function job(name: TableName, sources: Record<string, SourceSpec>, writes: readonly TableName[] = [name]): Job {
  return defineJob({
    name,
    description: 'A job.',
    sources,
    outputs: writes.map(table),
    transform: () => ({ outputs: Object.fromEntries(writes.map((output) => [output, 'SELECT 1 AS id'])) }),
  });
}

const names = (jobs: readonly Job[]) => jobs.map((entry) => entry.name);

describe('orderJobs', () => {
  it('runs each job after the jobs that write the tables it reads', () => {
    const bronze = job('bronze.events', { landing: landingSource('events') });
    const users = job('bronze.users', { landing: landingSource('users') });
    const silver = job('silver.events', { events: tableSource('bronze.events'), users: tableSource('bronze.users') });
    const gold = job('gold.kpis', { events: tableSource('silver.events') });
    const ordered = orderJobs([gold, silver, users, bronze]);
    expect(ordered).toHaveLength(4);
    const position = (entry: Job) => ordered.indexOf(entry);
    expect(position(bronze)).toBeLessThan(position(silver));
    expect(position(users)).toBeLessThan(position(silver));
    expect(position(silver)).toBeLessThan(position(gold));
  });

  it('keeps the given order of independent jobs and runs each job once', () => {
    const a = job('bronze.a', { landing: landingSource('a') });
    const b = job('bronze.b', { landing: landingSource('b') });
    const both = job('silver.both', { a: tableSource('bronze.a'), b: tableSource('bronze.b') });
    const again = job('silver.again', { a: tableSource('bronze.a') });
    expect(names(orderJobs([b, a, both, again]))).toEqual(['bronze.b', 'bronze.a', 'silver.both', 'silver.again']);
  });

  it('orders by the table a job writes, even when it writes several', () => {
    const writer = job('silver.multi', { raw: tableSource('bronze.raw') }, ['silver.multi', 'silver.side']);
    const reader = job('gold.side', { side: tableSource('silver.side') });
    expect(names(orderJobs([reader, writer]))).toEqual(['silver.multi', 'gold.side']);
  });

  it('runs a job reading a table no listed job writes', () => {
    expect(names(orderJobs([job('gold.kpis', { events: tableSource('silver.events') })]))).toEqual(['gold.kpis']);
  });

  it('refuses a cycle, naming the jobs in it', () => {
    const a = job('silver.a', { b: tableSource('silver.b') });
    const b = job('silver.b', { c: tableSource('silver.c') });
    const c = job('silver.c', { a: tableSource('silver.a') });
    let error: unknown;
    try {
      orderJobs([a, b, c]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('JOB_CYCLE');
    expect((error as ConfigError).message).toContain('silver.a -> silver.b -> silver.c -> silver.a');
  });
});
