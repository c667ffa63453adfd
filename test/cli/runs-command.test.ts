import { beforeAll, describe, expect, it } from 'vitest';
import { boxTableRecords } from './cli-output.ts';
import { cli, ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * Run ids are printed in full wherever they are meant to be copied, and taken by any unique start; `runs` lists the
 * newest runs (--limit), `runs show` one run in full; `quality history` filters by job or by table and says which.
 */

const tempDir = useFileTempDirs();
let lake = '';
const RUN_ID = /jr_[0-9a-f]{64}/;

beforeAll(async () => {
  lake = await tempDir('runs');
  await ok(['--lake', lake, 'generate', '--days', '2', '--users', '10', '--tasks-per-day', '15', '--fault-rate', '0.05']);
  const first = await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
  // Every SUCCEEDED line names its run in full.
  for (const line of first.trim().split('\n').filter((text) => / SUCCEEDED /.test(text))) expect(line).toMatch(new RegExp(`\\(run ${RUN_ID.source}\\)`));
  for (let night = 0; night < 3; night += 1) await ok(['--lake', lake, 'run', '--all', ...ENABLE]);
}, 120_000);

describe('medallion runs', () => {
  it('shows the newest 20 runs as a table with their ids in full, says how many it left out, and --limit N shows N', async () => {
    const table = await cli(['--lake', lake, 'runs']);
    expect(table.code, table.stderr).toBe(0);
    const rows = boxTableRecords(table.stdout);
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row.run_id).toMatch(new RegExp(`^${RUN_ID.source}$`));
    expect(table.stderr).toContain('the newest 20 of 28 runs (--limit N for more)');
    const three = await cli(['--lake', lake, 'runs', 'silver.tasks', '--limit', '3']);
    expect(boxTableRecords(three.stdout).map((row) => row.job)).toEqual(['silver.tasks', 'silver.tasks', 'silver.tasks']);
    // As json, every run unless limited.
    expect(JSON.parse((await cli(['--lake', lake, 'runs', '--format', 'json'])).stdout)).toHaveLength(28);
    expect(JSON.parse((await cli(['--lake', lake, 'runs', '--format', 'json', '--limit', '2'])).stdout)).toHaveLength(2);
    expect((await cli(['--lake', lake, 'runs', '--limit', '0'])).code).toBe(2);
  });

  it('`runs show` takes an id or a unique start of one and prints the run in full: arguments, metrics, what it committed, its rule outcomes', async () => {
    const runs = JSON.parse((await cli(['--lake', lake, 'runs', 'silver.tasks', '--format', 'json'])).stdout) as { run_id: string; records_read: number }[];
    const first = runs.at(-1)!;
    const shown = await cli(['--lake', lake, 'runs', 'show', first.run_id.slice(0, 24)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`run        ${first.run_id}\njob        silver.tasks\nstate      SUCCEEDED\n`);
    expect(shown.stdout).toContain('  --job-bookmark-option job-bookmark-enable');
    expect(shown.stdout).toMatch(new RegExp(`glue\\.driver\\.aggregate\\.recordsRead +${first.records_read}\\n`));
    expect(shown.stdout).toMatch(/^ {2}silver\.tasks version 1 \(commit \d+, [a-z_]+\): \d+ rows in \d+ files$/m);
    expect(shown.stdout).toMatch(/^ {2}silver\.task_events version 1 /m);
    expect(shown.stdout).toMatch(/^ {2}PASS +fail +silver\.task_events: IsUnique "event_id"/m);
    const json = JSON.parse((await cli(['--lake', lake, 'runs', 'show', first.run_id, '--format', 'json'])).stdout) as { committed: { table: string; version: number }[]; quality: unknown[] };
    expect(json.committed.map((entry) => entry.table)).toEqual(expect.arrayContaining(['silver.tasks', 'silver.task_events']));
    expect(json.quality.length).toBeGreaterThan(0);
    // A run that found nothing new committed nothing.
    expect((await cli(['--lake', lake, 'runs', 'show', runs[0]!.run_id])).stdout).toContain('committed\n  nothing\n');
    // The id `medallion quality` prints is its evaluations', and `runs show` says so.
    const checked = await cli(['--lake', lake, 'quality']);
    const qualityId = /recorded in quality\.results, run (jr_[0-9a-f]{64})/.exec(checked.stdout + checked.stderr)?.[1];
    expect(qualityId, checked.stdout + checked.stderr).toBeDefined();
    const step = await cli(['--lake', lake, 'runs', 'show', qualityId!]);
    expect(step.code).toBe(2);
    expect(step.stderr).toContain(`${qualityId} is an evaluation of the quality step`);
    const missing = await cli(['--lake', lake, 'runs', 'show', 'jr_0000000000ffffff']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: RUN_NOT_FOUND: no run jr_0000000000ffffff of any job/m);
  });
});

describe('medallion quality history by job or by table', () => {
  it('a job name shows the evaluations its runs made on every table it checks; a table name, every evaluation of it; it says which', async () => {
    await ok(['--lake', lake, 'quality']);
    const both = await cli(['--lake', lake, 'quality', 'history', 'silver.tasks', '--format', 'json', '--limit', '1000']);
    expect(both.stderr).toContain('evaluations by job silver.tasks or of table silver.tasks, newest first');
    const rows = JSON.parse(both.stdout) as { job: string; table: string }[];
    // The job's own gate checks silver.task_events too; the quality step checks the table silver.tasks.
    expect(rows.some((row) => row.job === 'silver.tasks' && row.table === 'silver.task_events')).toBe(true);
    expect(rows.some((row) => row.job === 'quality' && row.table === 'silver.tasks')).toBe(true);
    const byJob = JSON.parse((await cli(['--lake', lake, 'quality', 'history', '--job', 'silver.tasks', '--format', 'json', '--limit', '1000'])).stdout) as { job: string; table: string }[];
    expect(new Set(byJob.map((row) => row.job))).toEqual(new Set(['silver.tasks']));
    expect(new Set(byJob.map((row) => row.table))).toEqual(new Set(['silver.tasks', 'silver.task_events', 'silver.tasks_history']));
    const byTable = await cli(['--lake', lake, 'quality', 'history', '--table', 'silver.task_events', '--format', 'json', '--limit', '1000']);
    expect(byTable.stderr).toContain('evaluations of table silver.task_events');
    expect(new Set((JSON.parse(byTable.stdout) as { table: string }[]).map((row) => row.table))).toEqual(new Set(['silver.task_events']));
    const gold = await cli(['--lake', lake, 'quality', 'history', 'gold.user_kpis', '--format', 'json']);
    expect(gold.stderr).toContain('evaluations by job gold.user_kpis or of table gold.user_kpis');
    const unknown = await cli(['--lake', lake, 'quality', 'history', 'silver.nothing']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/QUALITY_OPTIONS_INVALID: "silver\.nothing" is no job and no table/);
  });
});
