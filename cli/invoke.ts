import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { openLocalLake, type Job, type Lake, type LocalLakeOptions } from '../core/index.ts';
import type { AwsLakeConfig } from '../core/aws-lake.ts';
import { getJobBookmark, resetJobBookmark } from '../core/bookmark/index.ts';
import type { ResultColumn, ResultRow } from '../core/engine/index.ts';
import { ConfigError, describeError, JobStoppedError, MedallionError, systemProblemOf } from '../core/errors.ts';
import { ignoredArgumentNames } from '../core/job/index.ts';
import { StopRequest } from './stop.ts';
import { PACKAGE_ROOT } from '../core/package-root.ts';
import { resolveRunId } from '../core/runner/index.ts';
import { parseRetain, pipelineSuccessMetric, planRestore, restoreTable, runJobs, vacuumLake } from '../core/runner/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../jobs/index.ts';
import { GenerateOptionsSchema, generateFirehose, generateLanding, generateTraffic, type GenerateOptions } from '../simulator/index.ts';
import { addAthenaCommand } from './athena-command.ts';
import { addCatalogCommand, describeCatalogPublish } from './commands/catalog.ts';
import { addLockCommand } from './commands/lock.ts';
import { addStatusCommand, ExitStatus, STATUS_EXIT } from './commands/status.ts';
import { addReportCommand } from './commands/report.ts';
import { daysBefore } from './dates.ts';
import { demoCommand } from './commands/demo.ts';
import { queryCommand } from './commands/query.ts';
import { describeRestore, historyRows } from './commands/history.ts';
import { quarantineList, quarantineReplay, quarantineSummary, replayRange } from './commands/quarantine.ts';
import { parseAsOf } from '../core/table/index.ts';
import { qualityCommand, qualityHistoryCommand } from './commands/quality.ts';
import { reconcileCommand } from './commands/reconcile.ts';
import { loadPipelineRuleSets, PIPELINE_RULES_DIR } from '../jobs/quality.ts';
import { describeFailure, describeRun, describeSkipped, runSettings, runWarnings, selectJobs, splitRunTokens } from './commands/run.ts';
import { jobReach } from '../core/alarms.ts';
import { formatDuration } from '../core/monitoring/index.ts';
import { describeRunDetail, listRuns, RUN_COLUMNS, runDetail, TABLE_RUN_COLUMNS } from './commands/runs.ts';
import { describeBookmark } from './commands/bookmark.ts';
import { continuation, describeGenerated } from './commands/generate.ts';
import { listTables } from './commands/tables.ts';
import { OUTPUT_FORMATS, RowWriter, renderTable, type OutputFormat } from './format-rows.ts';
import type { CliIo } from './io.ts';
import { checkLakeFolder, resolveLakeDirectory } from './lake-option.ts';

export interface InvokeOptions {
  readonly io: CliIo;
  readonly env?: NodeJS.ProcessEnv;
  /** Opens the lake for a folder; tests may pass another. */
  readonly openLake?: (directory: string, options: LocalLakeOptions) => Lake;
  /** Asked to stop by SIGINT or SIGTERM (cli/main.ts): the runs under way end STOPPED and release their locks. */
  readonly stop?: StopRequest;
}

/** The demo's rate of each fault kind (generate's default is 0.01, a rough night's). */
export const DEMO_FAULT_RATE = 0.005;

/** Exit codes, as dbt uses them: 0 success, 1 data or run failure, 2 usage error or crash. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Generate options as typed on the command line, before validation. */
interface GenerateFlags {
  seed?: string;
  start?: string;
  days?: string;
  users?: string;
  tasksPerDay?: string;
  faultRate?: string;
}

const GENERATE_FLAGS: Readonly<Record<keyof GenerateFlags, string>> = {
  seed: '--seed',
  start: '--start',
  days: '--days',
  users: '--users',
  tasksPerDay: '--tasks-per-day',
  faultRate: '--fault-rate',
};

function addGenerateOptions(command: Command): Command {
  return command
    .option('--seed <n>', 'random seed; the same seed writes the same files')
    .option('--start <date>', 'first simulated UTC day, YYYY-MM-DD')
    .option('--days <n>', 'days of traffic')
    .option('--users <n>', 'Todo API users')
    .option('--tasks-per-day <n>', 'tasks created per day (about 3 change events each)')
    .option('--fault-rate <rate>', 'rate of each fault kind (duplicates, late files, malformed records, ...), 0 to 1');
}

/** DuckDB's memory limit as a size with its unit (`512MB`, `2GB`, `1.5GiB`), or undefined for DuckDB's default. */
function memoryLimitOption(text: string | undefined): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$/i.exec(text);
  if (!match || Number(match[1]) <= 0) {
    throw new ConfigError('MEMORY_LIMIT_INVALID', `--memory-limit ${JSON.stringify(text)}: must be a size with a unit, e.g. 512MB or 2GB`);
  }
  return `${match[1]}${(match[2] as string).toUpperCase().replace('IB', 'iB')}`;
}

/** A count option: digits only, from `min` to the largest whole number JavaScript and DuckDB both hold exactly. */
function wholeNumberOption(flag: string, text: string, code: string, min = 1): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || !Number.isSafeInteger(value)) {
    throw new ConfigError(code, `${flag} ${JSON.stringify(text)}: must be a whole number from ${min} to ${Number.MAX_SAFE_INTEGER}`);
  }
  return value;
}

/**
 * Validates generate flags with the simulator's own schema and reports every problem on one line,
 * named by the flag the user typed.
 */
function generateOptions(flags: GenerateFlags): GenerateOptions {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(GENERATE_FLAGS) as (keyof GenerateFlags)[]) {
    const text = flags[key];
    if (text === undefined) continue;
    input[key] = key !== 'start' && /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text.trim()) ? Number(text) : text;
  }
  const parsed = GenerateOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '') as keyof GenerateFlags;
    const flag = GENERATE_FLAGS[key] ?? key;
    return `${flag} ${JSON.stringify(flags[key] ?? '')}: ${issue.message.replace(/^Invalid input: /, '')}`;
  });
  throw new ConfigError('GENERATE_OPTIONS_INVALID', problems.join('; '), { hint: 'see medallion generate --help' });
}

/**
 * The command line with the program's own options (`--lake DIR`, `--state=T`) moved before the command, wherever
 * they were given, up to a `--`: `run --all --lake ../other` runs on ../other, never on the default lake.
 */
export function hoistGlobalOptions(args: readonly string[], program: Command): string[] {
  // The options that take a value (--lake DIR ...); --version is one only before the command (`restore --version N` is restore's).
  const valued = program.options.filter((option) => option.long !== undefined && (option.required || option.optional));
  const takesValue = new Map(valued.map((option) => [option.long!, true]));
  // Given twice with different values (`--lake dev ... --lake prod`), no choice between them is safe: refused.
  const repeatable = new Set(valued.filter((option) => Array.isArray(option.defaultValue)).map((option) => option.long!));
  const seen = new Map<string, string>();
  const global: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const token = args[index]!;
    if (token === '--') {
      rest.push(...args.slice(index));
      break;
    }
    const name = token.startsWith('--') ? token.split('=', 1)[0]! : undefined;
    if (name === undefined || !takesValue.has(name)) {
      rest.push(token);
      continue;
    }
    global.push(token);
    let value = token.includes('=') ? token.slice(token.indexOf('=') + 1) : undefined;
    if (takesValue.get(name) && !token.includes('=') && index + 1 < args.length) {
      value = args[++index]!;
      global.push(value);
    }
    if (value !== undefined && !repeatable.has(name)) {
      const before = seen.get(name);
      if (before !== undefined && before !== value) {
        throw new ConfigError('GLOBAL_OPTION_REPEATED', `${name} is given twice, as ${JSON.stringify(before)} and ${JSON.stringify(value)}`, { hint: `give ${name} once` });
      }
      seen.set(name, value);
    }
  }
  return [...global, ...rest];
}

/** medallion's version, from its package.json. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The Glue arguments with each `--job-bookmark-from` / `--job-bookmark-to` run id prefix resolved among the jobs' runs. */
async function resolveRunIdArguments(lake: Lake, argv: readonly string[], jobs: readonly Job[]): Promise<string[]> {
  const resolved = [...argv];
  for (let index = 0; index < resolved.length; index += 1) {
    const [name, inline] = resolved[index]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (name !== '--job-bookmark-from' && name !== '--job-bookmark-to') continue;
    const value = inline ?? resolved[index + 1];
    if (value === undefined || value.startsWith('--')) continue;
    const { record } = await resolveRunId(lake.state, value, jobs.map((job) => job.name));
    if (inline !== undefined) resolved[index] = `${name}=${record.Id}`;
    else resolved[index + 1] = record.Id;
  }
  return resolved;
}

/** `/srv/lake (folder)` or `s3://bucket/prefix (state dynamodb://table)`: which lake a command works on. */
function describeLake(lake: Lake): string {
  if (lake.storage.location.startsWith('file://') && lake.state.location.startsWith('file://')) return `${lake.storage.location.slice('file://'.length)} (folder)`;
  return `${lake.storage.location} (state ${lake.state.location})`;
}

/**
 * The `medallion` command as a function: parses `args` (without `node` and the script), runs the
 * command, and returns the exit code. Errors become one line on stderr, never a stack trace.
 *
 * @example
 * const code = await invoke(['query', 'SELECT 1'], { io: bufferIo() });
 */
export async function invoke(args: readonly string[], options: InvokeOptions): Promise<number> {
  const program = createProgram(options);
  try {
    await program.parseAsync(hoistGlobalOptions(args, program), { from: 'user' });
  } catch (error) {
    const code = reportError(error, options.io, options.env ?? process.env);
    // A usage error anywhere on a `status` line (`medallion --bogus status`) keeps status's own code: never "critical".
    if (code === EXIT.usage && (error instanceof CommanderError || (error instanceof ConfigError && error.code === 'GLOBAL_OPTION_REPEATED')) && args.includes('status')) return STATUS_EXIT.usage;
    return code;
  }
  return EXIT.ok;
}

/**
 * The `medallion` command tree (commander), without parsing anything: `invoke` runs it, and tests read
 * its commands and options (a runbook may only name what exists).
 */
export function createProgram(options: InvokeOptions): Command {
  const { io } = options;
  const env = options.env ?? process.env;
  const openLake = options.openLake ?? ((directory: string, lakeOptions: LocalLakeOptions) => openLocalLake(directory, lakeOptions));

  const program = new Command('medallion')
    .description('A medallion data lake for DynamoDB change data: bronze, silver and gold tables on DuckDB or AWS.')
    .version(packageVersion(), '-V, --version', 'print the version of medallion')
    .option('--lake <dir>', 'lake folder, or s3://bucket[/prefix] for a lake in S3 (default: $MEDALLION_LAKE, else ./lake)')
    .option('--storage <s3uri>', 'the same as --lake s3://bucket[/prefix] (default: $MEDALLION_STORAGE)')
    .option('--lake-location <folder=s3uri>', 'S3 lake: where one top folder lives, e.g. landing=s3://raw-bucket/ (repeatable; $MEDALLION_LAKE_<FOLDER>, or $MEDALLION_LOCATIONS comma-separated)', collect, [])
    .option('--state <table>', 'S3 lake: the DynamoDB state table, as dynamodb://TABLE or TABLE (default: $MEDALLION_STATE_TABLE)')
    .option('--endpoint-url <url>', 'S3 lake: an S3- and DynamoDB-compatible endpoint instead of AWS (default: $AWS_ENDPOINT_URL)')
    .option('--glue-database-prefix <prefix>', 'S3 lake: publish every commit to Glue databases <prefix>_<layer> (default: $MEDALLION_GLUE_DATABASE_PREFIX)')
    .option('--rules <dir>', 'quality rule sets, <table>.dqdl files (default: $MEDALLION_QUALITY_RULES, else the pipeline\'s quality/rules)')
    .option('--memory-limit <size>', 'memory DuckDB may use per engine before it spills to disk, e.g. 2GB (default: $MEDALLION_MEMORY_LIMIT, else a quarter of the memory available, at most 1GiB)')
    // Global options are taken anywhere on the line (`medallion run --all --lake DIR` runs on DIR): `invoke` moves
    // them before the command (hoistGlobalOptions), where they are parsed, so a command's own options (`quality
    // history --format`) stay its own. No command has an option of the same name (a test checks); each command's help
    // lists them.
    .enablePositionalOptions()
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.out(text),
      writeErr: (text) => io.err(text),
      // One line: what is wrong and where to look.
      outputError: (text, write) => write(`${text.trimEnd()} (see medallion --help)\n`),
    });
  /**
   * The lake the global options name; a folder lake must exist unless the command makes one (`create`). The first
   * time, stderr says which lake (and where its state is), so a run meant for one lake is never silently on another.
   */
  let announced = false;
  const lake = (options: { readonly create?: boolean } = {}) => {
    const opened = openNamedLake(options);
    if (!announced) {
      announced = true;
      io.err(`lake: ${describeLake(opened)}\n`);
    }
    return opened;
  };
  type LakeFlags = { lake?: string; storage?: string; lakeLocation: string[]; state?: string; endpointUrl?: string; glueDatabasePrefix?: string };
  /** Where the global options put the lake: a folder, or s3://bucket[/prefix]. */
  const lakeLocation = (flags: LakeFlags): string => {
    const storage = flags.storage ?? env.MEDALLION_STORAGE;
    if (storage !== undefined && !storage.startsWith('s3://')) {
      throw new ConfigError('AWS_LAKE_CONFIG_INVALID', `--storage ${JSON.stringify(storage)}: must be s3://bucket[/prefix] (a folder lake is --lake DIR)`);
    }
    if (storage !== undefined && flags.lake !== undefined && flags.lake !== storage) {
      throw new ConfigError('AWS_LAKE_CONFIG_INVALID', `--storage ${storage} and --lake ${flags.lake} name different lakes; give one`);
    }
    return resolveLakeDirectory(storage ?? flags.lake, env);
  };
  // The AWS SDK's clients take about a fifth of a second to load: only a command on a lake in S3 loads them, before
  // its action runs (a command on a folder lake, and most runbook steps, never pay for them).
  let awsLake: typeof import('../core/aws-lake.ts') | undefined;
  program.hook('preAction', async () => {
    let where: string | undefined;
    try {
      where = lakeLocation(program.opts<LakeFlags>());
    } catch {
      return; // said by the command that opens the lake
    }
    if (where.startsWith('s3://')) awsLake ??= await import('../core/aws-lake.ts');
  });
  const openNamedLake = (options: { readonly create?: boolean }) => {
    const flags = program.opts<LakeFlags>();
    const where = lakeLocation(flags);
    const memoryLimit = memoryLimitOption(program.opts<{ memoryLimit?: string }>().memoryLimit ?? env.MEDALLION_MEMORY_LIMIT);
    if (where.startsWith('s3://')) {
      if (!awsLake) throw new Error('the S3 lake module was not loaded before the command ran');
      return awsLake.openAwsLake({ ...awsLakeConfig(where, flags, env), ...(memoryLimit ? { memoryLimit } : {}) }, PIPELINE_TABLES);
    }
    if (!options.create) checkLakeFolder(where);
    return openLake(where, memoryLimit ? { memoryLimit } : {});
  };

  /** Runs `work` as a command's stoppable part: a SIGINT or SIGTERM meanwhile stops its runs cleanly (cli/stop.ts). */
  const stoppable = async <T>(work: (stop: AbortSignal) => Promise<T>): Promise<T> => {
    const stop = options.stop ?? new StopRequest();
    const release = stop.hold();
    try {
      return await work(stop.signal);
    } finally {
      release();
    }
  };

  const ruleSets = () => {
    const folder = program.opts<{ rules?: string }>().rules ?? env.MEDALLION_QUALITY_RULES;
    return loadPipelineRuleSets(folder ?? PIPELINE_RULES_DIR);
  };

  addGenerateOptions(program.command('generate').description('Write simulated Todo API change data into landing/ as Firehose would, or (--to dynamodb) the traffic itself into the Users and Tasks tables.'))
    .option('--to <target>', 'landing (default): change data files in the lake; dynamodb: item writes to the source tables, whose streams make the change data; firehose: the change records put to delivery streams (--tasks-stream, --users-stream)')
    .option('--tasks-stream <name>', 'with --to firehose: the delivery stream of the tasks change records')
    .option('--users-stream <name>', 'with --to firehose: the delivery stream of the users change records')
    .option('--users-table <name>', 'with --to dynamodb: the Users table (default Users)')
    .option('--tasks-table <name>', 'with --to dynamodb: the Tasks table (default Tasks)')
    .option('--continue', 'add days to a lake that holds landing data: from the day after its latest event, with new user, task and event ids')
    .addOption(new Option('--format <format>', 'text (default): progress and a summary; json: the whole summary').choices(['text', 'json']).default('text'))
    .action(async (flags: GenerateFlags & { to?: string; usersTable?: string; tasksTable?: string; tasksStream?: string; usersStream?: string; continue?: boolean; format: 'text' | 'json' }) => {
      const to = flags.to ?? 'landing';
      if (to !== 'landing' && to !== 'dynamodb' && to !== 'firehose') throw new ConfigError('GENERATE_OPTIONS_INVALID', `--to ${JSON.stringify(to)}: must be landing, dynamodb or firehose`);
      // An option of another target is a mistake, not something to ignore (the traffic would go somewhere else).
      const misplaced = [
        ...(to !== 'dynamodb' ? [flags.usersTable && '--users-table', flags.tasksTable && '--tasks-table'] : []),
        ...(to !== 'firehose' ? [flags.usersStream && '--users-stream', flags.tasksStream && '--tasks-stream'] : []),
      ].filter(Boolean);
      if (misplaced.length > 0) throw new ConfigError('GENERATE_OPTIONS_INVALID', `${misplaced.join(' and ')} ${misplaced.length === 1 ? 'is' : 'are'} not for --to ${to}`, { hint: '--users-table/--tasks-table go with --to dynamodb, --users-stream/--tasks-stream with --to firehose' });
      const options = generateOptions(flags);
      if (to !== 'landing' && flags.continue) {
        throw new ConfigError('GENERATE_OPTIONS_INVALID', `--continue reads the lake's landing data, which --to ${to} does not write`, { hint: `give --to ${to} a --start and a --seed of its own` });
      }
      if (to === 'firehose') {
        if (!flags.tasksStream || !flags.usersStream) throw new ConfigError('GENERATE_OPTIONS_INVALID', '--to firehose needs --tasks-stream NAME and --users-stream NAME, the delivery streams to put to');
        const { FirehoseClient } = await import('@aws-sdk/client-firehose');
        const client = new FirehoseClient({ ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}), ...(env.AWS_ENDPOINT_URL_FIREHOSE ? { endpoint: env.AWS_ENDPOINT_URL_FIREHOSE } : {}) });
        try {
          const sent = await generateFirehose(client, options, { streams: { tasks: flags.tasksStream, users: flags.usersStream } });
          await io.out(flags.format === 'json' ? `${JSON.stringify(sent, null, 2)}\n` : `Put ${options.days} days of Todo API change records to Firehose: ${sent.records.tasks} to ${flags.tasksStream}, ${sent.records.users} to ${flags.usersStream}, in ${sent.batches} batches (${sent.retried} records sent again)\n`);
        } finally {
          client.destroy();
        }
        return;
      }
      if (to === 'dynamodb') {
        const endpointUrl = program.opts<{ endpointUrl?: string }>().endpointUrl ?? env.AWS_ENDPOINT_URL;
        const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
        const client = new DynamoDBClient({ ...(endpointUrl ? { endpoint: endpointUrl } : {}), ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}) });
        try {
          const tables = { ...(flags.usersTable ? { users: flags.usersTable } : {}), ...(flags.tasksTable ? { tasks: flags.tasksTable } : {}) };
          const traffic = await generateTraffic(client, options, { tables });
          const line = Object.entries(traffic.writes).map(([source, writes]) => `${source}: ${writes.puts} puts, ${writes.deletes} deletes`).join('; ');
          await io.out(flags.format === 'json' ? `${JSON.stringify(traffic, null, 2)}\n` : `Wrote ${options.days} days of Todo API traffic to DynamoDB (${line}; ${traffic.retried} throttled writes sent again)\n`);
        } finally {
          client.destroy();
        }
        return;
      }
      const opened = lake({ create: true });
      let generation = options;
      if (flags.continue) {
        if (flags.start !== undefined) throw new ConfigError('GENERATE_OPTIONS_INVALID', '--continue starts the day after the lake\'s latest event: give --start or --continue, not both');
        const next = await continuation(opened.storage);
        // Days after yesterday would hold events in the future, which bronze quarantines (event_time_out_of_range).
        const yesterday = daysBefore(1);
        const last = new Date(Date.parse(`${next.start}T00:00:00Z`) + (options.days - 1) * 86_400_000).toISOString().slice(0, 10);
        if (last > yesterday) {
          const room = Math.round((Date.parse(`${yesterday}T00:00:00Z`) - Date.parse(`${next.start}T00:00:00Z`)) / 86_400_000) + 1;
          throw new ConfigError('GENERATE_FUTURE_DAYS', `--continue from ${next.start} for ${options.days} days would write up to ${last}, after yesterday (${yesterday}): events in the future are quarantined`, {
            hint: room > 0 ? `add at most ${room} day${room === 1 ? '' : 's'} (--days ${room})` : 'the lake already reaches yesterday: nothing to add until tomorrow',
          });
        }
        io.err(`continuing after the latest event in the lake (${next.lastEvent}): from ${next.start}, id space ${next.idSpace}\n`);
        generation = { ...options, start: next.start, idSpace: next.idSpace };
      }
      // A line per simulated day at a terminal, else about ten in all: a large lake takes minutes.
      const every = io.interactive ? 1 : Math.max(1, Math.ceil(generation.days / 10));
      const summary = await generateLanding(opened.storage, generation, {
        onDay: (day, days, sofar) => {
          if (day % every === 0 || day === days) io.err(`generated day ${day} of ${days}: ${sofar.objectsWritten} objects so far\n`);
        },
      });
      await io.out(flags.format === 'json' ? `${JSON.stringify(summary, null, 2)}\n` : describeGenerated(generation, summary, describeLake(opened)));
    });

  program
    .command('run')
    .description(
      'Run jobs in dependency order, each locked, recorded and retried as a Glue job run: medallion run silver.tasks, or --all. ' +
        'Glue arguments: --job-bookmark-option, --max-retries N, --timeout MINUTES, the job\'s own --name value; --wait queues behind a running run.',
    )
    .argument('[jobs...]', 'job names, then Glue-style arguments')
    .option('--all', 'run every job')
    .option('--wait', 'wait for a running run of the same job instead of refusing')
    .option('--full-refresh', 'rebuild the jobs\' tables from all their inputs, never reading their last version (the repair for a lost or damaged file)')
    .allowUnknownOption()
    .helpOption('-h, --help')
    .action(async (_jobs: string[], flags: { all?: boolean; wait?: boolean; fullRefresh?: boolean }, command: Command) => {
      const split = splitRunTokens(command.args);
      const line = { ...split, all: split.all || (flags.all ?? false), wait: split.wait || (flags.wait ?? false), fullRefresh: (split.fullRefresh ?? false) || (flags.fullRefresh ?? false) };
      const jobName = jobNameArgument(line.glueArguments);
      const names = line.jobNames.length === 0 && jobName !== undefined && !line.all ? [jobName] : line.jobNames;
      const jobs = selectJobs(names, line.all, PIPELINE_JOBS);
      runSettings(line, jobs);
      const opened = lake();
      // --job-bookmark-from/--job-bookmark-to take a run id or a unique start of one, as every run id option does.
      const settings = runSettings({ ...line, glueArguments: await resolveRunIdArguments(opened, line.glueArguments, jobs) }, jobs);
      // Glue ignores arguments no job reads, and so does a run; a typo is named, with what was meant.
      const ignored = ignoredArgumentNames(line.glueArguments, jobs.map((job) => job.defaultArguments ?? {}));
      if (ignored.length > 0) {
        io.err(`warning: ignored, no job of this run reads ${ignored.map((entry) => `--${entry.name}${entry.suggestion ? ` (did you mean --${entry.suggestion}?)` : ''}`).join(', ')}\n`);
      }
      const quality = await ruleSets();
      // Output that cannot be written (a full disk, a closed pipe) does not stop the pipeline halfway: the
      // runs finish, and the command then fails saying so.
      let outputFailure: unknown;
      const print = (text: string) => {
        try {
          Promise.resolve(io.out(text)).catch((error: unknown) => void (outputFailure ??= error));
        } catch (error) {
          outputFailure ??= error;
        }
      };
      const reachOf = (name: string) => jobReach(jobs.find((job) => job.name === name)!, [...quality.values()]);
      const counts = { succeeded: 0, failed: 0, skipped: 0, stopped: 0, notStarted: 0 };
      const stop = options.stop ?? new StopRequest();
      const release = stop.hold();
      try {
        await runJobs(opened, jobs, {
          quality,
          stop: stop.signal,
          settingsFor: (job) => settings.get(job) ?? {},
          // At a terminal a start line for each job; anywhere, a line every 30 s while one runs, so a long job never
          // looks hung (a script's stderr stays empty for runs that end sooner).
          onStart: (job) => {
            if (io.interactive) io.err(`${job.name} started\n`);
          },
          progressEveryMs: 30_000,
          onProgress: (job, elapsedMs) => io.err(`${job.name} running for ${formatDuration(elapsedMs)}\n`),
          onResult: (result) => {
            counts.succeeded += 1;
            print(`${describeRun(result)}\n${runWarnings(result, reachOf(result.job).quarantines).map((line) => `${line}\n`).join('')}`);
          },
          onFailure: (job, error, elapsedMs) => {
            if (error instanceof JobStoppedError) counts.stopped += 1;
            else counts.failed += 1;
            // One job: the error line says it all.
            if (jobs.length > 1) print(`${describeFailure(job, error, elapsedMs)}\n`);
          },
          onSkipped: (job, failed) => {
            counts.skipped += 1;
            print(`${describeSkipped(job, failed)}\n`);
          },
          onNotStarted: (job) => {
            counts.notStarted += 1;
            print(`${job.name} NOT STARTED: the runs were stopped\n`);
          },
          // A failed publish does not fail the run (its commits stand), but the person at the terminal must know.
          onCatalogPublish: (outcome) => {
            if (!outcome.ok) io.err(`warning: ${describeCatalogPublish(outcome)}\n`);
          },
        });
      } finally {
        release();
        // The count, after the lines of the jobs (the error follows on stderr).
        if (jobs.length > 1 && counts.failed + counts.skipped + counts.stopped + counts.notStarted > 0) {
          const stopped = counts.stopped + counts.notStarted > 0 ? `, ${counts.stopped} stopped, ${counts.notStarted} not started` : '';
          print(`${jobs.length} jobs: ${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.skipped} skipped${stopped}\n`);
        }
      }
      // Stopped after the runs under way had committed: nothing failed, but not every job ran.
      stop.throwIfStopped(`stopped: ${counts.succeeded} of ${jobs.length} jobs ran to the end`);
      // Every job of the pipeline succeeded: the time self-hosted monitoring's no-success alert measures from.
      if (line.all) {
        await lake().metrics.emit([pipelineSuccessMetric(new Date())]).catch((error: unknown) => io.err(`warning: the pipeline's success metric could not be emitted: ${describeError(error)}\n`));
      }
      if (outputFailure !== undefined) {
        throw new MedallionError('OUTPUT_FAILED', `the runs finished, but their report could not be written: ${describeError(outputFailure)}`, {
          cause: outputFailure,
          hint: '`medallion runs` shows what each run did',
        });
      }
    });

  const bookmark = program.command('bookmark').description("A job's bookmark, as Glue's GetJobBookmark / ResetJobBookmark show it.");
  bookmark
    .command('get')
    .description("Where the job's bookmark is, per source: what it has read up to and which run committed it; --format json prints Glue's JobBookmarkEntry (JobName, Version, Run, Attempt, RunId, PreviousRunId, JobBookmark).")
    .argument('<job>', 'job name')
    .addOption(new Option('--format <format>', 'summary (default) or json, the raw JobBookmarkEntry').choices(['summary', 'json']).default('summary'))
    .action(async (name: string, flags: { format: 'summary' | 'json' }) => {
      const [job] = selectJobs([name], false, PIPELINE_JOBS);
      const entry = await getJobBookmark(lake().state, (job as Job).name);
      await io.out(flags.format === 'json' ? `${JSON.stringify(entry, null, 2)}\n` : describeBookmark(entry));
    });
  bookmark
    .command('reset')
    .description('Reset the bookmark (the next enable run reads everything), or rewind it to what run --run-id R had committed.')
    .argument('<job>', 'job name')
    .option('--run-id <id>', 'rewind to the bookmark this run committed (its id, or a unique start of it)')
    .addOption(new Option('--format <format>', 'summary (default) or json, the JobBookmarkEntry it leaves').choices(['summary', 'json']).default('summary'))
    .action(async (name: string, flags: { runId?: string; format: 'summary' | 'json' }) => {
      const [job] = selectJobs([name], false, PIPELINE_JOBS);
      const opened = lake();
      // A run id, or a unique prefix of one (as `runs` prints them).
      const runId = flags.runId === undefined ? undefined : (await resolveRunId(opened.state, flags.runId, [(job as Job).name])).record.Id;
      const entry = await resetJobBookmark(opened.state, (job as Job).name, runId);
      await io.out(flags.format === 'json' ? `${JSON.stringify(entry, null, 2)}\n` : describeBookmark(entry));
    });

  const runs = program
    .command('runs')
    .description('List job runs, newest first: run id, state, attempt, times, records and error, as Glue shows JobRuns; `runs show <id>` for one run.')
    .argument('[jobs...]', 'job names (default: every job)')
    .option('--limit <n>', 'the newest n runs (default: 20 as a table, every run as json or csv)')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    // `runs show --format json`: the subcommand's own options belong to it.
    .enablePositionalOptions()
    .action(async (names: string[], flags: { format: OutputFormat; limit?: string }) => {
      const jobs = names.length > 0 ? selectJobs(names, false, PIPELINE_JOBS).map((job) => job.name) : undefined;
      const rows = await listRuns(lake(), jobs);
      const limit = flags.limit === undefined ? (flags.format === 'table' ? 20 : Number.POSITIVE_INFINITY) : wholeNumberOption('--limit', flags.limit, 'RUNS_OPTIONS_INVALID');
      const shownRows = rows.slice(0, limit);
      const columns = RUN_COLUMNS.map((name) => ({ name, type: /^(attempt|execution_s|records_|bytes_|elapsed)/.test(name) ? 'BIGINT' : 'VARCHAR' }));
      if (flags.format === 'table') {
        // The id in full (to copy into `runs show`, `bookmark reset --run-id`); the details are in `runs show`.
        const shown = columns.filter((column) => TABLE_RUN_COLUMNS.has(column.name));
        await writeRows(io, 'table', shown, shownRows);
      } else {
        await writeRows(io, flags.format, columns, shownRows);
      }
      if (shownRows.length < rows.length) io.err(`the newest ${shownRows.length} of ${rows.length} runs (--limit N for more)\n`);
    });
  runs
    .command('show')
    .description('One run in full: its job, state, attempt and retry chain, times, arguments, metrics, error, its quality outcomes and the table versions it committed.')
    .argument('<run-id>', 'a run id, or a unique start of one')
    .addOption(new Option('--format <format>', 'text (default) or json').choices(['text', 'json']).default('text'))
    .action(async (given: string, flags: { format: 'text' | 'json' }) => {
      const detail = await runDetail(lake(), given);
      await io.out(flags.format === 'json' ? `${JSON.stringify(detail, null, 2)}\n` : describeRunDetail(detail));
    });

  program
    .command('query')
    .description('Run a read-only SQL query over the committed tables, named layer.table (e.g. gold.daily_task_kpis): no writes, and no other files unless --allow-local-files.')
    .argument('<sql>', 'a SQL query')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .option('--allow-local-files', "let the query read files on this machine besides the lake's tables (it still cannot write)")
    .option('--as-of <commit|time>', 'read the tables as an earlier commit left them: a commit number from `medallion history`, or a UTC time (2025-11-03T06:00:00Z)')
    .action(async (sql: string, flags: { format: OutputFormat; allowLocalFiles?: boolean; asOf?: string }) => {
      await queryCommand(lake(), sql, flags.format, io, { allowLocalFiles: flags.allowLocalFiles ?? false, ...(flags.asOf === undefined ? {} : { asOf: parseAsOf(flags.asOf) }) });
    });

  program
    .command('restore')
    .description("Make an earlier version of a table current again, as a new commit; the job that writes it is moved back to where that version was made, and the jobs that read it recompute from it.")
    .argument('<table>', 'a table, layer.table')
    .requiredOption('--version <n>', 'the version to restore (see `medallion history <table>`)')
    .option('--dry-run', 'print what would change, change nothing')
    .action(async (table: string, flags: { version: string; dryRun?: boolean }) => {
      const version = wholeNumberOption('--version', flags.version, 'RESTORE_OPTIONS_INVALID');
      const plan = flags.dryRun ? await planRestore(lake(), PIPELINE_JOBS, table, version) : await restoreTable(lake(), PIPELINE_JOBS, table, version);
      await io.out(describeRestore(plan, flags.dryRun ?? false));
      if (plan.catalog && !plan.catalog.ok) io.err(`warning: ${describeCatalogPublish(plan.catalog)}\n`);
    });

  program
    .command('vacuum')
    .description('Remove the data files, Athena manifests and table manifests no version inside the retention window needs; never a file a run not over yet wrote. Prints files and bytes reclaimed.')
    .option('--retain <duration>', 'keep every version current at any time this far back (7d, 36h; at least 1h)', '7d')
    .option('--dry-run', 'print what would be removed, remove nothing')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: { retain: string; dryRun?: boolean; format: OutputFormat }) => {
      const result = await vacuumLake(lake(), PIPELINE_JOBS, { retainMs: parseRetain(flags.retain), dryRun: flags.dryRun ?? false });
      if (flags.format !== 'table') {
        const { sample: _sample, ...row } = result;
        const columns = Object.keys(row).map((name) => ({ name, type: typeof (row as Record<string, unknown>)[name] === 'number' ? 'BIGINT' : 'VARCHAR' }));
        await writeRows(io, flags.format, columns, [row as unknown as ResultRow]);
        return;
      }
      const verb = result.dryRun ? 'would remove' : 'removed';
      const mib = (result.bytesRemoved / 1024 / 1024).toFixed(1);
      await io.out(`${verb} ${result.filesRemoved} files (${mib} MiB, ${result.bytesRemoved} bytes) and ${result.manifestsRemoved} table manifests; ` +
        `kept ${result.filesKept} files of the versions current since ${result.cutoff} (commits ${result.keptFromCommit} on)\n` +
        result.sample.map((key) => `  ${result.dryRun ? 'would remove' : 'removed'} ${key}\n`).join('') +
        (result.filesRemoved > result.sample.length ? `  ... and ${result.filesRemoved - result.sample.length} more\n` : ''));
    });

  const quarantine = program.command('quarantine').description('The records jobs could not accept (quarantine.records): look at them, and re-offer them once a contract, a rule or the source is fixed.');
  const quarantineFilters = (command: Command) =>
    command
      .option('--job <job>', 'only records this job quarantined')
      .option('--reason <code>', 'only records with this reason code (e.g. event_time_out_of_range)')
      .option('--since <date>', 'only records quarantined at or after this date or time (UTC)');
  type QuarantineFlags = { job?: string; reason?: string; since?: string; format: OutputFormat };
  const filterOf = (flags: QuarantineFlags) => ({ ...(flags.job ? { job: flags.job } : {}), ...(flags.reason ? { reason: flags.reason } : {}), ...(flags.since ? { since: flags.since } : {}) });
  quarantineFilters(quarantine.command('summary').description('Quarantined records per job and reason: how many, from how many objects, first and last.'))
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: QuarantineFlags) => {
      const { columns, rows } = await quarantineSummary(lake(), filterOf(flags));
      await writeRows(io, flags.format, columns, rows);
    });
  quarantineFilters(quarantine.command('list').description('The quarantined records, newest first: job, reason, where they came from, the run, and the raw record.'))
    .option('--limit <n>', 'rows at most', '100')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: QuarantineFlags & { limit: string }) => {
      const { columns, rows } = await quarantineList(lake(), filterOf(flags), wholeNumberOption('--limit', flags.limit, 'QUARANTINE_OPTIONS_INVALID'));
      await writeRows(io, flags.format, columns, rows);
    });
  quarantineFilters(quarantine.command('replay').description('Re-offer quarantined records to the job that refused them: accepted ones leave the quarantine and flow on to silver and gold, refused ones stay with the new reason.'))
    .action(async (flags: QuarantineFlags) => {
      const quality = await ruleSets();
      const outcomes = await stoppable((stop) => quarantineReplay(lake(), PIPELINE_JOBS, filterOf(flags), quality, stop));
      if (outcomes.length === 0) io.err('no quarantined record matches; nothing re-offered\n');
      for (const outcome of outcomes) {
        await io.out(`${outcome.job}: re-offered ${outcome.offered} records (${outcome.how === 'records' ? 'those records alone, from their landing objects' : 'a full refresh of the job'}): ` +
          `${outcome.accepted} accepted, ${outcome.refused} still refused` +
          `${outcome.downstream.length > 0 ? `; then ran ${outcome.downstream.join(', ')}` : ''}\n`);
      }
    });

  program
    .command('replay')
    .description('Re-process a range and everything downstream of it: a bronze job re-reads the landing objects that arrived from --from to --to and replaces what came of them; a silver or gold job is rebuilt in full; then the jobs downstream recompute. The result is what a clean full run gives.')
    .argument('<jobs...>', 'the jobs to replay, e.g. bronze.tasks_cdc')
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD (UTC; for bronze, the day objects arrived)')
    .requiredOption('--to <date>', 'last day, YYYY-MM-DD, included')
    .action(async (names: string[], flags: { from: string; to: string }) => {
      const quality = await ruleSets();
      const outcomes = await stoppable((stop) => replayRange(lake(), PIPELINE_JOBS, names, { from: flags.from, to: flags.to }, quality, stop));
      for (const outcome of outcomes) {
        const how = outcome.how === 'range' ? `replayed ${flags.from}..${flags.to}` : outcome.how === 'full-refresh' ? 'rebuilt in full' : 'recomputed downstream';
        await io.out(`${outcome.job} ${how}: read ${outcome.read}, wrote ${outcome.written}, quarantined ${outcome.quarantined}\n`);
      }
    });

  program
    .command('history')
    .description('Every version of a table, newest first: the commit that made it current, when, the operation, the job and run, rows, files and bytes.')
    .argument('<table>', 'a table, layer.table')
    .option('--limit <n>', 'at most this many versions', '50')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (table: string, flags: { limit: string; format: OutputFormat }) => {
      const limit = wholeNumberOption('--limit', flags.limit, 'HISTORY_OPTIONS_INVALID');
      const { columns, rows } = await historyRows(lake(), table, limit);
      await writeRows(io, flags.format, columns, rows);
    });

  program
    .command('tables')
    .description('List tables with their committed rows, partitions, files and size.')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: { format: OutputFormat }) => {
      const rows = await listTables(lake());
      const columns = ['table', 'version', 'rows', 'partitions', 'files', 'size_bytes', 'committed_at'].map((name) => ({
        name,
        type: name === 'table' || name === 'committed_at' ? 'VARCHAR' : 'BIGINT',
      }));
      await writeRows(io, flags.format, columns, rows);
    });

  program
    .command('jobs')
    .description('List the jobs, what they read and what they write.')
    .action(async () => {
      const rows = PIPELINE_JOBS.map((job) => ({
        job: job.name,
        reads: Object.values(job.sources).map((source) => (source.kind === 'table' ? source.table : source.prefix)).join(', '),
        writes: job.outputs.map((output) => output.name).join(', '),
      }));
      await io.out(renderTable(['job', 'reads', 'writes'].map((name) => ({ name, type: 'VARCHAR' })), rows, io.width));
    });

  const quality = program
    .command('quality')
    .description('Evaluate quality rule sets over the committed lake (landing freshness, every table): prints each rule\'s outcome, records it in quality.results, exits 1 when a rule with action fail did not pass.')
    .argument('[tables...]', 'tables or landing sources (landing.tasks) to check (default: every rule set)')
    // `quality history --format json`: the subcommand's own options belong to it.
    .enablePositionalOptions()
    .option('--no-record', 'print only; do not add the results to quality.results')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (tables: string[], flags: { record: boolean; format: OutputFormat }) => {
      await qualityCommand(lake(), await ruleSets(), tables, { record: flags.record, format: flags.format, write: (columns, rows) => writeRows(io, flags.format, columns, rows) }, io);
    });
  quality
    .command('history')
    .description('Recorded quality evaluations (quality.results), newest first: job runs\' checks and `medallion quality` checks.')
    .argument('[name]', 'a job (the evaluations its runs made, on any of its tables) or a table (every evaluation of it, by whichever job); a name that is both means either')
    .option('--job <job>', 'only evaluations made by this job\'s runs (`quality` for the quality step)')
    .option('--table <table>', 'only evaluations of this table')
    .option('--failed', 'only rules that failed or could not be evaluated')
    .option('--limit <n>', 'rows at most', '50')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (name: string | undefined, flags: { job?: string; table?: string; failed?: boolean; limit: string; format: OutputFormat }) => {
      const limit = wholeNumberOption('--limit', flags.limit, 'QUALITY_OPTIONS_INVALID');
      await qualityHistoryCommand(lake(), { name, job: flags.job, table: flags.table }, { limit, failedOnly: flags.failed ?? false, format: flags.format }, io);
    });

  program
    .command('reconcile')
    .description('Prove that nothing was lost or doubled: per source and bronze run, landing records = bronze rows + quarantined, and bronze rows = silver events + duplicates + quarantined; lists every record that does not add up (exit 1).')
    .option('--limit <n>', 'differences listed at most', '1000')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: { limit: string; format: OutputFormat }) => {
      const limit = wholeNumberOption('--limit', flags.limit, 'RECONCILE_OPTIONS_INVALID');
      await reconcileCommand(lake(), { limit, write: (columns, rows) => writeRows(io, flags.format, columns, rows) }, io);
    });

  addAthenaCommand(program, io, {
    lake: () => lake(),
    env,
    databasePrefix: () => program.opts<{ glueDatabasePrefix?: string }>().glueDatabasePrefix ?? env.MEDALLION_GLUE_DATABASE_PREFIX ?? 'medallion',
  });
  addCatalogCommand(program, io, lake);
  addLockCommand(program, io, lake);
  addStatusCommand(program, io, lake, ruleSets);
  addReportCommand(program, io, lake, ruleSets, env);

  addGenerateOptions(
    program.command('demo').description('Generate a week of traffic (ending yesterday, unless --start says otherwise), run every job, and print row counts, quarantine counts and the KPI table.'),
  ).action(async (flags: GenerateFlags) => {
    const lakeOption = program.opts<{ lake?: string }>().lake;
    // Faults a normal night sees: each kind at 0.5% keeps the quarantine near 3%, under the pipeline's own 5% warn rule.
    const options = generateOptions({ ...flags, faultRate: flags.faultRate ?? String(DEMO_FAULT_RATE) });
    // The demo lake looks like a live one: its traffic ends yesterday, so freshness rules and `status` judge it as they would a real lake.
    const start = flags.start ?? daysBefore(options.days);
    const quality = await ruleSets();
    await stoppable((stop) => demoCommand(lake({ create: true }), { ...options, start }, io, lakeOption, quality, stop));
  });

  return program;
}

/** A small result in the chosen format. */
async function writeRows(io: CliIo, format: OutputFormat, columns: readonly ResultColumn[], rows: readonly ResultRow[]): Promise<void> {
  if (format === 'table') {
    await io.out(renderTable(columns, rows, io.width));
    return;
  }
  const writer = new RowWriter(format, (text) => io.out(text));
  await writer.rows(columns, rows);
  await writer.end(columns);
}

/** The value of `--JOB_NAME` among Glue-style tokens, if given. */
function jobNameArgument(tokens: readonly string[]): string | undefined {
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as string;
    if (token === '--JOB_NAME') return tokens[index + 1];
    if (token.startsWith('--JOB_NAME=')) return token.slice('--JOB_NAME='.length);
  }
  return undefined;
}

function reportError(error: unknown, io: CliIo, env: NodeJS.ProcessEnv): number {
  // A command that printed its outcome and chose its exit code (`status`).
  if (error instanceof ExitStatus) return error.code;
  if (error instanceof CommanderError) {
    // Commander already printed its message; help and version are not failures. `status` keeps its own usage code.
    return error.exitCode === 0 ? EXIT.ok : error.exitCode === STATUS_EXIT.usage ? STATUS_EXIT.usage : EXIT.usage;
  }
  if (error instanceof MedallionError) {
    const system = error.hint === undefined ? systemProblemOf(error.cause) : undefined;
    io.err(`error: ${error.describe()}${system ? ` (${system.code}: ${system.hint})` : ''}\n`);
    if (env.MEDALLION_DEBUG && error.cause instanceof Error) io.err(`${error.cause.stack ?? ''}\n`);
    return error.exitCode;
  }
  // Not a usage error either way: the machine (a full disk, a permission) or a fault of medallion's own.
  const system = systemProblemOf(error);
  io.err(system ? `error: ${system.code}: ${describeError(error)} (${system.hint})\n` : `error: internal: ${describeError(error)}\n`);
  if (env.MEDALLION_DEBUG && error instanceof Error) io.err(`${error.stack ?? ''}\n`);
  return EXIT.failure;
}



function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The S3 lake's configuration from the global options and the environment (validated by openAwsLake). */
function awsLakeConfig(
  lake: string,
  flags: { lakeLocation: string[]; state?: string; endpointUrl?: string; glueDatabasePrefix?: string },
  env: NodeJS.ProcessEnv,
): AwsLakeConfig {
  const locations: Record<string, string> = { default: lake };
  const problems: string[] = [];
  // MEDALLION_LAKE_SILVER=s3://... and the like (what the job container is given), then --lake-location / MEDALLION_LOCATIONS.
  for (const [name, value] of Object.entries(env)) {
    const folder = /^MEDALLION_LAKE_([A-Z][A-Z_]*)$/.exec(name)?.[1];
    if (folder && value) locations[folder.toLowerCase()] = value;
  }
  const pairs = flags.lakeLocation.length > 0 ? flags.lakeLocation : (env.MEDALLION_LOCATIONS ?? '').split(',').filter((pair) => pair.trim() !== '');
  for (const pair of pairs) {
    const match = /^\s*([a-z_]+)=(\S+)\s*$/.exec(pair);
    if (match) locations[match[1] as string] = match[2] as string;
    else problems.push(`lake location ${JSON.stringify(pair)} is not folder=s3://bucket[/prefix]`);
  }
  const state = (flags.state ?? env.MEDALLION_STATE_TABLE)?.replace(/^dynamodb:\/\//, '');
  if (!state) problems.push('a lake in S3 needs its state table: --state dynamodb://TABLE or MEDALLION_STATE_TABLE');
  if (problems.length > 0) throw new ConfigError('AWS_LAKE_CONFIG_INVALID', problems.join('; '), { hint: 'see medallion --help' });
  const endpointUrl = flags.endpointUrl ?? env.AWS_ENDPOINT_URL;
  const glueDatabasePrefix = flags.glueDatabasePrefix ?? env.MEDALLION_GLUE_DATABASE_PREFIX;
  return {
    locations,
    stateTable: state as string,
    ...(endpointUrl ? { endpointUrl } : {}),
    ...(glueDatabasePrefix ? { glueDatabasePrefix } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.MEDALLION_METRICS_NAMESPACE ? { metricsNamespace: env.MEDALLION_METRICS_NAMESPACE } : {}),
    // An unknown value is refused by openAwsLake's validation, with the others.
    ...(env.MEDALLION_METRICS ? { metrics: env.MEDALLION_METRICS as 'emf' | 'cloudwatch' } : {}),
  };
}
