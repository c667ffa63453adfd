import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import type { LockRelease } from '../../core/runner/index.ts';
import { boxTableRecords, runCli } from './cli-output.ts';

async function lakeDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'medallion-lock-'));
}

const cli = runCli;

describe('medallion lock', () => {
  it('shows who holds a job, refuses to release a live lease without --force, and records who released it', async () => {
    const lake = await lakeDir();
    const state = openLocalLake(lake).state;
    // A holder with a lease a day long, whose machine is gone.
    const bogus = await state.acquireLock('job-silver.tasks', 'jr_gone', 24 * 3_600_000, Date.now());
    expect(bogus).toBeDefined();

    const status = boxTableRecords((await cli(lake, 'lock', 'status', 'silver.tasks', 'gold.user_kpis')).stdout);
    expect(status).toEqual([
      { job: 'silver.tasks', status: 'held', owner: 'jr_gone', lease_until: new Date(bogus!.expiresAtMs).toISOString() },
      { job: 'gold.user_kpis', status: 'free', owner: '', lease_until: '' },
    ]);
    const refused = await cli(lake, 'lock', 'release', 'silver.tasks');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: LOCK_HELD: job silver\.tasks is held by run jr_gone until .*pass --force/s);
    expect((await state.readLock('job-silver.tasks'))?.owner).toBe('jr_gone');

    const released = await cli(lake, 'lock', 'release', 'silver.tasks', '--force');
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toMatch(/released the lock of run jr_gone .*still live: forced\), by \S+@\S+/);
    expect((await state.readLock('job-silver.tasks'))?.released).toBe(true);
    // The old holder can no longer renew (nor commit: its swaps are fenced).
    await expect(state.renewLock(bogus!, 60_000, Date.now())).rejects.toThrow(/LOCK|lock/);
    const [record] = await state.listRecords<LockRelease>('lock-releases');
    expect(record).toMatchObject({ lock: 'job-silver.tasks', forced: true, holder: { owner: 'jr_gone' } });
    expect((await cli(lake, 'lock', 'release', 'silver.tasks')).stdout).toMatch(/the lock is free; nothing to release/);
  });

  it('releases a lease that ended without --force', async () => {
    const lake = await lakeDir();
    const state = openLocalLake(lake).state;
    await state.acquireLock('job-gold.user_kpis', 'jr_dead', 1000, Date.now() - 60_000);
    const released = await cli(lake, 'lock', 'release', 'gold.user_kpis');
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).not.toContain('forced');
  });
});
