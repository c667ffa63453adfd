import { LockLostError } from '../errors.ts';
import type { LockLease, LockState } from './state-store.ts';

/** Whether `lease` is still the lock's live holder. */
export function isCurrentLease(lease: LockLease, latest: LockState | undefined): boolean {
  return latest !== undefined && !latest.released && latest.generation === lease.generation && latest.owner === lease.owner;
}

/** The error for a holder that lost its lock, saying to whom or how. */
export function lockLost(lease: LockLease, latest: LockState | undefined): LockLostError {
  const held = `owner ${lease.owner} held generation ${lease.generation}`;
  if (!latest) return new LockLostError(lease.name, `${held}, but the lock no longer exists`);
  if (latest.released) return new LockLostError(lease.name, `${held}, but the lock was released at generation ${latest.generation} by ${latest.owner}`);
  return new LockLostError(lease.name, `${held}, but ${latest.owner} holds it now at generation ${latest.generation}`);
}

/** The error for a commit refused because its lease `fence` no longer holds the lock. */
export function commitFenced(fence: LockLease, latest: LockState | undefined): LockLostError {
  const lost = lockLost(fence, latest);
  return new LockLostError(fence.name, `its commit was refused (fenced): ${lost.message.slice(`lock ${fence.name}: `.length)}; another run took the job over after this run's lease ran out`);
}
