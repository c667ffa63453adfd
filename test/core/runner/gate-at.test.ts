import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobDefinitionError, defineJob, defineTable, landingSource, openLocalLake, runJob, type JobPlan } from '../../../core/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();
const column = { name: 'n', type: 'BIGINT', description: 'A number.' };
const events = defineTable({ name: 'silver.numbers', description: 'Numbers.', writeMode: 'replace_partitions', partitionBy: [], columns: [column] });
const totals = defineTable({ name: 'silver.number_totals', description: 'Their sum.', writeMode: 'replace_partitions', partitionBy: [], columns: [column] });

/** A job whose totals derive from its numbers, planned by `plan`. */
function job(plan: (input: string) => JobPlan) {
  return defineJob({
    name: 'silver.numbers',
    description: 'Numbers and their total.',
    sources: { things: landingSource('things') },
    outputs: [events, totals],
    derivedOutputs: { 'silver.number_totals': 'silver.numbers' },
    transform: ({ input }) => plan(input('things')),
  });
}

describe('a plan of a job with derived outputs', () => {
  it('must say at which step the source output\'s rows are made, and name a step it has', async () => {
    const dir = await tempDir('gate-at');
    await mkdir(path.join(dir, 'landing/things/2025/11/01/00'), { recursive: true });
    await writeFile(path.join(dir, 'landing/things/2025/11/01/00/things-1'), '{"n":1}\n');
    const lake = openLocalLake(dir);
    const steps = (input: string) => [{ name: 'numbers', sql: `SELECT record_index::BIGINT AS n FROM ${input}` }];
    const outputs = { 'silver.numbers': 'SELECT n FROM step_numbers', 'silver.number_totals': 'SELECT sum(n)::BIGINT AS n FROM step_numbers' };
    const ungated = await runJob(lake, job((input) => ({ steps: steps(input), outputs }))).catch((error: unknown) => error);
    expect(ungated).toBeInstanceOf(JobDefinitionError);
    expect((ungated as Error).message).toContain('silver.numbers has outputs derived from it, so the plan must say where its rows are made (gateAt)');
    const misnamed = await runJob(lake, job((input) => ({ steps: steps(input), outputs, gateAt: { 'silver.numbers': 'nums' } }))).catch((error: unknown) => error);
    expect((misnamed as Error).message).toContain("gateAt puts silver.numbers's quarantine rules at step nums, which the plan does not have");
    const result = await runJob(lake, job((input) => ({ steps: steps(input), outputs, gateAt: { 'silver.numbers': 'numbers' } })));
    expect(result.recordsWritten).toEqual({ 'silver.numbers': 1, 'silver.number_totals': 1 });
  });
});
