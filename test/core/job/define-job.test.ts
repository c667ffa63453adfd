import { describe, expect, it } from 'vitest';
import { JobDefinitionError, defineJob, defineTable, landingSource, tableSource, type SourceSpec } from '../../../core/index.ts';
import type { JobSpec } from '../../../core/job/index.ts';

const column = { name: 'id', type: 'BIGINT', description: 'Id.' };
const silverOut = defineTable({ name: 'silver.out', description: 'Output.', writeMode: 'replace_partitions', partitionBy: [], columns: [column] });
const goldOut = defineTable({ name: 'gold.out', description: 'Output.', writeMode: 'replace_partitions', partitionBy: [], columns: [column] });

function spec(overrides: Partial<JobSpec<Record<string, SourceSpec>>>): JobSpec<Record<string, SourceSpec>> {
  return {
    name: 'silver.out',
    description: 'A job.',
    sources: { events: tableSource('bronze.events') },
    outputs: [silverOut],
    transform: ({ input }) => ({ outputs: { 'silver.out': `SELECT id FROM ${input('events')}` } }),
    ...overrides,
  };
}

function problemsOf(job: JobSpec<Record<string, SourceSpec>>): JobDefinitionError {
  try {
    defineJob(job);
  } catch (error) {
    expect(error).toBeInstanceOf(JobDefinitionError);
    return error as JobDefinitionError;
  }
  throw new Error('defineJob accepted the job');
}

describe('defineJob', () => {
  it('accepts a sound job and derives its layer', () => {
    const job = defineJob(spec({ balance: { input: 'events', output: 'silver.out' } }));
    expect(job.layer).toBe('silver');
    expect(job.name).toBe('silver.out');
    expect(Object.isFrozen(job)).toBe(true);
    expect(defineJob(spec({ name: 'bronze.items', sources: { items: landingSource('items') }, outputs: [{ ...silverOut, name: 'bronze.items' }], perRecord: true })).layer).toBe('bronze');
  });

  it('lists every problem of a job in one error', () => {
    const error = problemsOf(
      spec({
        name: 'silver.Bad-Name',
        sources: { own: tableSource('silver.out'), BadSource: tableSource('bronze.x') },
        outputs: [silverOut, goldOut],
        balance: { input: 'nope', output: 'silver.nowhere' },
        perRecord: true,
      }),
    );
    expect(error.code).toBe('JOB_DEFINITION_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.job).toBe('silver.Bad-Name');
    expect(error.message).toContain('job silver.Bad-Name');
    const expected = [
      'name "silver.Bad-Name"',
      'a silver job cannot write gold.out',
      'it reads and writes silver.out',
      'source name BadSource must be snake_case',
      'perRecord needs exactly one source, a landing source',
      'balance names unknown input nope',
      'balance names unknown output silver.nowhere',
    ];
    for (const problem of expected) expect(error.message).toContain(problem);
    expect(error.message.split('; ')).toHaveLength(expected.length);
  });

  it('refuses a job that reads or writes nothing', () => {
    const error = problemsOf(spec({ sources: {}, outputs: [] }));
    expect(error.message).toContain('it reads no source');
    expect(error.message).toContain('it writes no table');
  });

  it('refuses perRecord on a job whose one source is a table', () => {
    expect(problemsOf(spec({ perRecord: true })).message).toContain('perRecord needs exactly one source, a landing source');
  });

  it('refuses an incremental job whose only table sources are snapshots', () => {
    expect(problemsOf(spec({ incremental: true, sources: { events: tableSource('bronze.events', { snapshot: true }) } })).message)
      .toContain('incremental needs a table source that is not a snapshot');
    expect(defineJob(spec({ incremental: true, sources: { events: tableSource('bronze.events'), lookup: tableSource('bronze.lookup', { snapshot: true }) } })).incremental).toBe(true);
  });

  it('refuses perRecord with two landing sources', () => {
    expect(problemsOf(spec({ perRecord: true, sources: { a: landingSource('a'), b: landingSource('b') } })).message).toContain('perRecord');
  });

  it.each(['quarantine.records', 'silver', 'silver.', 'platinum.x', 'silver.Tasks', 'silver.1x'])('refuses the job name %j', (name) => {
    expect(problemsOf(spec({ name })).message).toContain(`name ${JSON.stringify(name)}`);
  });

  it('refuses derivedOutputs that name tables it does not write, or derive from a derived table', () => {
    const second = defineTable({ ...silverOut, name: 'silver.out_history' });
    const third = defineTable({ ...silverOut, name: 'silver.out_current' });
    const outputs = [silverOut, second, third];
    expect(defineJob(spec({ outputs, derivedOutputs: { 'silver.out_history': 'silver.out', 'silver.out_current': 'silver.out' } })).derivedOutputs).toBeDefined();
    const error = problemsOf(spec({ outputs, derivedOutputs: { 'silver.nope': 'silver.out', 'silver.out_history': 'silver.gone', 'silver.out_current': 'silver.out_history' } }));
    expect(error.message).toContain('derivedOutputs names silver.nope, which is not an output');
    expect(error.message).toContain('derives silver.out_history from silver.gone, which is not an output');
    expect(error.message).toContain('derives silver.out_current from silver.out_history, which is itself derived');
  });
});
