import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';
import { resolveLakeDirectory } from '../../cli/lake-option.ts';
import { boxTableRecords, linesOf, parseBoxTable, parseRunLines, stackFrames, type RunLine, withoutLakeLine } from './cli-output.ts';

const SMALL = ['--days', '2', '--users', '20', '--tasks-per-day', '30', '--seed', '7'];
const TINY = ['--days', '1', '--users', '5', '--tasks-per-day', '5', '--seed', '3'];

// The jobs and tables as the registry has them (jobs/index.ts): a job added there needs no edit here.
const JOBS = PIPELINE_JOBS.map((job) => job.name);
const TABLES = PIPELINE_TABLES.map((table) => table.name);
/** The jobs each job runs after, as a user reads them off the jobs: the writers of the tables it reads. */
const UPSTREAM: Record<string, string[]> = Object.fromEntries(
  PIPELINE_JOBS.map((job) => [
    job.name,
    Object.values(job.sources).flatMap((source) =>
      source.kind === 'table' ? PIPELINE_JOBS.filter((writer) => writer.outputs.some((output) => output.name === source.table)).map((writer) => writer.name) : [],
    ),
  ]),
);
const DAY_MS = 86_400_000;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with a clean environment unless one is given. */
async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const io = bufferIo();
  const code = await invoke(args, { io, env });
  return { code, stdout: io.stdout(), stderr: withoutLakeLine(io.stderr()) };
}

/** Rows of a query, through `query --format json`, as a script would read them. */
async function queryJson(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  const result = await cli(['--lake', lake, 'query', sql, '--format', 'json']);
  expect(result.stderr, sql).toBe('');
  expect(result.code, sql).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

async function countRows(lake: string, sql: string): Promise<number> {
  const [row] = await queryJson(lake, sql);
  return row?.n as number;
}

const tempDirs: string[] = [];
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `medallion-cli-${label}-`));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Every file under `dir`, as paths relative to it with `/` separators, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** One hash over every file's path and bytes. */
async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await filesUnder(dir)) {
    hash.update(`${file}\0`);
    hash.update(await readFile(path.join(dir, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

interface Summary {
  objectsWritten: number;
  objectsPerSource: { tasks: number; users: number };
  recordsPerSource: { tasks: number; users: number };
  firstEventTime: string | null;
  lastEventTime: string | null;
}

/** One lake with a small simulation run through every job, shared by the read-only tests below. */
let lake: string;
let generated: CliResult;
let ran: CliResult;
let runLines: RunLine[];

beforeAll(async () => {
  lake = await tempDir('lake');
  generated = await cli(['--lake', lake, 'generate', ...SMALL, '--format', 'json']);
  ran = await cli(['--lake', lake, 'run', '--all']);
  runLines = ran.code === 0 ? parseRunLines(ran.stdout) : [];
});

describe('medallion generate', () => {
  it('writes Firehose objects under landing/<source>/YYYY/MM/DD/HH/ and prints a JSON summary that matches the files', async () => {
    // Progress on stderr, and nothing else.
    expect(generated.stderr.split('\n').filter(Boolean).every((line) => /^generated day \d+ of \d+: \d+ objects so far$/.test(line)), generated.stderr).toBe(true);
    expect(generated.code).toBe(0);
    const summary = JSON.parse(generated.stdout) as Summary;

    const files = await filesUnder(lake);
    const landing = files.filter((file) => file.startsWith('landing/'));
    for (const file of landing) expect(file).toMatch(/^landing\/(tasks|users)\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[^/]+$/);
    const tasks = landing.filter((file) => file.startsWith('landing/tasks/'));
    const users = landing.filter((file) => file.startsWith('landing/users/'));
    expect(tasks.length).toBeGreaterThan(0);
    expect(users.length).toBeGreaterThan(0);
    expect(summary.objectsWritten).toBe(landing.length);
    expect(summary.objectsPerSource).toEqual({ tasks: tasks.length, users: users.length });
    // The simulated period starts on the default start day.
    expect(summary.firstEventTime?.slice(0, 10)).toBe('2025-11-01');
  });

  it('writes byte-identical files for the same seed, and different files for another seed', async () => {
    const [first, second, other] = await Promise.all([tempDir('seed-a'), tempDir('seed-b'), tempDir('seed-c')]);
    expect((await cli(['--lake', first, 'generate', ...TINY])).code).toBe(0);
    expect((await cli(['--lake', second, 'generate', ...TINY])).code).toBe(0);
    expect((await cli(['--lake', other, 'generate', ...TINY.slice(0, -1), '4'])).code).toBe(0);
    expect((await filesUnder(first)).length).toBeGreaterThan(0);
    expect(await hashTree(second)).toBe(await hashTree(first));
    expect(await hashTree(other)).not.toBe(await hashTree(first));
  });

  it.each([
    { option: '--days', value: 'abc', names: /--days "abc"/ },
    { option: '--fault-rate', value: '2', names: /--fault-rate "2"/ },
  ])('refuses $option $value with exit 2 and one line naming the option, writing nothing', async ({ option, value, names }) => {
    const dir = await tempDir('bad-option');
    const result = await cli(['--lake', dir, 'generate', option, value]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(stackFrames(result.stderr)).toEqual([]);
    expect(result.stderr).toMatch(/^error: GENERATE_OPTIONS_INVALID/);
    expect(result.stderr).toMatch(names);
    expect(await filesUnder(dir)).toEqual([]);
    // One problem, one line: the CLI's contract (invoke's doc comment, STYLE 9 "one line each").
    expect(linesOf(result.stderr)).toHaveLength(1);
  });

  it('reports every bad option of one command together', async () => {
    const result = await cli(['--lake', await tempDir('bad-options'), 'generate', '--days', 'abc', '--fault-rate', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--days "abc"/);
    expect(result.stderr).toMatch(/--fault-rate "2"/);
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(stackFrames(result.stderr)).toEqual([]);
  });
});

describe('medallion run', () => {
  it('runs every job with --all: exit 0, one SUCCEEDED line per job, each after the jobs it reads from', () => {
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    // One line per job (the lines under one say what its quality rules and quarantine found).
    expect(linesOf(ran.stdout).filter((line) => !line.startsWith('  '))).toHaveLength(JOBS.length);
    const order = runLines.map((line) => line.job);
    expect([...order].sort()).toEqual([...JOBS].sort());
    for (const [job, upstream] of Object.entries(UPSTREAM)) {
      for (const before of upstream) expect(order.indexOf(before), `${before} before ${job}`).toBeLessThan(order.indexOf(job));
    }
  });

  it('prints figures that add up in SQL: bronze read = landing records = bronze rows + quarantined rows', async () => {
    const summary = JSON.parse(generated.stdout) as Summary;
    for (const [job, source] of [['bronze.tasks_cdc', 'tasks'], ['bronze.users_cdc', 'users']] as const) {
      const line = runLines.find((candidate) => candidate.job === job);
      expect(line, job).toBeDefined();
      if (!line) continue;
      const bronzeRows = await countRows(lake, `SELECT count(*) AS n FROM ${job}`);
      const quarantined = await countRows(lake, `SELECT count(*) AS n FROM quarantine.records WHERE job = '${job}'`);
      expect(bronzeRows + quarantined, job).toBe(line.read);
      expect(line.read, job).toBe(summary.recordsPerSource[source]);
      expect(line.quarantined, job).toBe(quarantined);
    }
  });

  it('prints, for every table a job wrote, the row count a query finds', async () => {
    const written = runLines.flatMap((line) => Object.entries(line.wrote));
    expect(written.map(([table]) => table).sort()).toEqual(TABLES.filter((table) => !table.startsWith('quarantine.') && !table.startsWith('quality.')).sort());
    for (const [table, rows] of written) expect(await countRows(lake, `SELECT count(*) AS n FROM ${table}`), table).toBe(rows);
  });

  it('leaves every table as it was when run --all runs again over the same landing data (the quality history grows by one evaluation per rule)', async () => {
    const before = await cli(['--lake', lake, 'tables', '--format', 'json']);
    const again = await cli(['--lake', lake, 'run', '--all']);
    expect(again.code).toBe(0);
    const after = await cli(['--lake', lake, 'tables', '--format', 'json']);
    const rowsOf = (text: string) => (JSON.parse(text) as { table: string; rows: number }[]).map(({ table, rows }) => ({ table, rows }));
    const data = (rows: { table: string; rows: number }[]) => rows.filter((row) => row.table !== 'quality.results');
    expect(data(rowsOf(after.stdout))).toEqual(data(rowsOf(before.stdout)));
    const results = (rows: { table: string; rows: number }[]) => rows.find((row) => row.table === 'quality.results')?.rows ?? 0;
    expect(results(rowsOf(after.stdout))).toBe(2 * results(rowsOf(before.stdout)));
  });

  it('runs named jobs in dependency order whatever order they are given in', async () => {
    const dir = await tempDir('named');
    expect((await cli(['--lake', dir, 'generate', ...TINY])).code).toBe(0);
    const result = await cli(['--lake', dir, 'run', 'silver.tasks', 'bronze.tasks_cdc']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(parseRunLines(result.stdout).map((line) => line.job)).toEqual(['bronze.tasks_cdc', 'silver.tasks']);
  });

  it('fails with exit 1 and one line naming SOURCE_TABLE_MISSING when a job runs before its source table exists', async () => {
    const dir = await tempDir('no-bronze');
    const result = await cli(['--lake', dir, 'run', 'silver.tasks']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: SOURCE_TABLE_MISSING\b.*bronze\.tasks_cdc/);
  });

  it('refuses an unknown job with exit 2, naming it and listing the known jobs, before running anything', async () => {
    const dir = await tempDir('unknown-job');
    const result = await cli(['--lake', dir, 'run', 'bronze.tasks_cdc', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/\bnope\b/);
    for (const job of JOBS) expect(result.stderr).toContain(job);
    const tables = JSON.parse((await cli(['--lake', dir, 'tables', '--format', 'json'])).stdout) as { version: number }[];
    expect(tables.every((table) => table.version === 0)).toBe(true);
  });

  it.each([
    { args: ['run'], why: 'no job names and no --all' },
    { args: ['run', 'bronze.tasks_cdc', '--all'], why: 'job names and --all' },
  ])('refuses $why with exit 2 and one line', async ({ args }) => {
    const result = await cli(['--lake', await tempDir('run-usage'), ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: RUN_ARGUMENTS_INVALID/);
  });
});

describe('medallion query', () => {
  it('prints --format json as one JSON array of row objects, integers as numbers', async () => {
    const result = await cli(['--lake', lake, 'query', 'SELECT count(*) AS n, 42::INTEGER AS i, \'x\' AS s FROM silver.tasks', '--format', 'json']);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as unknown;
    expect(rows).toEqual([{ n: expect.any(Number), i: 42, s: 'x' }]);
    expect((rows as { n: number }[])[0]?.n).toBeGreaterThan(0);
  });

  it('prints a result larger than one engine chunk as one valid JSON array and one CSV header', async () => {
    const sql = 'SELECT range AS i FROM range(5000)';
    const json = JSON.parse((await cli(['--lake', lake, 'query', sql, '--format', 'json'])).stdout) as { i: number }[];
    expect(json).toHaveLength(5000);
    expect(json[4999]).toEqual({ i: 4999 });
    const csv = linesOf((await cli(['--lake', lake, 'query', sql, '--format', 'csv'])).stdout);
    expect(csv).toHaveLength(5001);
    expect(csv.filter((line) => line === 'i')).toHaveLength(1);
  });

  it('prints an empty result as [] in json and a header alone in csv', async () => {
    const sql = 'SELECT 1 AS n WHERE false';
    expect(JSON.parse((await cli(['--lake', lake, 'query', sql, '--format', 'json'])).stdout)).toEqual([]);
    expect((await cli(['--lake', lake, 'query', sql, '--format', 'csv'])).stdout).toBe('n\n');
  });

  it('prints --format csv as a header line then one line per row, matching the json rows', async () => {
    const sql = 'SELECT dt, tasks_created, active_users FROM gold.daily_task_kpis ORDER BY dt';
    const json = await queryJson(lake, sql);
    const result = await cli(['--lake', lake, 'query', sql, '--format', 'csv']);
    expect(result.code).toBe(0);
    const [header, ...rows] = linesOf(result.stdout);
    expect(header).toBe('dt,tasks_created,active_users');
    expect(rows.map((line) => line.split(','))).toEqual(json.map((row) => [String(row.dt), String(row.tasks_created), String(row.active_users)]));
  });

  it('quotes csv values holding a comma or a quote, and prints NULL as an empty field', async () => {
    const result = await cli(['--lake', lake, 'query', `SELECT 'a,b' AS v, 'say "hi"' AS q, NULL AS z, 1 AS n`, '--format', 'csv']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('v,q,z,n\n"a,b","say ""hi""",,1\n');
  });

  it('prints --format table as a box table, with the row count on stderr', async () => {
    const sql = 'SELECT dt, tasks_created FROM gold.daily_task_kpis ORDER BY dt';
    const json = await queryJson(lake, sql);
    const result = await cli(['--lake', lake, 'query', sql, '--format', 'table']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^┌[─┬]+┐\n/);
    expect(result.stdout).toMatch(/└[─┴]+┘\n$/);
    expect(boxTableRecords(result.stdout)).toEqual(json.map((row) => ({ dt: String(row.dt), tasks_created: String(row.tasks_created) })));
    expect(result.stderr).toBe(`${json.length} rows\n`);
    // The default format is table; one row reads "1 row".
    const single = await cli(['--lake', lake, 'query', 'SELECT 1 AS n']);
    expect(parseBoxTable(single.stdout)).toEqual([['n'], ['1']]);
    expect(single.stderr).toBe('1 row\n');
  });

  it('finds one gold.daily_task_kpis row per day, with no gaps, from the first to the last simulated event', async () => {
    const summary = JSON.parse(generated.stdout) as Summary;
    const days = (await queryJson(lake, 'SELECT dt FROM gold.daily_task_kpis ORDER BY dt')).map((row) => String(row.dt));
    expect(days.length).toBeGreaterThan(0);
    expect(new Set(days).size).toBe(days.length);
    for (let index = 1; index < days.length; index++) {
      expect(Date.parse(days[index] ?? '') - Date.parse(days[index - 1] ?? ''), `${days[index - 1]} → ${days[index]}`).toBe(DAY_MS);
    }
    expect(days[0]).toBe(summary.firstEventTime?.slice(0, 10));
    expect(days.at(-1)).toBe(summary.lastEventTime?.slice(0, 10));
  });

  it.each([
    { why: 'a syntax error', sql: 'SELECTX 1 FROM silver.tasks' },
    { why: 'an unknown table', sql: 'SELECT * FROM silver.nope' },
    { why: 'a failure while rows stream', sql: "SELECT CAST('x' || range AS INTEGER) FROM range(3)" },
  ])('fails on $why with exit 2 and one line "error: QUERY_FAILED ...", no stack trace', async ({ sql }) => {
    for (const format of ['json', 'table']) {
      const result = await cli(['--lake', lake, 'query', sql, '--format', format]);
      expect(result.code, format).toBe(2);
      expect(linesOf(result.stderr), format).toHaveLength(1);
      expect(result.stderr, format).toMatch(/^error: QUERY_FAILED/);
      expect(stackFrames(result.stderr), format).toEqual([]);
    }
  });

  it('refuses --format xml with exit 2', async () => {
    const result = await cli(['--lake', lake, 'query', 'SELECT 1', '--format', 'xml']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: .*xml/);
    expect(stackFrames(result.stderr)).toEqual([]);
  });
});

describe('medallion tables', () => {
  it('lists every table with the rows a count(*) query finds', async () => {
    const result = await cli(['--lake', lake, 'tables']);
    expect(result.code).toBe(0);
    const listed = boxTableRecords(result.stdout);
    expect(listed.map((row) => row.table).sort()).toEqual([...TABLES].sort());
    for (const row of listed) {
      // quality.rejected_rows is written only when a fail rule stops a run.
      if (row.table !== 'quality.rejected_rows') expect(Number(row.version), row.table).toBeGreaterThan(0);
      expect(Number(row.rows), row.table).toBe(await countRows(lake, `SELECT count(*) AS n FROM ${row.table}`));
    }
    expect(listed.some((row) => Number(row.rows) > 0)).toBe(true);
  });

  it('lists every table at version 0 with 0 rows on an empty lake', async () => {
    const dir = await tempDir('empty');
    for (const format of ['table', 'json'] as const) {
      const result = await cli(['--lake', dir, 'tables', '--format', format]);
      expect(result.code).toBe(0);
      const rows = format === 'json' ? (JSON.parse(result.stdout) as Record<string, unknown>[]) : boxTableRecords(result.stdout);
      expect(rows.map((row) => row.table).sort()).toEqual([...TABLES].sort());
      for (const row of rows) expect([Number(row.version), Number(row.rows)], String(row.table)).toEqual([0, 0]);
    }
  });
});

describe('medallion jobs', () => {
  it('lists every job with what each reads and writes', async () => {
    const result = await cli(['--lake', lake, 'jobs']);
    expect(result.code).toBe(0);
    const listed = boxTableRecords(result.stdout);
    expect(listed.map((row) => row.job)).toEqual(JOBS);
    // The reference pipeline's jobs, as docs/tables.md and README describe them.
    expect(listed).toEqual(expect.arrayContaining([
      { job: 'bronze.tasks_cdc', reads: 'landing/tasks/', writes: 'bronze.tasks_cdc' },
      { job: 'bronze.users_cdc', reads: 'landing/users/', writes: 'bronze.users_cdc' },
      { job: 'silver.tasks', reads: 'bronze.tasks_cdc', writes: 'silver.task_events, silver.tasks, silver.tasks_history' },
      { job: 'silver.users', reads: 'bronze.users_cdc', writes: 'silver.user_events, silver.users, silver.users_history' },
      { job: 'gold.daily_task_kpis', reads: 'silver.task_events, silver.tasks', writes: 'gold.daily_task_kpis' },
      { job: 'gold.active_users', reads: 'silver.task_events', writes: 'gold.active_users' },
      { job: 'gold.user_kpis', reads: 'silver.task_events, silver.users, silver.tasks', writes: 'gold.user_kpis' },
    ]));
  });
});

describe('medallion demo', () => {
  it('generates, runs every job and prints rows per table, quarantined records and gold.daily_task_kpis', async () => {
    const dir = await tempDir('demo');
    const result = await cli(['--lake', dir, 'demo', ...SMALL]);
    expect(stackFrames(result.stderr)).toEqual([]);
    expect(result.code).toBe(0);
    const progress = linesOf(result.stderr).filter((line) => line.includes(' SUCCEEDED '));
    expect(parseRunLines(progress.join('\n')).map((line) => line.job).sort()).toEqual([...JOBS].sort());

    const headings = ['Rows per table', 'Quarantined records', 'gold.daily_task_kpis'];
    const lines = result.stdout.split('\n');
    const at = headings.map((heading) => lines.indexOf(heading));
    expect(at.every((index) => index >= 0), `headings at ${at.join(', ')}`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const section = (index: number) => lines.slice((at[index] ?? 0) + 1, at[index + 1] ?? lines.length).join('\n');

    const perTable = boxTableRecords(section(0));
    expect(perTable.map((row) => row.table).sort()).toEqual([...TABLES].sort());
    for (const row of perTable) expect(Number(row.rows), row.table).toBe(await countRows(dir, `SELECT count(*) AS n FROM ${row.table}`));

    const quarantined = boxTableRecords(section(1));
    expect(quarantined.length).toBeGreaterThan(0);
    expect(quarantined.reduce((sum, row) => sum + Number(row.records), 0)).toBe(await countRows(dir, 'SELECT count(*) AS n FROM quarantine.records'));

    const kpis = boxTableRecords(section(2));
    const days = await queryJson(dir, 'SELECT dt FROM gold.daily_task_kpis ORDER BY dt');
    expect(kpis.map((row) => row.dt)).toEqual(days.map((row) => String(row.dt)));
    expect(kpis.length).toBeGreaterThan(0);
  });
});

describe('lake folder', () => {
  it('uses --lake over MEDALLION_LAKE, and MEDALLION_LAKE over ./lake', async () => {
    const [fromOption, fromEnv, cwd] = await Promise.all([tempDir('option'), tempDir('env'), tempDir('cwd')]);
    const original = process.cwd();
    process.chdir(cwd);
    try {
      expect((await cli(['--lake', fromOption, 'generate', ...TINY], { MEDALLION_LAKE: fromEnv })).code).toBe(0);
      expect((await filesUnder(fromOption)).length).toBeGreaterThan(0);
      expect(await filesUnder(fromEnv)).toEqual([]);

      expect((await cli(['generate', ...TINY], { MEDALLION_LAKE: fromEnv })).code).toBe(0);
      expect((await filesUnder(fromEnv)).length).toBeGreaterThan(0);
      expect(await filesUnder(cwd)).toEqual([]);

      expect((await cli(['generate', ...TINY], {})).code).toBe(0);
      expect((await filesUnder(path.join(cwd, 'lake'))).length).toBeGreaterThan(0);
    } finally {
      process.chdir(original);
    }
    expect(resolveLakeDirectory('a', { MEDALLION_LAKE: 'b' })).toBe('a');
    expect(resolveLakeDirectory(undefined, { MEDALLION_LAKE: 'b' })).toBe('b');
    expect(resolveLakeDirectory(undefined, {})).toBe('./lake');
  });

  it('refuses an empty --lake with exit 2 and one line', async () => {
    const result = await cli(['--lake', '', 'tables']);
    expect(result.code).toBe(2);
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: LAKE_OPTION_INVALID.*--lake/);
  });
});
