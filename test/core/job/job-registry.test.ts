import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, type TableName } from '../../../core/index.ts';
import { ConfigError } from '../../../core/errors.ts';
import { isJob, jobsExportedBy, tablesWrittenBy } from '../../../core/job/index.ts';
import { QUARANTINE_TABLE } from '../../../core/table/index.ts';

const table = (name: TableName) =>
  defineTable({ name, description: 'A table.', writeMode: 'append', partitionBy: [], columns: [{ name: 'id', type: 'BIGINT', description: 'Id.' }] });
const job = (name: string, writes: TableName) =>
  defineJob({ name, description: 'A job.', sources: { raw: landingSource('raw') }, outputs: [table(writes)], transform: () => ({ outputs: { [writes]: 'SELECT 1 AS id' } }) });

describe('jobsExportedBy', () => {
  it('finds the jobs among a module\'s exports, by layer then name, each once, and leaves other exports out', () => {
    const gold = job('gold.b', 'gold.b');
    const bronze = job('bronze.a', 'bronze.a');
    const found = jobsExportedBy([{ gold, helper: () => 1, spec: table('gold.x') }, { bronze, again: gold }]);
    expect(found.map((entry) => entry.name)).toEqual(['bronze.a', 'gold.b']);
    expect(tablesWrittenBy(found, [QUARANTINE_TABLE]).map((spec) => spec.name)).toEqual(['bronze.a', 'gold.b', 'quarantine.records']);
  });

  it('does not take a copy of a job for a checked one', () => {
    const checked = job('bronze.a', 'bronze.a');
    expect(isJob(checked)).toBe(true);
    expect(isJob({ ...checked })).toBe(false);
  });

  it('refuses, in one error, two jobs of one name, two writers of one table, and an empty registry', () => {
    let error: unknown;
    try {
      jobsExportedBy([{ first: job('bronze.a', 'bronze.a'), second: job('bronze.a', 'bronze.other'), third: job('bronze.c', 'bronze.other') }]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('JOB_REGISTRY_INVALID');
    expect((error as ConfigError).message).toContain('two jobs are named bronze.a');
    expect((error as ConfigError).message).toContain('bronze.other is written by both bronze.a and bronze.c');
    expect(() => jobsExportedBy([{ notAJob: 1 }])).toThrow(/export no job made by defineJob/);
  });
});
