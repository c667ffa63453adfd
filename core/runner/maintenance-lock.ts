import { randomUUID } from 'node:crypto';
import { MedallionError } from '../errors.ts';
import type { Lake } from '../lake.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { MAINTENANCE_LOCK } from '../state/state-keys.ts';
export { MAINTENANCE_LOCK };


const LEASE_MS = 60_000;
const RENEW_EVERY_MS = 20_000;

/**
 * Runs `work` holding the lake's maintenance lock, renewed while it works (`lost` aborts if the lease is lost).
 * Refused with MAINTENANCE_BUSY, naming the holder, while another vacuum or restore holds it.
 */
export async function withMaintenanceLock<T>(lake: Lake, what: 'vacuum' | 'restore', work: (lost: AbortSignal) => Promise<T>): Promise<T> {
  const owner = `${what}-${randomUUID()}`;
  const lease = await lake.state.acquireLock(MAINTENANCE_LOCK, owner, LEASE_MS, Date.now());
  if (!lease) {
    const holder = await lake.state.readLock(MAINTENANCE_LOCK);
    const by = holder?.owner.replace(/-[0-9a-f-]{36}$/, '') ?? 'another vacuum or restore';
    throw new MedallionError('MAINTENANCE_BUSY', `a ${by} (${holder?.owner ?? 'unknown'}) is working on the lake until ${holder ? new Date(holder.expiresAtMs).toISOString() : 'soon'}: a ${what} waits for it`, {
      hint: `run the ${what} again when it is done; \`medallion lock status\` shows the holder`,
    });
  }
  const keeper = new LeaseKeeper(lake.state, lease, { leaseMs: LEASE_MS, everyMs: RENEW_EVERY_MS, now: () => new Date() });
  try {
    return await work(keeper.lost);
  } finally {
    await lake.state.releaseLock(await keeper.stop()).catch(() => undefined);
  }
}
