import type { Job, JobRunResult } from '../../core/index.ts';
import { ConfigError } from '../../core/errors.ts';
import { resolveJobArguments } from '../../core/job/index.ts';
import { orderJobs, type JobRunSettings } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';

/** Jobs named on the command line (or all of them), in dependency order; unknown names are refused together. */
export function selectJobs(names: readonly string[], all: boolean, jobs: readonly Job[] = PIPELINE_JOBS): Job[] {
  if (all && names.length > 0) throw new ConfigError('RUN_ARGUMENTS_INVALID', 'give job names or --all, not both');
  if (!all && names.length === 0) {
    throw new ConfigError('RUN_ARGUMENTS_INVALID', 'name the jobs to run, or pass --all', { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  if (all) return orderJobs(jobs);
  const unknown = names.filter((name) => !jobs.some((job) => job.name === name));
  if (unknown.length > 0) {
    throw new ConfigError('JOB_UNKNOWN', `no job named ${unknown.join(', ')}`, { hint: `jobs: ${jobs.map((job) => job.name).join(', ')}` });
  }
  const chosen = new Set(names);
  return orderJobs(jobs.filter((job) => chosen.has(job.name)));
}

export function describeRun(result: JobRunResult): string {
  const written = Object.entries(result.recordsWritten).map(([table, rows]) => `${table} ${rows}`).join(', ');
  const extras = [
    result.recordsQuarantined > 0 ? `${result.recordsQuarantined} quarantined` : '',
    result.recordsDuplicated > 0 ? `${result.recordsDuplicated} duplicates` : '',
    (result.recordsAlreadyHeld ?? 0) > 0 ? `${result.recordsAlreadyHeld} already held (read before, skipped)` : '',
  ].filter(Boolean);
  const warnings = (result.warnings ?? []).map((warning) => `\n  warning: ${warning}`).join('');
  if (result.nothingNew) return `${result.job} SUCCEEDED in ${(result.elapsedMs / 1000).toFixed(2)} s: nothing new since its bookmark, nothing committed (run ${result.runId.slice(0, 19)}…)${warnings}`;
  return `${result.job} SUCCEEDED in ${(result.elapsedMs / 1000).toFixed(2)} s: read ${result.recordsRead}, wrote ${written}${extras.length ? `, ${extras.join(', ')}` : ''} (run ${result.runId.slice(0, 19)}…)${warnings}`;
}

/** Flags of `medallion run` that take no value; every other `--name` takes one, as Glue's arguments do. */
const VALUELESS_FLAGS = new Set(['--all', '--wait', '--full-refresh']);

export interface RunCommandLine {
  readonly jobNames: string[];
  readonly all: boolean;
  readonly wait: boolean;
  /** Rebuild each job's outputs from all their inputs, never reading their last version. */
  readonly fullRefresh?: boolean;
  /** `--name value` tokens for Glue-style resolution, in order. */
  readonly glueArguments: string[];
}

/**
 * Splits `medallion run` tokens: job names, `--all`/`--wait`, and Glue-style arguments (`--name value` or
 * `--name=value`; unknown ones are kept for resolution, which ignores them as Glue does).
 */
export function splitRunTokens(tokens: readonly string[]): RunCommandLine {
  const jobNames: string[] = [];
  const glueArguments: string[] = [];
  let all = false;
  let wait = false;
  let fullRefresh = false;
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as string;
    if (token === '--all') all = true;
    else if (token === '--wait') wait = true;
    else if (token === '--full-refresh') fullRefresh = true;
    else if (token.startsWith('--')) {
      glueArguments.push(token);
      const next = tokens[index + 1];
      if (!token.includes('=') && next !== undefined && !VALUELESS_FLAGS.has(next)) {
        glueArguments.push(next);
        index += 1;
      }
    } else jobNames.push(token);
  }
  return { jobNames, all, wait, fullRefresh, glueArguments };
}

/**
 * Resolves each job's run settings from the command line, as Glue's getResolvedOptions would for that job. */
export function runSettings(line: RunCommandLine, jobs: readonly Job[]): Map<Job, JobRunSettings> {
  const settings = new Map<Job, JobRunSettings>();
  const named = line.glueArguments.findIndex((token) => token === '--JOB_NAME' || token.startsWith('--JOB_NAME='));
  for (const job of jobs) {
    const argv = named >= 0 ? line.glueArguments : [...line.glueArguments, '--JOB_NAME', job.name];
    const resolved = resolveJobArguments(argv, job.defaultArguments ?? {});
    if (named >= 0 && resolved.jobName !== job.name) {
      throw new ConfigError('RUN_ARGUMENTS_INVALID', `--JOB_NAME ${resolved.jobName} does not match the job to run, ${job.name}`);
    }
    settings.set(job, {
      maxRetries: resolved.maxRetries,
      timeoutMinutes: resolved.timeoutMinutes,
      ...(resolved.durationBaselineMinutes === undefined ? {} : { durationBaselineMinutes: resolved.durationBaselineMinutes }),
      jobArguments: resolved.jobArguments,
      wait: line.wait,
      ...(line.fullRefresh ? { fullRefresh: true } : {}),
      bookmark: {
        option: resolved.bookmarkOption,
        ...(resolved.bookmarkFrom === undefined ? {} : { from: resolved.bookmarkFrom }),
        ...(resolved.bookmarkTo === undefined ? {} : { to: resolved.bookmarkTo }),
      },
    });
  }
  return settings;
}
