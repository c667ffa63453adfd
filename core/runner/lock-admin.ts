import { ConfigError, MedallionError } from '../errors.ts';
import { jobLockName } from '../job/index.ts';
import type { LockState, StateStore } from '../state/index.ts';

/** Who released a lock by hand, and whose lease it ended: kept under `lock-releases` in the state store. */
export interface LockRelease {
  readonly lock: string;
  readonly releasedBy: string;
  readonly at: string;
  readonly forced: boolean;
  /** The holder as it was: owner (a run id), generation, lease end. */
  readonly holder: LockState;
}

/**
 * Ends the lease on a job's lock by hand (`medallion lock release <job>`): for a holder that is gone but
 * whose lease is far off (a lock taken with a long lease, a bogus owner). A live lease is refused unless
 * `force`. The release is a takeover followed by a release, so the old holder, if it still runs, can
 * neither renew nor commit (its swaps are fenced), and the next run's recovery tidies up after it.
 */
export async function releaseJobLock(state: StateStore, jobName: string, options: { readonly force: boolean; readonly by: string; readonly now?: () => Date }): Promise<LockRelease | undefined> {
  const now = options.now ?? (() => new Date());
  const name = jobLockName(jobName);
  const holder = await state.readLock(name);
  if (!holder || holder.released) return undefined;
  const at = now();
  if (holder.expiresAtMs > at.getTime() && !options.force) {
    throw new MedallionError('LOCK_HELD', `job ${jobName} is held by run ${holder.owner} until ${new Date(holder.expiresAtMs).toISOString()} (its lease is live)`, {
      hint: `if that run is gone (its machine stopped), pass --force; \`medallion runs ${jobName}\` shows it`,
    });
  }
  // Taken over as if its lease had run out, then given up at once.
  const lease = await state.acquireLock(name, `released-by-${options.by}`, 1000, Math.max(at.getTime(), holder.expiresAtMs + 1));
  if (!lease) throw new ConfigError('LOCK_CHANGED', `the lock of job ${jobName} changed while it was being released`, { hint: 'look again: medallion lock status' });
  await state.releaseLock(lease);
  const release: LockRelease = { lock: name, releasedBy: options.by, at: at.toISOString(), forced: holder.expiresAtMs > at.getTime(), holder };
  await state.putRecord('lock-releases', `${at.getTime()}-${jobName}`, release);
  return release;
}
