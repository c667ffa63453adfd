import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, tableSource, type Job, type SourceSpec, type TableName } from '../../../core/index.ts';
import { ConfigError } from '../../../core/errors.ts';
import { jobGraph, orderJobs } from '../../../core/runner/index.ts';
import { pipelineRuleSets } from '../../../infra/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';

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

describe('jobGraph order', () => {
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

const reader = (name: TableName, reads: TableName[]) => job(name, Object.fromEntries(reads.map((source, index) => [`s${index}`, tableSource(source)])));

describe('jobGraph stages', () => {
  it('puts each job one stage after the latest job whose table it reads: bronze, then silver, then gold', () => {
    const stages = jobGraph(PIPELINE_JOBS).stages;
    expect(stages.flat().map((candidate) => candidate.name).sort()).toEqual(PIPELINE_JOBS.map((candidate) => candidate.name).sort());
    expect(stages.map((stage) => [...new Set(stage.map((candidate) => candidate.layer))])).toEqual([['bronze'], ['silver'], ['gold']]);
    const stageOf = new Map(stages.flatMap((stage, index) => stage.map((candidate) => [candidate.name, index] as const)));
    for (const job of PIPELINE_JOBS) {
      for (const source of Object.values(job.sources)) {
        if (source.kind !== 'table') continue;
        const writer = PIPELINE_JOBS.find((candidate) => candidate.outputs.some((output) => output.name === source.table))!;
        expect(stageOf.get(writer.name)!, `${job.name} reads ${source.table}`).toBeLessThan(stageOf.get(job.name)!);
      }
    }
  });

  it('runs a job that reads another job of its own layer in a later stage, and refuses a cycle', () => {
    const kpis = reader('gold.test_kpis', ['silver.tasks']);
    const rollup = reader('gold.test_rollup', ['gold.test_kpis']);
    const stages = jobGraph([...PIPELINE_JOBS, rollup, kpis]).stages.map((stage) => stage.map((candidate) => candidate.name));
    expect(stages[2]).toContain('gold.test_kpis');
    expect(stages[3]).toEqual(['gold.test_rollup']);

    const first = reader('gold.test_a', ['gold.test_b']);
    const second = reader('gold.test_b', ['gold.test_a']);
    expect(() => jobGraph([first, second])).toThrow(/cycle/);
  });

  it("runs a job after the writers of the tables its quality rules reference (silver.tasks' rules check silver.users)", () => {
    const ruleSets = pipelineRuleSets();
    expect(ruleSets.find((set) => set.table === 'silver.tasks')?.references).toEqual({ users: 'silver.users' });
    const graph = jobGraph(PIPELINE_JOBS, ruleSets);
    const layerJobs = (layer: string) => PIPELINE_JOBS.filter((candidate) => candidate.layer === layer).map((candidate) => candidate.name).sort();
    expect(graph.stages.map((stage) => stage.map((candidate) => candidate.name).sort())).toEqual([
      layerJobs('bronze'),
      ['silver.users'],
      ['silver.tasks'],
      layerJobs('gold'),
    ]);
    const silverTasks = PIPELINE_JOBS.find((candidate) => candidate.name === 'silver.tasks')!;
    expect(graph.upstreamOf(silverTasks).map((candidate) => candidate.name).sort()).toEqual(['bronze.tasks_cdc', 'silver.users']);
  });

  it('refuses jobs that wait on each other only through their quality rules, before any of them runs', () => {
    const a = reader('gold.test_a', ['silver.tasks']);
    const b = reader('gold.test_b', ['gold.test_a']);
    const references = [{ table: 'gold.test_a', references: { b: 'gold.test_b' } }];
    expect(() => jobGraph([a, b], references)).toThrow(ConfigError);
    expect(() => jobGraph([a, b], references)).toThrow(/gold\.test_a -> gold\.test_b -> gold\.test_a|gold\.test_b -> gold\.test_a -> gold\.test_b/);
    expect(jobGraph([a, b]).stages.map((stage) => stage.map((candidate) => candidate.name))).toEqual([['gold.test_a'], ['gold.test_b']]);
  });
});
