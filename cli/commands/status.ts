import { CommanderError, Option, type Command } from 'commander';
import type { Lake } from '../../core/index.ts';
import { describeError } from '../../core/errors.ts';
import { formatDuration, lakeStatus, type LakeStatus } from '../../core/monitoring/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { renderTable } from '../format-rows.ts';
import type { CliIo } from '../io.ts';

/**
 * `medallion status` exit codes, for a cron job or a health check: the lake's health, then the two ways of not
 * knowing it. Usage errors have their own code, so a typo in a health check is never read as "critical".
 */
export const STATUS_EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3, usage: 64 } as const;

/** Ends `medallion` with this code, having printed what it had to. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const varchar = (name: string) => ({ name, type: 'VARCHAR' });
const when = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '');

/** The status as a person reads it: the verdict, the jobs, freshness, locks, then each problem with what to open. */
export function renderStatus(status: LakeStatus, where: string, width?: number): string {
  const critical = status.problems.filter((problem) => problem.severity === 'critical').length;
  const warnings = status.problems.length - critical;
  const verdict = status.health === 'ok' ? 'HEALTHY' : status.health.toUpperCase();
  const parts = [`${where}: ${verdict}${status.problems.length > 0 ? ` (${critical} critical, ${warnings} warning${warnings === 1 ? '' : 's'})` : ''}, checked ${when(status.checkedAt)} UTC\n`];
  parts.push(
    '\nJobs\n',
    renderTable(['job', 'last run', 'ended', 'took', 'vs baseline', 'read', 'written', 'quarantined', 'last success'].map(varchar), status.jobs.map((job) => ({
      job: job.job,
      'last run': job.state,
      ended: when(job.completedAt ?? job.startedAt),
      took: job.durationMs === undefined ? '' : formatDuration(job.durationMs),
      'vs baseline': job.durationRatio === undefined ? '' : `${Math.round(job.durationRatio * 100)}% of ${formatDuration(job.baselineMs!)}${job.baselineSource === 'configured' ? ' (configured)' : ''}`,
      read: job.recordsRead ?? '',
      written: job.recordsWritten ?? '',
      quarantined: job.recordsQuarantined === undefined ? '' : `${job.recordsQuarantined}${job.quarantinePercent === undefined ? '' : ` (${job.quarantinePercent.toFixed(1)}%)`}`,
      'last success': when(job.lastSuccessAt),
    })), width),
  );
  if (status.freshness.length > 0) {
    parts.push('\nFreshness (DataFreshness rules, latest evaluation)\n', renderTable(['table', 'fresh', 'evaluated', 'last fresh'].map(varchar), status.freshness.map((entry) => ({
      table: entry.table, fresh: entry.fresh ? 'yes' : 'NO', evaluated: when(entry.evaluatedAt), 'last fresh': when(entry.lastFreshAt),
    })), width));
  }
  if (status.locks.length > 0) {
    parts.push('\nLocks held\n', renderTable(['lock', 'owner', 'lease until', 'holder'].map(varchar), status.locks.map((lock) => ({
      lock: lock.lock, owner: lock.owner, 'lease until': when(lock.leaseUntil), holder: lock.expired ? 'gone (lease ended)' : 'running',
    })), width));
  }
  if (status.problems.length === 0) parts.push('\nNo problems.\n');
  else {
    parts.push('\nProblems\n');
    for (const problem of status.problems) parts.push(`${problem.severity.toUpperCase().padEnd(8)} ${problem.subject}: ${problem.message}\n         -> ${problem.next}\n`);
  }
  return parts.join('');
}

/** Registers `medallion status [--format table|json]`. */
export function addStatusCommand(program: Command, io: CliIo, lake: () => Lake, ruleSets: () => Promise<ReadonlyMap<string, TableRuleSet>>): void {
  program
    .command('status')
    .description(
      'Is the lake healthy? Each job\'s last run (state, duration against its baseline, records, quarantine share), the rules that did not pass, '
        + 'landing and table freshness, locks held, and for each problem the runbook to open. Exit code: 0 healthy, 1 warning, 2 critical, '
        + `3 the status could not be read, ${STATUS_EXIT.usage} a usage error.`,
    )
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    // A usage error must not read as "critical" to a health check.
    .exitOverride((error) => {
      throw error.exitCode === 0 ? error : new CommanderError(STATUS_EXIT.usage, error.code, error.message);
    })
    .action(async (flags: { format: 'table' | 'json' }) => {
      let status: LakeStatus;
      let where = 'lake';
      try {
        const opened = lake();
        where = `lake ${opened.storage.location}`;
        status = await lakeStatus(opened, PIPELINE_JOBS, { ruleSets: [...(await ruleSets()).values()] });
      } catch (error) {
        io.err(`error: the status could not be read: ${describeError(error)}\n`);
        throw new ExitStatus(STATUS_EXIT.unknown);
      }
      await io.out(flags.format === 'json' ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status, where, io.width));
      const code = STATUS_EXIT[status.health];
      if (code !== STATUS_EXIT.ok) throw new ExitStatus(code);
    });
}
