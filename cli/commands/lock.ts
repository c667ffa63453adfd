import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Lake } from '../../core/index.ts';
import { jobLockName } from '../../core/job/index.ts';
import { MAINTENANCE_LOCK, releaseJobLock } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { renderTable } from '../format-rows.ts';
import type { CliIo } from '../io.ts';
import { selectJobs } from './run.ts';

/** Who is at the terminal, for the record a release leaves. */
function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

/** Registers `medallion lock status [jobs...]` and `medallion lock release <job> [--force]`. */
export function addLockCommand(program: Command, io: CliIo, lake: () => Lake): void {
  const lock = program.command('lock').description("Job locks (one run of a job at a time): who holds each, and ending a dead holder's lease by hand.");
  lock
    .command('status')
    .description('Each job\'s lock, and the lock a vacuum or restore holds: free, held (by which run, until when), or held past its lease (the holder died; the next run takes it over).')
    .argument('[jobs...]', 'job names (default: every job)')
    .action(async (names: string[]) => {
      const jobs = names.length > 0 ? selectJobs(names, false, PIPELINE_JOBS) : PIPELINE_JOBS;
      const opened = lake();
      const nowMs = Date.now();
      const rows = [];
      const locks = jobs.map((job) => ({ job: job.name, lock: jobLockName(job.name) }));
      // The vacuum's and restore's lock, when no job was named.
      if (names.length === 0) locks.push({ job: '(vacuum, restore)', lock: MAINTENANCE_LOCK });
      for (const { job, lock: name } of locks) {
        const state = await opened.state.readLock(name);
        const status = !state || state.released ? 'free' : state.expiresAtMs > nowMs ? 'held' : 'lease ended';
        rows.push({ job, status, owner: status === 'free' ? '' : state?.owner ?? '', lease_until: status === 'free' || !state ? '' : new Date(state.expiresAtMs).toISOString() });
      }
      await io.out(renderTable(['job', 'status', 'owner', 'lease_until'].map((name) => ({ name, type: 'VARCHAR' })), rows, io.width));
    });
  lock
    .command('release')
    .description("End the lease on a job's lock, for a holder that is gone (refused while its lease is live, unless --force); recorded with who released it.")
    .argument('<job>', 'job name')
    .option('--force', 'release a live lease too (the holder, if it still runs, can no longer commit)')
    .action(async (name: string, flags: { force?: boolean }) => {
      const [job] = selectJobs([name], false, PIPELINE_JOBS);
      const release = await releaseJobLock(lake().state, job!.name, { force: flags.force ?? false, by: operator() });
      if (!release) {
        await io.out(`job ${job!.name}: the lock is free; nothing to release\n`);
        return;
      }
      await io.out(`job ${job!.name}: released the lock of run ${release.holder.owner} (lease until ${new Date(release.holder.expiresAtMs).toISOString()}${release.forced ? ', still live: forced' : ''}), by ${release.releasedBy}\n`);
    });
}
