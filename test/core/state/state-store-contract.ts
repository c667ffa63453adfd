import { describe, expect, it } from 'vitest';
import { EMPTY_ROOT, MedallionError, NotFoundError, type LakeRoot, type StateStore } from '../../../core/index.ts';

/** A root that follows `previous`, marked with `runId` so a test can tell whose commit won. */
export function nextRoot(previous: LakeRoot, runId: string, seq = previous.seq + 1): LakeRoot {
  return {
    seq,
    committedAt: new Date(Date.UTC(2025, 10, 1, 0, 0, seq)).toISOString(),
    runId,
    tables: { ...previous.tables, 'silver.tasks': { version: seq, manifest: `manifests/silver.tasks/${seq}-${runId}` } },
    bookmarks: { ...previous.bookmarks, [`job_${runId}`]: `bookmarks/${runId}` },
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
 * the caller cleans up after each test.
 */
export function stateStoreContract(implementation: string, makeStore: () => Promise<StateStore>): void {
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
  });
}
