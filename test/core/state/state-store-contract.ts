import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LockLostError, MedallionError, NotFoundError } from '../../../core/errors.ts';
import { EMPTY_ROOT, type LakeRoot, type LockLease, type StateStore } from '../../../core/state/index.ts';

/** A fixed clock for lock tests: leases are judged by the `nowMs` passed in, never by the wall clock. */
const T0 = Date.UTC(2025, 10, 1);
const LEASE_MS = 30_000;

/** A root that follows `previous`, marked with `runId` so a test can tell whose commit won. */
export function nextRoot(previous: LakeRoot, runId: string, seq = previous.seq + 1): LakeRoot {
  return {
    seq,
    committedAt: new Date(Date.UTC(2025, 10, 1, 0, 0, seq)).toISOString(),
    runId,
    tables: { ...previous.tables, 'silver.tasks': { version: seq, manifest: `manifests/silver.tasks/${String(seq).padStart(10, '0')}-${runId}-1` } },
    bookmarks: { ...previous.bookmarks, [`job_${runId}`]: `bookmarks/job_${runId}/${runId}` },
  };
}

/** Commits roots 1..count one after another; returns the last. */
export async function commitRoots(store: StateStore, count: number): Promise<LakeRoot> {
  let root = await store.readRoot();
  for (let index = 0; index < count; index += 1) {
    const next = nextRoot(root, `run_${root.seq + 1}`);
    expect(await store.swapRoot(next)).toBe(true);
    root = next;
  }
  return root;
}

/**
 * What every StateStore must do, whatever holds the state. `makeStore` returns an empty store;
 * the caller cleans up after each test. `fencing: false` leaves out fenced swaps, for a test server that
 * lacks what they need (dynalite has no transactions).
 */
export function stateStoreContract(implementation: string, makeStore: () => Promise<StateStore>, { fencing = true } = {}): void {
  describe(`StateStore contract: ${implementation}`, () => {
    it('reads the empty root from an empty store', async () => {
      const store = await makeStore();
      expect(await store.readRoot()).toEqual(EMPTY_ROOT);
      expect((await store.readRoot()).seq).toBe(0);
    });

    it('swaps in root 1 once; a second swap to the same sequence loses and changes nothing', async () => {
      const store = await makeStore();
      const first = nextRoot(EMPTY_ROOT, 'first');
      expect(await store.swapRoot(first)).toBe(true);
      expect(await store.readRoot()).toEqual(first);
      expect(await store.swapRoot(nextRoot(EMPTY_ROOT, 'second'))).toBe(false);
      expect(await store.readRoot()).toEqual(first);
    });

    it('moves forward one sequence at a time and refuses a stale sequence', async () => {
      const store = await makeStore();
      const third = await commitRoots(store, 3);
      expect(await store.readRoot()).toEqual(third);
      expect(await store.swapRoot(nextRoot(third, 'stale', 2))).toBe(false);
      expect(await store.readRoot()).toEqual(third);
    });

    it('refuses a root that skips a sequence', async () => {
      const store = await makeStore();
      const first = await commitRoots(store, 1);
      const error = await store.swapRoot(nextRoot(first, 'gap', 3)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MedallionError);
      expect((error as MedallionError).code).toBe('STATE_ROOT_GAP');
      expect(await store.readRoot()).toEqual(first);
      // The gap left nothing behind that would block the proper next root.
      expect(await store.swapRoot(nextRoot(first, 'next'))).toBe(true);
      expect((await store.readRoot()).seq).toBe(2);
    });

    it('recognises its own commit when a swap is repeated (a retried request), also after later commits, and no other', async () => {
      const store = await makeStore();
      const first: LakeRoot = { ...nextRoot(EMPTY_ROOT, 'first'), commitId: 'jr_first#1' };
      expect(await store.swapRoot(first)).toBe(true);
      const second: LakeRoot = { ...nextRoot(first, 'second'), commitId: 'jr_second#1' };
      expect(await store.swapRoot(second)).toBe(true);
      expect(await store.swapRoot(first)).toBe(true);
      expect(await store.swapRoot({ ...first, commitId: 'jr_other#1' })).toBe(false);
      expect(await store.readRoot()).toEqual(second);
    });

    it('lets exactly one of many concurrent swaps to the same sequence win', async () => {
      const store = await makeStore();
      const base = await commitRoots(store, 2);
      const contenders = Array.from({ length: 20 }, (_, index) => nextRoot(base, `contender_${index}`));
      const results = await Promise.all(contenders.map((root) => store.swapRoot(root)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = contenders[results.indexOf(true)];
      expect(await store.readRoot()).toEqual(winner);
    });

    it('round-trips documents, and a later put to another id leaves the first intact', async () => {
      const store = await makeStore();
      const manifest = { table: 'silver.tasks', version: 3, partitions: { 'day=2025-11-01': { files: [{ key: 'silver/tasks/x.parquet', rows: 12 }] } }, note: 'héllo "quoted"' };
      await store.putDocument('manifests/silver.tasks/0000000003-jr_abc', manifest);
      await store.putDocument('bookmarks/silver.tasks', { seq: 7 });
      expect(await store.getDocument('manifests/silver.tasks/0000000003-jr_abc')).toEqual(manifest);
      expect(await store.getDocument('bookmarks/silver.tasks')).toEqual({ seq: 7 });
    });

    it('throws NotFoundError STATE_DOCUMENT_MISSING for a missing document', async () => {
      const store = await makeStore();
      const error = await store.getDocument('manifests/silver.tasks/none').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).code).toBe('STATE_DOCUMENT_MISSING');
    });

    describe('locks', () => {
      async function held(store: StateStore, owner = 'run_a', name = 'silver.tasks'): Promise<LockLease> {
        const lease = await store.acquireLock(name, owner, LEASE_MS, T0);
        if (!lease) throw new Error(`expected ${owner} to acquire ${name}`);
        return lease;
      }

      it('acquires a free lock, and readLock shows the holder', async () => {
        const store = await makeStore();
        expect(await store.readLock('silver.tasks')).toBeUndefined();
        const lease = await held(store);
        expect(lease).toMatchObject({ name: 'silver.tasks', owner: 'run_a', expiresAtMs: T0 + LEASE_MS });
        expect(Number.isSafeInteger(lease.generation) && lease.generation > 0).toBe(true);
        expect(await store.readLock('silver.tasks')).toEqual({ ...lease, released: false });
      });

      it('refuses every other acquire while the lease is live, even by the same owner', async () => {
        const store = await makeStore();
        const lease = await held(store);
        expect(await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, T0 + LEASE_MS - 1)).toBeUndefined();
        expect(await store.acquireLock('silver.tasks', 'run_a', LEASE_MS, T0 + 1)).toBeUndefined();
        expect(await store.readLock('silver.tasks')).toEqual({ ...lease, released: false });
      });

      it('keeps locks of different names apart', async () => {
        const store = await makeStore();
        await held(store, 'run_a', 'silver.tasks');
        const other = await store.acquireLock('gold.daily_summary', 'run_b', LEASE_MS, T0);
        expect(other).toMatchObject({ name: 'gold.daily_summary', owner: 'run_b' });
        expect((await store.readLock('silver.tasks'))?.owner).toBe('run_a');
      });

      it('lets another owner take over once the lease has run out', async () => {
        const store = await makeStore();
        const first = await held(store);
        const second = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, first.expiresAtMs);
        expect(second).toMatchObject({ name: 'silver.tasks', owner: 'run_b', expiresAtMs: first.expiresAtMs + LEASE_MS });
        expect(second!.generation).toBeGreaterThan(first.generation);
        expect(await store.readLock('silver.tasks')).toEqual({ ...second, released: false });
      });

      it('renews a held lease: a later expiry and a higher generation that keep others out', async () => {
        const store = await makeStore();
        const lease = await held(store);
        const renewed = await store.renewLock(lease, LEASE_MS, T0 + 20_000);
        expect(renewed).toMatchObject({ name: 'silver.tasks', owner: 'run_a', expiresAtMs: T0 + 20_000 + LEASE_MS });
        expect(renewed.generation).toBeGreaterThan(lease.generation);
        // Past the first lease's expiry, the renewed one still holds.
        expect(await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, lease.expiresAtMs + 1)).toBeUndefined();
        expect(await store.readLock('silver.tasks')).toEqual({ ...renewed, released: false });
        // The superseded lease is no longer the holder's to renew.
        const error = await store.renewLock(lease, LEASE_MS, T0 + 21_000).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(LockLostError);
      });

      it('throws LockLostError LOCK_LOST, naming the new owner, when renewing after a takeover', async () => {
        const store = await makeStore();
        const lease = await held(store);
        const taker = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, lease.expiresAtMs + 5);
        expect(taker).toBeDefined();
        const error = await store.renewLock(lease, LEASE_MS, lease.expiresAtMs + 10).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(LockLostError);
        expect((error as LockLostError).code).toBe('LOCK_LOST');
        expect((error as LockLostError).lock).toBe('silver.tasks');
        expect((error as LockLostError).message).toContain('run_b');
        expect(await store.readLock('silver.tasks')).toEqual({ ...taker, released: false });
      });

      it('frees the lock on release, and a released lease cannot be renewed', async () => {
        const store = await makeStore();
        const lease = await held(store);
        await store.releaseLock(lease);
        expect(await store.readLock('silver.tasks')).toMatchObject({ name: 'silver.tasks', owner: 'run_a', released: true });
        const next = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, T0 + 1);
        expect(next).toMatchObject({ owner: 'run_b' });
        const error = await store.renewLock(lease, LEASE_MS, T0 + 2).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(LockLostError);
      });

      it('leaves the new holder alone when a lost lease is released', async () => {
        const store = await makeStore();
        const lost = await held(store);
        const taker = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, lost.expiresAtMs);
        expect(taker).toBeDefined();
        await store.releaseLock(lost);
        expect(await store.readLock('silver.tasks')).toEqual({ ...taker, released: false });
        expect(await store.acquireLock('silver.tasks', 'run_c', LEASE_MS, lost.expiresAtMs + 1)).toBeUndefined();
      });

      it('raises the generation with every acquire, renew and release', async () => {
        const store = await makeStore();
        const generations: number[] = [];
        const first = await held(store);
        generations.push(first.generation);
        const renewed = await store.renewLock(first, LEASE_MS, T0 + 1_000);
        generations.push(renewed.generation);
        await store.releaseLock(renewed);
        generations.push((await store.readLock('silver.tasks'))!.generation);
        const second = await store.acquireLock('silver.tasks', 'run_b', LEASE_MS, T0 + 2_000);
        generations.push(second!.generation);
        const takeover = await store.acquireLock('silver.tasks', 'run_c', LEASE_MS, second!.expiresAtMs);
        generations.push(takeover!.generation);
        for (let index = 1; index < generations.length; index += 1) expect(generations[index]).toBeGreaterThan(generations[index - 1]!);
      });

      it('gives a free lock to exactly one of many concurrent acquires', async () => {
        const store = await makeStore();
        const owners = Array.from({ length: 20 }, (_, index) => `run_${index}`);
        const leases = await Promise.all(owners.map((owner) => store.acquireLock('silver.tasks', owner, LEASE_MS, T0)));
        const won = leases.filter((lease) => lease !== undefined);
        expect(won).toHaveLength(1);
        expect(await store.readLock('silver.tasks')).toEqual({ ...won[0], released: false });
      });
    });

    describe.runIf(fencing)('fenced swaps', () => {
      const LOCK = 'job-bronze.tasks_cdc';
      // A commit's identity is unique (run id and a nonce), as commitTables makes it.
      const commit = (previous: LakeRoot, runId: string): LakeRoot => ({ ...nextRoot(previous, runId), commitId: `${runId}#${randomUUID()}` });

      /** The lease of `owner`, taken at T0 (a clock the test moves by hand). */
      async function leaseOf(store: StateStore, owner: string, nowMs = T0): Promise<LockLease> {
        const lease = await store.acquireLock(LOCK, owner, LEASE_MS, nowMs);
        if (!lease) throw new Error(`expected ${owner} to take ${LOCK}`);
        return lease;
      }

      it('goes in while the lease holds the lock, also after renewals moved its generation', async () => {
        const store = await makeStore();
        const lease = await leaseOf(store, 'run_a');
        const first = commit(EMPTY_ROOT, 'run_a');
        expect(await store.swapRoot(first, lease)).toBe(true);
        const renewed = await store.renewLock(await store.renewLock(lease, LEASE_MS, T0 + 1_000), LEASE_MS, T0 + 2_000);
        // The run hands the lease it last knew; a renewal that went in since does not fence it.
        const second = commit(first, 'run_a');
        expect(await store.swapRoot(second, lease)).toBe(true);
        expect(await store.swapRoot(commit(second, 'run_a'), renewed)).toBe(true);
        expect((await store.readRoot()).seq).toBe(3);
      });

      it('refuses, with LockLostError naming the new holder and nothing landed, once the lease ran out and was taken over', async () => {
        const store = await makeStore();
        const stalled = await leaseOf(store, 'run_a');
        const base = await store.readRoot();
        const taker = await leaseOf(store, 'run_b', stalled.expiresAtMs + 1);
        const before = await store.readRoot();
        const error = await store.swapRoot(commit(before, 'run_a'), stalled).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(LockLostError);
        expect((error as LockLostError).message).toMatch(/fenced.*run_b/);
        // Nor does a swap that follows the root the stalled run had read.
        expect(await store.swapRoot(commit(base, 'run_a'), stalled).catch((caught: unknown) => caught)).toBeInstanceOf(LockLostError);
        expect(await store.readRoot()).toEqual(before);
        expect(await store.swapRoot(commit(before, 'run_b'), taker)).toBe(true);
        expect((await store.readRoot()).runId).toBe('run_b');
      });

      it('refuses a lease that was released, and one whose lock never existed', async () => {
        const store = await makeStore();
        const lease = await leaseOf(store, 'run_a');
        await store.releaseLock(lease);
        expect(await store.swapRoot(commit(EMPTY_ROOT, 'run_a'), lease).catch((caught: unknown) => caught)).toBeInstanceOf(LockLostError);
        const never: LockLease = { name: 'job-nobody', owner: 'run_z', generation: 1, expiresAtMs: T0 + LEASE_MS };
        expect(await store.swapRoot(commit(EMPTY_ROOT, 'run_z'), never).catch((caught: unknown) => caught)).toBeInstanceOf(LockLostError);
        expect((await store.readRoot()).seq).toBe(0);
      });

      it('recognises its own commit when the swap is repeated after the lease was taken over (an answer lost before the takeover)', async () => {
        const store = await makeStore();
        const lease = await leaseOf(store, 'run_a');
        const mine = commit(EMPTY_ROOT, 'run_a');
        expect(await store.swapRoot(mine, lease)).toBe(true);
        await leaseOf(store, 'run_b', lease.expiresAtMs + 1);
        expect(await store.swapRoot(mine, lease)).toBe(true);
        expect((await store.readRoot()).tables).toEqual(mine.tables);
      });

      it('orders every takeover against a racing commit: a commit that went in is seen by the new holder, or it was refused', async () => {
        for (let trial = 0; trial < 12; trial += 1) {
          const store = await makeStore();
          const stalled = await leaseOf(store, 'run_a');
          const next = commit(await store.readRoot(), 'run_a');
          const [swapped, seenByTaker] = await Promise.all([
            store.swapRoot(next, stalled).catch((caught: unknown) => caught),
            // What the new holder's recovery reads right after taking the lock.
            store.acquireLock(LOCK, 'run_b', LEASE_MS, stalled.expiresAtMs + 1).then(async (lease) => (lease ? store.readRoot() : undefined)),
          ]);
          expect(seenByTaker).toBeDefined();
          if (swapped === true) expect(seenByTaker!.tables).toEqual(next.tables);
          else expect(swapped === false || swapped instanceof LockLostError).toBe(true);
        }
      });
    });

    describe('records', () => {
      it('round-trips a record, and the last put of an id wins', async () => {
        const store = await makeStore();
        const run = { runId: 'jr_1', job: 'silver.tasks', status: 'running', note: 'héllo "quoted"' };
        await store.putRecord('runs/silver.tasks', 'jr_1', run);
        expect(await store.getRecord('runs/silver.tasks', 'jr_1')).toEqual(run);
        await store.putRecord('runs/silver.tasks', 'jr_1', { ...run, status: 'succeeded' });
        expect(await store.getRecord('runs/silver.tasks', 'jr_1')).toEqual({ ...run, status: 'succeeded' });
        expect(await store.listRecords('runs/silver.tasks')).toEqual([{ ...run, status: 'succeeded' }]);
      });

      it('returns undefined for a missing record and [] for a missing collection', async () => {
        const store = await makeStore();
        expect(await store.getRecord('runs/silver.tasks', 'jr_none')).toBeUndefined();
        expect(await store.listRecords('runs/silver.tasks')).toEqual([]);
        await store.putRecord('runs/silver.tasks', 'jr_1', { n: 1 });
        expect(await store.getRecord('runs/silver.tasks', 'jr_none')).toBeUndefined();
        expect(await store.getRecord('runs/gold.daily_summary', 'jr_1')).toBeUndefined();
      });

      it('lists a collection in byte order of ids, apart from other collections', async () => {
        const store = await makeStore();
        // Byte order: digits < upper case < lower case, and 'a10' < 'a2'.
        const ids = ['jr_a2', 'jr_Z', '0001', 'jr_a10', 'jr_b'];
        for (const id of ids) await store.putRecord('runs/silver.tasks', id, { id });
        await store.putRecord('runs/gold.daily_summary', 'jr_0', { id: 'gold' });
        await store.putRecord('runs', 'silver.tasks', { id: 'parent' });
        expect(await store.listRecords('runs/silver.tasks')).toEqual(['0001', 'jr_Z', 'jr_a10', 'jr_a2', 'jr_b'].map((id) => ({ id })));
        expect(await store.listRecords('runs/gold.daily_summary')).toEqual([{ id: 'gold' }]);
        expect(await store.listRecords('runs')).toEqual([{ id: 'parent' }]);
      });
    });
  });
}
