import { z } from 'zod';
import { ConfigError } from '../errors.ts';

export const BOOKMARK_OPTIONS = ['job-bookmark-enable', 'job-bookmark-disable', 'job-bookmark-pause'] as const;
export type BookmarkOption = (typeof BOOKMARK_OPTIONS)[number];

/** A run's arguments, resolved the way Glue's `getResolvedOptions` resolves `sys.argv`. */
export interface ResolvedJobArguments {
  /** `--JOB_NAME`: the job being run. */
  readonly jobName: string;
  /** `--job-bookmark-option`, `job-bookmark-disable` when absent (Glue's default). */
  readonly bookmarkOption: BookmarkOption;
  /** `--job-bookmark-from` run id; only with `job-bookmark-pause`, and only together with `bookmarkTo`. */
  readonly bookmarkFrom?: string;
  /** `--job-bookmark-to` run id. */
  readonly bookmarkTo?: string;
  /** `--max-retries`, 0 to 10, default 0. */
  readonly maxRetries: number;
  /** `--timeout` in minutes, 1 to 10080 (Glue's 7-day cap), default 2880 (Glue's 48 hours). */
  readonly timeoutMinutes: number;
  /**
   * `--duration-baseline-minutes`: the run time the job's duration is measured against while it has too few
   * successful runs to learn its own (see jobDurationBaseline); absent, DEFAULT_DURATION_BASELINE_MINUTES.
   */
  readonly durationBaselineMinutes?: number;
  /** The job's own declared arguments: their defaults, overridden by the run's values. */
  readonly jobArguments: Readonly<Record<string, string>>;
}

export const JOB_ARGUMENTS_INVALID = 'JOB_ARGUMENTS_INVALID';
export const JOB_ARGUMENT_DECLARATIONS_INVALID = 'JOB_ARGUMENT_DECLARATIONS_INVALID';

export const DEFAULT_MAX_RETRIES = 0;
export const MAX_MAX_RETRIES = 10;
export const DEFAULT_TIMEOUT_MINUTES = 2880;
export const MAX_TIMEOUT_MINUTES = 10_080;

/** Names the framework resolves itself; a job cannot declare them. */
export const FRAMEWORK_ARGUMENT_NAMES = ['JOB_NAME', 'job-bookmark-option', 'job-bookmark-from', 'job-bookmark-to', 'max-retries', 'timeout', 'duration-baseline-minutes'] as const;

/** AWS Glue's "internal, do not set" names: refused wherever they appear. */
export const GLUE_INTERNAL_ARGUMENT_NAMES = ['conf', 'debug', 'mode'] as const;

/**
 * Names Glue sets itself and that `getResolvedOptions` refuses to resolve for a script. A job cannot
 * declare them; on the command line they are ignored, as the runner sets run ids and the rest mean nothing here.
 */
export const GLUE_SET_ARGUMENT_NAMES = [
  'JOB_ID',
  'JOB_RUN_ID',
  'WORKFLOW_NAME',
  'WORKFLOW_RUN_ID',
  'SECURITY_CONFIGURATION',
  'continuation-option',
  'encryption-type',
  'enable-data-lineage',
] as const;

/**
 * AWS Glue's own job parameters (its "special parameters"): a Glue job definition carries them, they configure
 * Glue's Spark runtime, and they mean nothing here; a run passes them by without a word.
 */
export const GLUE_JOB_PARAMETER_NAMES = [
  'TempDir', 'job-language', 'class', 'scriptLocation', 'extra-py-files', 'extra-jars', 'extra-files', 'user-jars-first',
  'additional-python-modules', 'python-modules-installer-option', 's3-py-modules', 'enable-metrics', 'enable-observability-metrics',
  'enable-continuous-cloudwatch-log', 'enable-continuous-log-filter', 'continuous-log-logGroup', 'continuous-log-logStreamPrefix',
  'continuous-log-conversionPattern', 'enable-spark-ui', 'spark-event-logs-path', 'enable-job-insights', 'enable-auto-scaling',
  'enable-glue-datacatalog', 'datalake-formats', 'enable-s3-parquet-optimized-committer', 'enable-rename-algorithm-v2',
  'write-shuffle-files-to-s3', 'write-shuffle-spills-to-s3', 'shuffle-storage-path', 'disable-proxy-v2',
  'customer-driver-env-vars', 'customer-executor-env-vars', 'enable-lakeformation-fine-grained-access', 'executor-cores',
] as const;

/**
 * The `medallion` command line's own option names, taken wherever they appear on a `run` line (`--lake`, ...): a job
 * cannot declare them, or its argument would be read as the command's.
 */
export const CLI_OPTION_NAMES = [
  'lake', 'storage', 'lake-location', 'state', 'endpoint-url', 'glue-database-prefix', 'rules', 'memory-limit', 'version', 'help', 'all', 'wait', 'full-refresh',
] as const;

const FRAMEWORK_NAMES: ReadonlySet<string> = new Set(FRAMEWORK_ARGUMENT_NAMES);
const CLI_NAMES: ReadonlySet<string> = new Set(CLI_OPTION_NAMES);
const GLUE_JOB_PARAMETERS: ReadonlySet<string> = new Set(GLUE_JOB_PARAMETER_NAMES);
const GLUE_INTERNAL_NAMES: ReadonlySet<string> = new Set(GLUE_INTERNAL_ARGUMENT_NAMES);
const GLUE_SET_NAMES: ReadonlySet<string> = new Set(GLUE_SET_ARGUMENT_NAMES);

const WHOLE_NUMBER = /^\d+$/;
const DeclaredNameSchema = z.string().regex(/^[^-=\s][^=\s]*$/);
const JobNameSchema = z.string().min(1);
const BookmarkOptionSchema = z.enum(BOOKMARK_OPTIONS);
const RunIdSchema = z.string().min(1);
const MaxRetriesSchema = z.string().regex(WHOLE_NUMBER).transform(Number).pipe(z.number().int().min(0).max(MAX_MAX_RETRIES));
const TimeoutMinutesSchema = z.string().regex(WHOLE_NUMBER).transform(Number).pipe(z.number().int().min(1).max(MAX_TIMEOUT_MINUTES));

/**
 * Problems with a job's declared arguments (names without the leading `--`), one line each; empty when
 * sound. A declared name may not be one the framework or Glue reserves, and must parse as `--NAME`.
 */
export function jobArgumentDeclarationProblems(jobDefaults: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(jobDefaults)) {
    const label = `job argument ${JSON.stringify(name)}`;
    if (!DeclaredNameSchema.safeParse(name).success) {
      problems.push(`${label} is not a valid name: declare it without the leading --, with no "=" or spaces`);
    } else if (FRAMEWORK_NAMES.has(name)) {
      problems.push(`${label} is reserved (the framework resolves --${name} itself): choose another name`);
    } else if (GLUE_INTERNAL_NAMES.has(name)) {
      problems.push(`${label} is reserved (AWS Glue uses --${name} internally and never lets a job set it): choose another name`);
    } else if (GLUE_SET_NAMES.has(name)) {
      problems.push(`${label} is reserved (AWS Glue sets --${name} itself): choose another name`);
    } else if (CLI_NAMES.has(name)) {
      problems.push(`${label} is reserved (medallion's command line takes --${name} itself): choose another name`);
    }
    if (!z.string().safeParse(value).success) problems.push(`${label} has a default that is not a string: give it a string default`);
  }
  return problems;
}

/**
 * Resolves a run's arguments like Glue's `getResolvedOptions(sys.argv, [names])`: `--NAME value` and
 * `--NAME=value` both work, the last of repeated values wins (argparse's `store`), only the framework's
 * names and the job's declared names are resolved, and anything else is ignored. Unlike argparse's
 * default, names must match exactly (no abbreviations, case-sensitive), so `--job-bookmark` is unknown.
 * Every problem is listed in one `ConfigError`.
 *
 * @example
 * resolveJobArguments(
 *   ['--JOB_NAME', 'silver.tasks', '--job-bookmark-option', 'job-bookmark-enable', '--region=eu-west-1', '--verbose'],
 *   { region: 'us-east-1', since: '' },
 * );
 * // { jobName: 'silver.tasks', bookmarkOption: 'job-bookmark-enable', maxRetries: 0, timeoutMinutes: 2880,
 * //   jobArguments: { region: 'eu-west-1', since: '' } }
 */
export function resolveJobArguments(argv: readonly string[], jobDefaults: Readonly<Record<string, string>>): ResolvedJobArguments {
  const declarationProblems = jobArgumentDeclarationProblems(jobDefaults);
  if (declarationProblems.length > 0) {
    throw new ConfigError(JOB_ARGUMENT_DECLARATIONS_INVALID, declarationProblems.join('; '), {
      hint: `a job cannot declare these names: ${[...FRAMEWORK_ARGUMENT_NAMES, ...GLUE_INTERNAL_ARGUMENT_NAMES, ...GLUE_SET_ARGUMENT_NAMES, ...CLI_OPTION_NAMES].join(', ')}`,
    });
  }

  const declared = new Set(Object.keys(jobDefaults));
  const { values, problems } = scanArguments(argv, (name) => FRAMEWORK_NAMES.has(name) || declared.has(name));

  const check = <S extends z.ZodType>(name: string, schema: S, allowed: string): z.output<S> | undefined => {
    const raw = values.get(name);
    if (raw === undefined) return undefined;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    problems.push(`--${name} must be ${allowed} (got ${JSON.stringify(raw)})`);
    return undefined;
  };

  if (!values.has('JOB_NAME')) problems.push('--JOB_NAME is required: pass --JOB_NAME <name of the job to run>');
  const jobName = check('JOB_NAME', JobNameSchema, 'the name of the job to run, not empty');
  const bookmarkOption = values.has('job-bookmark-option')
    ? check('job-bookmark-option', BookmarkOptionSchema, `one of ${BOOKMARK_OPTIONS.join(', ')}`)
    : 'job-bookmark-disable';
  const bookmarkFrom = check('job-bookmark-from', RunIdSchema, 'a job run id, not empty');
  const bookmarkTo = check('job-bookmark-to', RunIdSchema, 'a job run id, not empty');
  const rangeGiven = values.has('job-bookmark-from') || values.has('job-bookmark-to');
  if (rangeGiven && bookmarkOption !== undefined && bookmarkOption !== 'job-bookmark-pause') {
    const got = values.has('job-bookmark-option') ? bookmarkOption : `the default, ${bookmarkOption}`;
    problems.push(`--job-bookmark-from and --job-bookmark-to are allowed only with --job-bookmark-option job-bookmark-pause (got ${got})`);
  }
  if (values.has('job-bookmark-from') && !values.has('job-bookmark-to')) {
    problems.push('--job-bookmark-to is missing (--job-bookmark-from needs it): give both run ids or neither');
  }
  if (values.has('job-bookmark-to') && !values.has('job-bookmark-from')) {
    problems.push('--job-bookmark-from is missing (--job-bookmark-to needs it): give both run ids or neither');
  }
  const maxRetries = check('max-retries', MaxRetriesSchema, `a whole number from 0 to ${MAX_MAX_RETRIES}`);
  const timeoutMinutes = check('timeout', TimeoutMinutesSchema, `a whole number of minutes from 1 to ${MAX_TIMEOUT_MINUTES}`);
  const durationBaselineMinutes = check('duration-baseline-minutes', TimeoutMinutesSchema, `a whole number of minutes from 1 to ${MAX_TIMEOUT_MINUTES}`);

  if (problems.length > 0 || jobName === undefined) {
    throw new ConfigError(JOB_ARGUMENTS_INVALID, problems.join('; '), {
      hint: 'pass arguments as --NAME VALUE or --NAME=VALUE; names are exact and case-sensitive, and names the job does not declare are ignored',
    });
  }

  const jobArguments = Object.fromEntries(Object.entries(jobDefaults).map(([name, fallback]) => [name, values.get(name) ?? fallback]));
  return Object.freeze({
    jobName,
    bookmarkOption: bookmarkOption ?? 'job-bookmark-disable',
    ...(bookmarkFrom !== undefined ? { bookmarkFrom } : {}),
    ...(bookmarkTo !== undefined ? { bookmarkTo } : {}),
    maxRetries: maxRetries ?? DEFAULT_MAX_RETRIES,
    timeoutMinutes: timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES,
    ...(durationBaselineMinutes !== undefined ? { durationBaselineMinutes } : {}),
    jobArguments: Object.freeze(jobArguments),
  });
}

/**
 * The `--NAME`s of a command line that no job of `jobDefaults` (one per job the line runs) reads: neither the
 * framework's, nor a job's declared argument, nor one Glue sets or uses itself. Glue ignores them, and so does a
 * run; a person at a terminal is told, with the name they may have meant.
 *
 * @example
 * ignoredArgumentNames(['--job-bookmark-options', 'job-bookmark-enable', '--max-retry', '1'], [{}]);
 * // [{ name: 'job-bookmark-options', suggestion: 'job-bookmark-option' }, { name: 'max-retry', suggestion: 'max-retries' }]
 */
export function ignoredArgumentNames(argv: readonly string[], jobDefaults: readonly Readonly<Record<string, string>>[]): { name: string; suggestion?: string }[] {
  const known = new Set<string>([...FRAMEWORK_NAMES, ...GLUE_SET_NAMES, ...GLUE_INTERNAL_NAMES, ...GLUE_JOB_PARAMETERS, ...jobDefaults.flatMap((defaults) => Object.keys(defaults))]);
  const ignored = new Map<string, { name: string; suggestion?: string }>();
  for (const token of argv) {
    if (token === '--') break;
    if (!token.startsWith('--') || token === '--') continue;
    const equals = token.indexOf('=');
    const name = equals === -1 ? token.slice(2) : token.slice(2, equals);
    if (known.has(name) || ignored.has(name)) continue;
    const suggestion = closestName(name, [...FRAMEWORK_NAMES, ...jobDefaults.flatMap((defaults) => Object.keys(defaults))]);
    ignored.set(name, suggestion === undefined ? { name } : { name, suggestion });
  }
  return [...ignored.values()];
}

/** The candidate within a few edits of `name` (a third of its length, at most 3), the closest first. */
function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.min(3, Math.ceil(candidate.length / 3)) && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * One pass over argv as argparse's `parse_known_args` makes it: a resolved name takes the inline value
 * or the next token; other tokens are left alone (Glue's "extra" arguments); `--` ends the options.
 */
function scanArguments(argv: readonly string[], isResolved: (name: string) => boolean): { values: Map<string, string>; problems: string[] } {
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index] as string;
    if (token === '--') break;
    if (!token.startsWith('--')) continue;
    const equals = token.indexOf('=');
    const name = equals === -1 ? token.slice(2) : token.slice(2, equals);
    const internal = GLUE_INTERNAL_NAMES.has(name);
    if (!internal && !isResolved(name)) continue;
    let value = equals === -1 ? undefined : token.slice(equals + 1);
    if (value === undefined) {
      const next = argv[index + 1];
      if (next !== undefined && !looksLikeOption(next)) {
        value = next;
        index += 1;
      }
    }
    if (internal) {
      problems.push(`--${name} is reserved (AWS Glue uses it internally and never lets a run set it): remove it`);
    } else if (value === undefined) {
      problems.push(`--${name} needs a value: pass --${name} VALUE, or --${name}=VALUE when the value starts with "-"`);
    } else {
      values.set(name, value);
    }
  }
  return { values, problems };
}

// argparse's test for "this token is an option, not a value": negative numbers and strings with spaces are values.
function looksLikeOption(token: string): boolean {
  return token.startsWith('-') && token !== '-' && !/^-\d+$|^-\d*\.\d+$/.test(token) && !token.includes(' ');
}
