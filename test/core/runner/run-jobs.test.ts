import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, defineTable, landingSource, openLocalLake, type Lake, type TableName } from '../../../core/index.ts';
import { attachTables } from '../../../core/catalog/index.ts';
import { parseTableRuleSet } from '../../../core/quality/index.ts';
import { runJobs } from '../../../core/runner/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** A job whose one row names the database its SQL ran in, through a step every such job names alike. */
function whereJob(name: TableName) {
  return defineJob({
    name,
    description: 'Records where its SQL ran.',
    sources: { things: landingSource('things') },
    outputs: [
      defineTable({
        name,
        description: 'Where the job ran.',
        writeMode: 'replace_partitions',
        partitionBy: [],
        columns: [
          { name: 'db', type: 'VARCHAR', description: 'The database the step was created in.' },
          { name: 'job', type: 'VARCHAR', description: 'The job the step says it belongs to.' },
        ],
      }),
    ],
    transform: () => ({
      steps: [{ name: 'here', sql: `SELECT current_database() AS db, '${name}' AS job` }],
      outputs: { [name]: 'SELECT db, job FROM step_here' },
    }),
  });
}

/** The lake, counting the engines (DuckDB instances) runs open on it. */
function counting(lake: Lake): { lake: Lake; opened: () => number } {
  let opened = 0;
  return {
    lake: { ...lake, createEngine: () => ((opened += 1), lake.createEngine()) },
    opened: () => opened,
  };
}

async function landObject(dir: string, name: string): Promise<void> {
  await mkdir(path.join(dir, 'landing/things/2025/11/01/00'), { recursive: true });
  await writeFile(path.join(dir, 'landing/things/2025/11/01/00', name), '{"n":1}\n');
}

/** A lake with one landing object under landing/things/. */
async function lakeWithLanding(dir?: string): Promise<Lake> {
  const root = dir ?? (await tempDir('run-jobs'));
  await landObject(root, 'things-1');
  return openLocalLake(root);
}

/** The lake, keeping the most engines runs had open at once. */
function gauging(lake: Lake): { lake: Lake; mostOpen: () => number } {
  let open = 0;
  let most = 0;
  const createEngine = async () => {
    const engine = await lake.createEngine();
    open += 1;
    most = Math.max(most, open);
    const close = engine.close.bind(engine);
    engine.close = () => {
      open -= 1;
      close();
    };
    return engine;
  };
  return { lake: { ...lake, createEngine }, mostOpen: () => most };
}

describe('runJobs', () => {
  it('gives runs that read everything their engines one at a time; the others wait, and say so', async () => {
    const lake = await lakeWithLanding();
    const gauged = gauging(lake);
    const states = new Map<string, string[]>();
    const onRecord = (record: { JobName: string; JobRunState: string }) => states.set(record.JobName, [...(states.get(record.JobName) ?? []), record.JobRunState]);
    const results = await runJobs(gauged.lake, [whereJob('silver.a'), whereJob('silver.b'), whereJob('silver.c')], { concurrency: 3, onRecord });
    expect(results.map((result) => result.job).sort()).toEqual(['silver.a', 'silver.b', 'silver.c']);
    expect(gauged.mostOpen()).toBe(1);
    // Started together: the first took the turn at once, the others were WAITING (a state and a phase of their own).
    const waited = [...states].filter(([, seen]) => seen.includes('WAITING'));
    expect(waited.length).toBeGreaterThanOrEqual(1);
    for (const [job, seen] of states) {
      expect(seen, job).toEqual(seen.includes('WAITING') ? ['STARTING', 'RUNNING', 'WAITING', 'RUNNING', 'SUCCEEDED'] : ['STARTING', 'RUNNING', 'SUCCEEDED']);
      expect((results.find((result) => result.job === job)?.phasesMs?.wait ?? 0) > 0 || !seen.includes('WAITING'), job).toBe(true);
    }
  });

  it('runs bookmarked jobs on one DuckDB instance, each in a database of its own; a run that reads everything opens its own', async () => {
    const dir = await tempDir('run-jobs');
    const lake = await lakeWithLanding(dir);
    const jobs = [whereJob('silver.a'), whereJob('silver.b'), whereJob('silver.c')];
    const enable = { concurrency: 3, settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    // The first runs have no bookmark yet: each reads everything, in an instance of its own.
    const first = counting(lake);
    await runJobs(first.lake, jobs, enable);
    expect(first.opened()).toBe(3);

    await landObject(dir, 'things-2');
    const counted = counting(lake);
    const results = await runJobs(counted.lake, jobs, enable);
    expect(results.map((result) => result.recordsRead)).toEqual([1, 1, 1]);
    expect(counted.opened()).toBe(1);

    const engine = await lake.createEngine();
    try {
      const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot());
      const { rows } = await engine.query(
        "SELECT job, db FROM (SELECT * FROM silver.a UNION ALL SELECT * FROM silver.b UNION ALL SELECT * FROM silver.c) ORDER BY job",
      );
      await attached.release();
      // Each job read back its own step, not another's of the same name.
      expect(rows.map((row) => row.job)).toEqual(['silver.a', 'silver.b', 'silver.c']);
      const databases = rows.map((row) => String(row.db));
      expect(new Set(databases).size).toBe(3);
      expect(databases).not.toContain('memory');
    } finally {
      engine.close();
    }
  });

  it('opens no engine when no job has anything new', async () => {
    const lake = await lakeWithLanding();
    const jobs = [whereJob('silver.a'), whereJob('silver.b')];
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    await runJobs(lake, jobs, enable);
    const counted = counting(lake);
    const again = await runJobs(counted.lake, jobs, enable);
    expect(again.map((result) => result.nothingNew)).toEqual([true, true]);
    expect(counted.opened()).toBe(0);
  });

  it('refuses jobs that wait on each other through their quality rules before any of them runs', async () => {
    const dir = await tempDir('run-jobs');
    const lake = await lakeWithLanding(dir);
    const rules = (table: string, other: string) =>
      parseTableRuleSet(table, `# reference other = ${other}\nRules = [ RowCountMatch "other" >= 0.0 ]\n`, `quality/rules/${table}.dqdl`);
    const quality = new Map([['silver.a', rules('silver.a', 'silver.b')], ['silver.b', rules('silver.b', 'silver.a')]]);
    await expect(runJobs(lake, [whereJob('silver.a'), whereJob('silver.b')], { quality })).rejects.toMatchObject({ code: 'JOB_CYCLE' });
    expect((await lake.state.readRoot()).seq).toBe(0);
    expect(await lake.state.listRecords('runs/silver.a')).toEqual([]);
  });
});
