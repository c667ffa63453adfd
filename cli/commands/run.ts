import type { Job, JobRunResult } from '../../core/index.ts';
import { QUARANTINE_RATE_ALARM_PERCENT } from '../../core/alarms.ts';
import { ConfigError, MedallionError, JobStoppedError } from '../../core/errors.ts';
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
  if (result.nothingNew) return `${result.job} SUCCEEDED in ${(result.elapsedMs / 1000).toFixed(2)} s: nothing new since its bookmark, nothing committed (run ${result.runId})${warnings}`;
  return `${result.job} SUCCEEDED in ${(result.elapsedMs / 1000).toFixed(2)} s: read ${result.recordsRead}, wrote ${written}${extras.length ? `, ${extras.join(', ')}` : ''} (run ${result.runId})${warnings}`;
}

/**
 * What a person must know about a run that succeeded, one indented line each: the rules of its gate that did not
 * pass (warn rules record and go on; quarantine rules set rows aside), and a quarantine share above the alarm's.
 */
export function runWarnings(result: JobRunResult, quarantines: boolean): string[] {
  const lines: string[] = [];
  const notPassed = (result.quality ?? []).filter((row) => row.action !== 'analyze' && row.outcome !== 'PASS');
  for (const row of notPassed) {
    const effect = row.action === 'quarantine' ? `, ${row.rowsQuarantined} rows quarantined` : '';
    lines.push(`  ${row.action} rule ${row.outcome === 'ERROR' ? 'could not be evaluated' : 'failed'}: ${row.table}: ${row.rule} (${row.ruleset}:${row.line})${effect}${row.message ? `: ${row.message}` : ''}`);
  }
  if (notPassed.length > 0) lines.push(`  -> medallion quality history --job ${result.job} --failed; ${runbookOf(notPassed.some((row) => row.ruleType === 'DetectAnomalies') ? 'quality-anomaly' : 'quality-rules-warn')}`);
  const share = result.recordsRead > 0 ? (100 * result.recordsQuarantined) / result.recordsRead : 0;
  if (quarantines && share > QUARANTINE_RATE_ALARM_PERCENT) {
    lines.push(`  warning: quarantined ${result.recordsQuarantined} of ${result.recordsRead} records read (${share.toFixed(1)}%, above ${QUARANTINE_RATE_ALARM_PERCENT}%): ${Object.entries(result.recordsQuarantinedByReason ?? {}).map(([reason, count]) => `${reason} ${count}`).join(', ')}`);
    lines.push(`  -> medallion quarantine summary --job ${result.job}; ${runbookOf('quarantine-rate')}`);
  }
  return lines;
}

const runbookOf = (alarm: string) => `runbooks/${alarm}.md`;

/** The line for a job that failed, the error's code first (the whole error follows on the last line). */
export function describeFailure(job: Job, error: unknown, elapsedMs: number): string {
  if (error instanceof JobStoppedError) return `${job.name} STOPPED after ${(elapsedMs / 1000).toFixed(2)} s: nothing committed, its lock released`;
  const code = error instanceof MedallionError ? error.code : 'internal';
  return `${job.name} FAILED after ${(elapsedMs / 1000).toFixed(2)} s: ${code}${error instanceof MedallionError && error.hint ? ` (${error.hint})` : ''}`;
}

/** The line for a job that did not run because a job upstream of it failed. */
export function describeSkipped(job: Job, failed: readonly Job[]): string {
  return `${job.name} SKIPPED: it reads what ${failed.map((upstream) => upstream.name).join(' and ')} write${failed.length === 1 ? 's' : ''}, which did not run to the end`;
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
