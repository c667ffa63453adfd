import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import type { Engine } from '../../core/engine/index.ts';
import { MedallionError } from '../../core/errors.ts';
import { parseTableRuleSet, type TableRuleSet } from '../../core/quality/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { loadPipelineRuleSets, PIPELINE_RULES_DIR } from '../../jobs/quality.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { queryLake } from '../support/pipeline-check.ts';
import { holdBackLastDay, landAgain } from '../support/landing-days.ts';

const tempDir = useTempDirs();
const LANDING = { seed: 21, days: 2, users: 12, tasksPerDay: 30, faultRate: 0.02 } as const;
const enable = { bookmark: { option: 'job-bookmark-enable' as const } };

/** The pipeline's rule sets, with `rule` added to `table`'s. */
async function rulesWith(table: string, rule: string): Promise<Map<string, TableRuleSet>> {
  const sets = await loadPipelineRuleSets();
  const file = path.join(PIPELINE_RULES_DIR, `${table}.dqdl`);
  const text = (await readFile(file, 'utf8')).replace(/\n\]\s*$/, `,\n  ${rule}\n]\n`);
  sets.set(table, parseTableRuleSet(table, text, `quality/rules/${table}.dqdl`));
  return sets;
}

async function silverTables(lake: Lake): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ['silver.task_events', 'silver.tasks', 'silver.tasks_history', 'gold.daily_task_kpis']) out[table] = await queryLake(lake, `SELECT * FROM ${table} ORDER BY ALL`);
  out['quarantine.records'] = await queryLake(lake, 'SELECT job, source_object, record_index, reason_code FROM quarantine.records ORDER BY ALL');
  return out;
}

describe('a quarantine rule on an events table keeps the silver tables consistent', async () => {
  const quality = await rulesWith('silver.task_events', 'ColumnValues "priority" <= 2 where "priority is not null" # action: quarantine');

  async function expectConsistent(lake: Lake): Promise<void> {
    const [events] = await queryLake(lake, 'SELECT count(*) AS n, count(*) FILTER (WHERE priority > 2) AS high FROM silver.task_events');
    expect(Number(events?.n)).toBeGreaterThan(0);
    expect(Number(events?.high)).toBe(0);
    // Current state and history were made from the events that passed: every row's event is in silver.task_events.
    for (const table of ['silver.tasks', 'silver.tasks_history']) {
      const [orphans] = await queryLake(lake, `SELECT count(*) AS n FROM ${table} WHERE _event_id NOT IN (SELECT event_id FROM silver.task_events)`);
      expect(Number(orphans?.n), table).toBe(0);
    }
    const [high] = await queryLake(lake, 'SELECT count(*) AS n FROM silver.tasks_history WHERE priority > 2');
    expect(Number(high?.n)).toBe(0);
    // Each event set aside is in the quarantine once, naming the rule.
    const [aside] = await queryLake(lake, `
      SELECT count(*) AS n, count(DISTINCT (source_object, record_index)) AS distinct_records
      FROM quarantine.records WHERE job = 'silver.tasks' AND reason_code = 'quality_rule' AND reason LIKE '%priority%'`);
    expect(Number(aside?.n)).toBeGreaterThan(0);
    expect(Number(aside?.distinct_records)).toBe(Number(aside?.n));
    // Each is kept as the events table's row: its columns, and none of the job's own (a step may carry more).
    const columns = (await queryLake(lake, 'DESCRIBE silver.task_events')).map((row) => String(row.column_name));
    const raws = await queryLake(lake, "SELECT raw FROM quarantine.records WHERE job = 'silver.tasks' AND reason_code = 'quality_rule'");
    for (const { raw } of raws) expect(Object.keys(JSON.parse(String(raw)) as object)).toEqual(columns);
    expect((await reconcileLake(lake)).differences).toEqual([]);
  }

  const fullDir = await tempDir('quarantine-full');
  const full = openLocalLake(fullDir, { threads: 2 });
  await generateLanding(full.storage, LANDING);
  await runJobs(full, PIPELINE_JOBS, { quality, settingsFor: () => enable });
  // Read now: the lake's folder is removed after the first test.
  const fullTables = await silverTables(full);

  it('in a run that reads everything', async () => {
    await expectConsistent(full);
  });

  /** A lake the pipeline ran over once with bookmarks, all but the last day, which has landed since. */
  async function lakeWithNextDay(name: string): Promise<Lake> {
    const lake = openLocalLake(await tempDir(name), { threads: 2 });
    await generateLanding(lake.storage, LANDING);
    const nextDay = await holdBackLastDay(lake);
    await runJobs(lake, PIPELINE_JOBS, { quality, settingsFor: () => enable });
    await landAgain(lake, nextDay);
    return lake;
  }

  it('in incremental runs, with the same tables as the run that read everything', async () => {
    const lake = await lakeWithNextDay('quarantine-incremental');
    const second = await runJobs(lake, PIPELINE_JOBS, { quality, settingsFor: () => enable });
    expect(second.find((result) => result.job === 'silver.tasks')?.nothingNew).toBe(false);
    await expectConsistent(lake);
    expect(await silverTables(lake)).toEqual(fullTables);
  });

  it('in an incremental run whose rule-set-aside rows are written before the job\'s own quarantine rows', async () => {
    // An incremental run writes a batch's copies two at a time: the rows the quarantine rule set aside can be
    // written first, before the job's own quarantine rows (its typing failures). Forced here for silver.tasks.
    const lake = await lakeWithNextDay('quarantine-order');
    let setAsideWritten!: () => void;
    const written = new Promise<void>((resolve) => {
      setAsideWritten = resolve;
    });
    const waits: string[] = [];
    const ordered = (inner: Engine): Engine => ({
      run: (sql) => inner.run(sql),
      query: async (sql) => {
        if (!sql.startsWith('COPY (') || !sql.includes('quarantine/records/silver.tasks/')) return inner.query(sql);
        if (sql.includes('/quality-')) return inner.query(sql).finally(setAsideWritten);
        // The job's own quarantine rows wait for the set-aside ones (a fallback keeps a change of order from hanging).
        waits.push(await Promise.race([written.then(() => 'after the set-aside rows'), new Promise<string>((resolve) => setTimeout(() => resolve('gave up waiting'), 30_000))]));
        return inner.query(sql);
      },
      statementKinds: (sql) => inner.statementKinds(sql),
      stream: (sql, onRows) => inner.stream(sql, onRows),
      fork: async () => ordered(await inner.fork()),
      isolate: async () => ordered(await inner.isolate()),
      interrupt: () => inner.interrupt(),
      close: () => inner.close(),
    });
    let shared: Promise<Engine> | undefined;
    const second = await runJobs(lake, PIPELINE_JOBS, {
      quality,
      settingsFor: () => enable,
      incrementalEngine: async () => ordered(await (await (shared ??= lake.createEngine())).isolate()),
    });
    (await shared)?.close();
    // The order was forced: the job's own rows were written after the set-aside ones, in every batch.
    expect(waits.length).toBeGreaterThan(0);
    expect(new Set(waits)).toEqual(new Set(['after the set-aside rows']));
    expect(second.map((result) => `${result.job} ${result.state}`).sort()).toEqual(PIPELINE_JOBS.map((job) => `${job.name} SUCCEEDED`).sort());
    await expectConsistent(lake);
    expect(await silverTables(lake)).toEqual(fullTables);
  });

  it('a quarantine rule on a table derived from the events is refused before any job runs, naming where it belongs', async () => {
    const lake = openLocalLake(await tempDir('quarantine-misplaced'), { threads: 2 });
    await generateLanding(lake.storage, { ...LANDING, days: 1 });
    for (const table of ['silver.tasks', 'silver.users_history']) {
      const misplaced = await rulesWith(table, 'IsComplete "_event_id" # action: quarantine');
      const error = await runJobs(lake, PIPELINE_JOBS, { quality: misplaced }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MedallionError);
      expect((error as MedallionError).code).toBe('QUALITY_RULE_MISPLACED');
      expect((error as Error).message).toContain(`quality/rules/${table}.dqdl`);
      expect((error as Error).message).toMatch(/Put it in silver\.(task|user)_events's rule set/);
    }
    expect((await lake.state.readRoot()).seq).toBe(0);
  });
});
