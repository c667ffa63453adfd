import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.ts';
import {
  JOB_ARGUMENTS_INVALID,
  JOB_ARGUMENT_DECLARATIONS_INVALID,
  jobArgumentDeclarationProblems,
  resolveJobArguments,
} from '../../../core/job/job-arguments.ts';

const job = ['--JOB_NAME', 'silver.tasks'];

function refusal(argv: readonly string[], jobDefaults: Readonly<Record<string, string>> = {}): ConfigError {
  try {
    resolveJobArguments(argv, jobDefaults);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`resolveJobArguments accepted ${JSON.stringify(argv)}`);
}

function problemsOf(argv: readonly string[], jobDefaults: Readonly<Record<string, string>> = {}): string[] {
  const error = refusal(argv, jobDefaults);
  expect(error.code).toBe(JOB_ARGUMENTS_INVALID);
  expect(error.exitCode).toBe(2);
  return error.message.split('; ');
}

describe('resolveJobArguments', () => {
  it("applies Glue's defaults when only --JOB_NAME is given", () => {
    const resolved = resolveJobArguments(job, {});
    expect(resolved).toEqual({ jobName: 'silver.tasks', bookmarkOption: 'job-bookmark-disable', maxRetries: 0, timeoutMinutes: 2880, jobArguments: {} });
    expect('bookmarkFrom' in resolved).toBe(false);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.jobArguments)).toBe(true);
  });

  it('reads --NAME value and --NAME=value alike', () => {
    const resolved = resolveJobArguments(
      ['--JOB_NAME=silver.tasks', '--job-bookmark-option', 'job-bookmark-enable', '--max-retries=3', '--timeout', '60', '--region=eu-west-1', '--since', '2025-11-01'],
      { region: 'us-east-1', since: '', until: 'never' },
    );
    expect(resolved).toEqual({
      jobName: 'silver.tasks',
      bookmarkOption: 'job-bookmark-enable',
      maxRetries: 3,
      timeoutMinutes: 60,
      jobArguments: { region: 'eu-west-1', since: '2025-11-01', until: 'never' },
    });
  });

  it('keeps odd but valid declared names as plain keys', () => {
    const resolved = resolveJobArguments([...job, '--__proto__', 'x'], JSON.parse('{"__proto__": "d"}') as Record<string, string>);
    expect(Object.getPrototypeOf(resolved.jobArguments)).toBe(Object.prototype);
    expect(Object.entries(resolved.jobArguments)).toEqual([['__proto__', 'x']]);
  });

  it('keeps everything after the first "=" as the value, and takes an empty one', () => {
    const resolved = resolveJobArguments([...job, '--filter=status=done', '--note='], { filter: '', note: 'x' });
    expect(resolved.jobArguments).toEqual({ filter: 'status=done', note: '' });
  });

  it('takes negative numbers, a lone "-" and values with spaces as values, as argparse does', () => {
    const resolved = resolveJobArguments([...job, '--offset', '-5', '--ratio', '-.5', '--stdin', '-', '--sql', '-- a comment'], { offset: '0', ratio: '1', stdin: '', sql: '' });
    expect(resolved.jobArguments).toEqual({ offset: '-5', ratio: '-.5', stdin: '-', sql: '-- a comment' });
  });

  it('refuses a flag missing its value, at the end or before another option', () => {
    expect(problemsOf(['--JOB_NAME'])).toEqual(['--JOB_NAME needs a value: pass --JOB_NAME VALUE, or --JOB_NAME=VALUE when the value starts with "-"', '--JOB_NAME is required: pass --JOB_NAME <name of the job to run>']);
    expect(problemsOf([...job, '--region', '--timeout', '5'], { region: 'x' })).toEqual([
      '--region needs a value: pass --region VALUE, or --region=VALUE when the value starts with "-"',
    ]);
    expect(problemsOf([...job, '--region', '-x'], { region: 'x' })[0]).toMatch(/^--region needs a value/);
    expect(resolveJobArguments([...job, '--region=-x'], { region: 'x' }).jobArguments).toEqual({ region: '-x' });
  });

  it('ignores names it does not resolve, with their values, like Glue', () => {
    const resolved = resolveJobArguments(
      ['script.py', '--enable-metrics', '--JOB_ID', 'j_1', '--JOB_RUN_ID', 'jr_1', '--TempDir', 's3://tmp/', '--other=1', ...job, '-v', 'stray', '--region', 'eu-west-1'],
      { region: 'us-east-1' },
    );
    expect(resolved.jobName).toBe('silver.tasks');
    expect(resolved.jobArguments).toEqual({ region: 'eu-west-1' });
  });

  it('does not let an ignored flag swallow the option after it', () => {
    expect(resolveJobArguments(['--enable-metrics', '--JOB_NAME', 'silver.tasks'], {}).jobName).toBe('silver.tasks');
  });

  it('resolves only declared job arguments and takes no abbreviations', () => {
    const resolved = resolveJobArguments(
      [...job, '--job-bookmark', 'job-bookmark-enable', '--JOB', 'gold.x', '--reg', 'eu-west-1', '--Region', 'eu-west-2', '--region-name', 'eu-west-3'],
      { region: 'us-east-1' },
    );
    expect(resolved.bookmarkOption).toBe('job-bookmark-disable');
    expect(resolved.jobName).toBe('silver.tasks');
    expect(resolved.jobArguments).toEqual({ region: 'us-east-1' });
    expect(problemsOf(['--JOB', 'silver.tasks', '--job_name', 'silver.tasks'])).toEqual(['--JOB_NAME is required: pass --JOB_NAME <name of the job to run>']);
  });

  it('lets the last of repeated values win, as argparse does', () => {
    const resolved = resolveJobArguments(
      ['--JOB_NAME', 'bronze.x', '--region', 'a', '--job-bookmark-option', 'job-bookmark-enable', '--region=b', '--JOB_NAME=silver.tasks', '--job-bookmark-option', 'job-bookmark-pause'],
      { region: '' },
    );
    expect(resolved).toMatchObject({ jobName: 'silver.tasks', bookmarkOption: 'job-bookmark-pause', jobArguments: { region: 'b' } });
  });

  it('stops reading options at "--", as argparse does', () => {
    const resolved = resolveJobArguments([...job, '--', '--region', 'eu-west-1', '--job-bookmark-option', 'nonsense'], { region: 'us-east-1' });
    expect(resolved.jobArguments).toEqual({ region: 'us-east-1' });
    expect(resolved.bookmarkOption).toBe('job-bookmark-disable');
  });

  it('requires --JOB_NAME, not empty', () => {
    expect(problemsOf([])).toEqual(['--JOB_NAME is required: pass --JOB_NAME <name of the job to run>']);
    expect(problemsOf(['--JOB_NAME='])).toEqual(['--JOB_NAME must be the name of the job to run, not empty (got "")']);
  });

  describe('job bookmark options', () => {
    it.each(['job-bookmark-enable', 'job-bookmark-disable', 'job-bookmark-pause'] as const)('accepts %s', (option) => {
      expect(resolveJobArguments([...job, '--job-bookmark-option', option], {}).bookmarkOption).toBe(option);
    });

    it('refuses any other value, Glue spellings included', () => {
      for (const value of ['enable', 'Job-Bookmark-Enable', 'continuation-enabled', '']) {
        expect(problemsOf([...job, `--job-bookmark-option=${value}`])).toEqual([
          `--job-bookmark-option must be one of job-bookmark-enable, job-bookmark-disable, job-bookmark-pause (got ${JSON.stringify(value)})`,
        ]);
      }
    });

    it('takes a --job-bookmark-from/--job-bookmark-to window with pause', () => {
      const resolved = resolveJobArguments([...job, '--job-bookmark-option', 'job-bookmark-pause', '--job-bookmark-from', 'jr_1', '--job-bookmark-to=jr_5'], {});
      expect(resolved).toMatchObject({ bookmarkOption: 'job-bookmark-pause', bookmarkFrom: 'jr_1', bookmarkTo: 'jr_5' });
      expect(resolveJobArguments([...job, '--job-bookmark-option', 'job-bookmark-pause'], {})).not.toHaveProperty('bookmarkFrom');
    });

    it('refuses from/to without pause, naming the option in force', () => {
      expect(problemsOf([...job, '--job-bookmark-option', 'job-bookmark-enable', '--job-bookmark-from', 'jr_1', '--job-bookmark-to', 'jr_5'])).toEqual([
        '--job-bookmark-from and --job-bookmark-to are allowed only with --job-bookmark-option job-bookmark-pause (got job-bookmark-enable)',
      ]);
      expect(problemsOf([...job, '--job-bookmark-from', 'jr_1', '--job-bookmark-to', 'jr_5'])).toEqual([
        '--job-bookmark-from and --job-bookmark-to are allowed only with --job-bookmark-option job-bookmark-pause (got the default, job-bookmark-disable)',
      ]);
    });

    it('refuses one of from/to without the other', () => {
      const pause = [...job, '--job-bookmark-option', 'job-bookmark-pause'];
      expect(problemsOf([...pause, '--job-bookmark-from', 'jr_1'])).toEqual(['--job-bookmark-to is missing (--job-bookmark-from needs it): give both run ids or neither']);
      expect(problemsOf([...pause, '--job-bookmark-to', 'jr_5'])).toEqual(['--job-bookmark-from is missing (--job-bookmark-to needs it): give both run ids or neither']);
    });

    it('refuses an empty run id', () => {
      expect(problemsOf([...job, '--job-bookmark-option', 'job-bookmark-pause', '--job-bookmark-from=', '--job-bookmark-to', 'jr_5'])).toEqual([
        '--job-bookmark-from must be a job run id, not empty (got "")',
      ]);
    });
  });

  describe('--max-retries and --timeout', () => {
    it('accepts their bounds', () => {
      expect(resolveJobArguments([...job, '--max-retries', '0', '--timeout', '1'], {})).toMatchObject({ maxRetries: 0, timeoutMinutes: 1 });
      expect(resolveJobArguments([...job, '--max-retries', '10', '--timeout', '10080'], {})).toMatchObject({ maxRetries: 10, timeoutMinutes: 10080 });
    });

    it.each(['11', '-1', '1.5', '2e0', ' 3', 'three', ''])('refuses --max-retries %j', (value) => {
      expect(problemsOf([...job, `--max-retries=${value}`])).toEqual([`--max-retries must be a whole number from 0 to 10 (got ${JSON.stringify(value)})`]);
    });

    it.each(['0', '10081', '-5', '1.5', '48h', ''])('refuses --timeout %j', (value) => {
      expect(problemsOf([...job, `--timeout=${value}`])).toEqual([`--timeout must be a whole number of minutes from 1 to 10080 (got ${JSON.stringify(value)})`]);
    });
  });

  describe('reserved names', () => {
    it.each(['conf', 'debug', 'mode'])('refuses --%s, which Glue keeps for itself, in either form', (name) => {
      const message = `--${name} is reserved (AWS Glue uses it internally and never lets a run set it): remove it`;
      expect(problemsOf([...job, `--${name}`, 'x'])).toEqual([message]);
      expect(problemsOf([...job, `--${name}=x`])).toEqual([message]);
      expect(problemsOf([...job, `--${name}`])).toEqual([message]);
    });

    it.each([
      ['JOB_NAME', 'the framework resolves --JOB_NAME itself'],
      ['job-bookmark-option', 'the framework resolves --job-bookmark-option itself'],
      ['job-bookmark-from', 'the framework resolves --job-bookmark-from itself'],
      ['job-bookmark-to', 'the framework resolves --job-bookmark-to itself'],
      ['max-retries', 'the framework resolves --max-retries itself'],
      ['timeout', 'the framework resolves --timeout itself'],
      ['conf', 'AWS Glue uses --conf internally and never lets a job set it'],
      ['debug', 'AWS Glue uses --debug internally and never lets a job set it'],
      ['mode', 'AWS Glue uses --mode internally and never lets a job set it'],
      ['JOB_ID', 'AWS Glue sets --JOB_ID itself'],
      ['JOB_RUN_ID', 'AWS Glue sets --JOB_RUN_ID itself'],
      ['WORKFLOW_NAME', 'AWS Glue sets --WORKFLOW_NAME itself'],
      ['WORKFLOW_RUN_ID', 'AWS Glue sets --WORKFLOW_RUN_ID itself'],
      ['SECURITY_CONFIGURATION', 'AWS Glue sets --SECURITY_CONFIGURATION itself'],
      ['continuation-option', 'AWS Glue sets --continuation-option itself'],
      ['encryption-type', 'AWS Glue sets --encryption-type itself'],
      ['enable-data-lineage', 'AWS Glue sets --enable-data-lineage itself'],
      ['lake', "medallion's command line takes --lake itself"],
      ['state', "medallion's command line takes --state itself"],
      ['rules', "medallion's command line takes --rules itself"],
    ])('refuses to declare %s as a job argument', (name, reason) => {
      const error = refusal(job, { [name]: 'x' });
      expect(error.code).toBe(JOB_ARGUMENT_DECLARATIONS_INVALID);
      expect(error.message).toBe(`job argument ${JSON.stringify(name)} is reserved (${reason}): choose another name`);
    });

    it('tells reserved names from lookalikes: names are exact and case-sensitive', () => {
      expect(jobArgumentDeclarationProblems({ job_name: '', Mode: '', timeout_minutes: '', 'conf-file': '' })).toEqual([]);
      expect(resolveJobArguments([...job, '--Mode', 'fast', '--config', 'a.json'], { Mode: 'slow' }).jobArguments).toEqual({ Mode: 'fast' });
    });

    it('refuses names that cannot be passed as --NAME', () => {
      expect(jobArgumentDeclarationProblems({ '--region': '', 'a=b': '', 'two words': '', '': '' })).toEqual([
        'job argument "--region" is not a valid name: declare it without the leading --, with no "=" or spaces',
        'job argument "a=b" is not a valid name: declare it without the leading --, with no "=" or spaces',
        'job argument "two words" is not a valid name: declare it without the leading --, with no "=" or spaces',
        'job argument "" is not a valid name: declare it without the leading --, with no "=" or spaces',
      ]);
    });

    it('lists every bad declaration in one error, before looking at the command line', () => {
      const error = refusal([], { mode: 'x', JOB_RUN_ID: 'y', region: 'ok', timeout: '5' });
      expect(error.code).toBe(JOB_ARGUMENT_DECLARATIONS_INVALID);
      expect(error.message.split('; ')).toEqual([
        'job argument "mode" is reserved (AWS Glue uses --mode internally and never lets a job set it): choose another name',
        'job argument "JOB_RUN_ID" is reserved (AWS Glue sets --JOB_RUN_ID itself): choose another name',
        'job argument "timeout" is reserved (the framework resolves --timeout itself): choose another name',
      ]);
      expect(error.hint).toContain('JOB_RUN_ID');
    });
  });

  it('lists every problem of a command line in one message, one line each', () => {
    const error = refusal(
      ['--job-bookmark-option', 'job-bookmark-on', '--job-bookmark-from', 'jr_1', '--max-retries', '11', '--timeout', '0', '--conf', 'spark.x=1', '--region'],
      { region: 'us-east-1' },
    );
    expect(error.code).toBe(JOB_ARGUMENTS_INVALID);
    expect(error.message.split('; ')).toEqual([
      '--conf is reserved (AWS Glue uses it internally and never lets a run set it): remove it',
      '--region needs a value: pass --region VALUE, or --region=VALUE when the value starts with "-"',
      '--JOB_NAME is required: pass --JOB_NAME <name of the job to run>',
      '--job-bookmark-option must be one of job-bookmark-enable, job-bookmark-disable, job-bookmark-pause (got "job-bookmark-on")',
      '--job-bookmark-to is missing (--job-bookmark-from needs it): give both run ids or neither',
      '--max-retries must be a whole number from 0 to 10 (got "11")',
      '--timeout must be a whole number of minutes from 1 to 10080 (got "0")',
    ]);
    expect(error.describe()).toMatch(/^JOB_ARGUMENTS_INVALID: --conf is reserved /);
    expect(error.hint).toContain('--NAME=VALUE');
  });
});
