import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalLake, quoteLiteral, type Lake } from '../../core/index.ts';
import { DuckDbEngine } from '../../core/engine/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { manifestFiles, type TableManifest } from '../../core/table/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { bufferIo, invoke } from '../../cli/index.ts';
import { queryLake } from '../support/pipeline-check.ts';

const lakes: string[] = [];
afterEach(async () => {
  await Promise.all(lakes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function pipelineLake(): Promise<{ dir: string; lake: Lake }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-reconcile-'));
  lakes.push(dir);
  const lake = openLocalLake(dir, { threads: 2 });
  await generateLanding(lake.storage, { seed: 21, days: 3, users: 30, tasksPerDay: 40, faultRate: 0.03, start: '2025-11-01' });
  await runJobs(lake, PIPELINE_JOBS);
  return { dir, lake };
}

/**
 * Rewrites one committed Parquet file of `table` through `sql` over it (`file` in the SQL), as a job with a bug
 * would: its manifest records the new file's size, so only the rows are wrong (a file changed behind the
 * manifest's back is DATA_FILE_DAMAGED before reconcile gets to it: test/jobs/lost-file.test.ts).
 */
async function tamper(dir: string, lake: Lake, table: string, sql: (file: string) => string): Promise<void> {
  const root = await lake.state.readRoot();
  const id = root.tables[table]!.manifest;
  const manifest = await lake.state.getDocument<TableManifest>(id);
  const key = manifestFiles(manifest).sort((a, b) => b.rows - a.rows)[0]!.key;
  const file = path.join(dir, key);
  const engine = await DuckDbEngine.create({ threads: 1 });
  try {
    await engine.run(`CREATE TABLE t AS ${sql(`read_parquet(${quoteLiteral(file)})`)}`);
    await engine.run(`COPY t TO ${quoteLiteral(file)} (FORMAT parquet)`);
  } finally {
    engine.close();
  }
  const sizeBytes = (await stat(file)).size;
  const partitions = Object.fromEntries(Object.entries(manifest.partitions).map(([name, entry]) => [name, { ...entry, files: entry.files.map((each) => (each.key === key ? { ...each, sizeBytes } : each)) }]));
  await writeFile(path.join(dir, '_state', 'documents', `${id}.json`), JSON.stringify({ ...manifest, partitions }));
}

describe('reconcileLake', () => {
  it('counts bronze rows no silver run has read yet as pending, not as differences, until silver runs', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-reconcile-'));
    lakes.push(dir);
    const lake = openLocalLake(dir, { threads: 2 });
    await generateLanding(lake.storage, { seed: 4, days: 2, users: 10, tasksPerDay: 20, start: '2025-11-01' });
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    await runJobs(lake, PIPELINE_JOBS, enable);
    // A new day lands; only bronze runs (silver's run is later, or failed).
    await generateLanding(lake.storage, { seed: 5, days: 1, users: 10, tasksPerDay: 20, start: '2025-11-03' });
    await runJobs(lake, PIPELINE_JOBS.filter((job) => job.name.startsWith('bronze.')), enable);
    const before = await reconcileLake(lake);
    expect(before.differences).toEqual([]);
    expect(before.pendingBronzeRows).toBeGreaterThan(0);
    expect(before.checks.every((check) => check.balanced)).toBe(true);
    await runJobs(lake, PIPELINE_JOBS, enable);
    const after = await reconcileLake(lake);
    expect(after.differences).toEqual([]);
    expect(after.pendingBronzeRows).toBe(0);
  });

  it('accounts for every landing record exactly once through bronze and silver, per source and run', async () => {
    const { lake } = await pipelineLake();
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    expect(report.pendingObjects).toBe(0);
    expect(report.checks.map((check) => [check.source, check.stage])).toEqual([
      ['tasks', 'landing-bronze'], ['tasks', 'bronze-silver'], ['users', 'landing-bronze'], ['users', 'bronze-silver'],
    ]);
    expect(report.checks.every((check) => check.balanced)).toBe(true);
    // The figures are the tables' own.
    const [counts] = await queryLake(lake, `
      SELECT (SELECT count(*) FROM bronze.tasks_cdc) AS bronze, (SELECT count(*) FROM silver.task_events) AS events,
             (SELECT count(*) FROM quarantine.records WHERE job = 'bronze.tasks_cdc') AS bronze_quarantined,
             (SELECT count(*) FROM quarantine.records WHERE job = 'silver.tasks') AS silver_quarantined`);
    const tasks = report.checks.filter((check) => check.source === 'tasks');
    expect(tasks[0]).toMatchObject({ written: Number(counts!.bronze), quarantined: Number(counts!.bronze_quarantined) });
    expect(tasks[1]).toMatchObject({ input: Number(counts!.bronze), written: Number(counts!.events), quarantined: Number(counts!.silver_quarantined) });
    expect(tasks[1]!.duplicates).toBeGreaterThan(0);
    expect(tasks[0]!.quarantined).toBeGreaterThan(0);
  });

  it('checks per bronze run, and leaves out objects no run has read yet', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-reconcile-'));
    lakes.push(dir);
    const lake = openLocalLake(dir, { threads: 2 });
    const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };
    await generateLanding(lake.storage, { seed: 4, days: 2, users: 20, tasksPerDay: 30, faultRate: 0.02, start: '2025-11-01' });
    await runJobs(lake, PIPELINE_JOBS, enable);
    await generateLanding(lake.storage, { seed: 5, days: 2, users: 20, tasksPerDay: 30, faultRate: 0.02, start: '2025-11-03' });
    await runJobs(lake, PIPELINE_JOBS, enable);
    await lake.storage.put('landing/tasks/2025/11/09/00/late-object', '{"eventID": "x"}\n');

    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    expect(report.pendingObjects).toBe(1);
    const runs = new Set(report.checks.filter((check) => check.source === 'tasks' && check.stage === 'landing-bronze').map((check) => check.runId));
    expect(runs.size).toBe(2);
    expect([...runs].every((run) => run?.startsWith('jr_'))).toBe(true);
  });

  it('names a lost bronze row, a doubled one and a lost silver event down to the object and record', async () => {
    const { dir, lake } = await pipelineLake();
    await tamper(dir, lake, 'bronze.tasks_cdc', (file) => `SELECT * FROM ${file} WHERE record_index <> 1 UNION ALL (SELECT * FROM ${file} WHERE record_index = 2 LIMIT 1)`);
    await tamper(dir, lake, 'silver.task_events', (file) => `SELECT * FROM ${file} WHERE _record_index <> 0`);
    const report = await reconcileLake(lake);
    const problems = report.differences.map((entry) => `${entry.stage} ${entry.problem}`);
    expect(problems).toEqual(expect.arrayContaining([
      'landing-bronze the landing record is neither in bronze.tasks_cdc nor quarantined',
      'landing-bronze the landing record is accounted for 2 times (bronze rows and quarantined records)',
      'bronze-silver the bronze row is neither an effective event in silver.task_events nor quarantined',
    ]));
    for (const entry of report.differences) {
      expect(entry.sourceObject).toMatch(/^landing\/tasks\//);
      expect(entry.recordIndex).not.toBeNull();
    }
    const lost = report.differences.find((entry) => entry.problem.startsWith('the landing record is neither'))!;
    expect(lost.recordIndex).toBe(1);
    expect(report.checks.some((check) => !check.balanced)).toBe(true);

    // The command says so and exits 1.
    const io = bufferIo();
    expect(await invoke(['--lake', dir, 'reconcile', '--format', 'json'], { io, env: {} })).toBe(1);
    expect(io.stderr()).toMatch(/RECONCILIATION_FAILED: \d+ records do not add up/);
    expect(io.stdout()).toContain(lost.sourceObject!);
  });

  it('medallion reconcile passes on a clean pipeline', async () => {
    const { dir } = await pipelineLake();
    const io = bufferIo();
    expect(await invoke(['--lake', dir, 'reconcile'], { io, env: {} }), io.stderr()).toBe(0);
    expect(io.stderr()).toContain('every landing record is accounted for exactly once');
  });
});
