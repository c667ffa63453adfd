export interface ListRecordsOptions {
  readonly onUnreadable?: (id: string, error: Error) => void;
}

/** A pointer to one committed table version. */
export interface TableRef {
  readonly version: number;
  /** Id of the manifest document (see StateStore.getDocument). */
  readonly manifest: string;
}

/**
 * The lake's single source of truth: which version of every table is current, and every job's bookmark.
 * Replacing the root is the one atomic step of a commit, so tables and bookmarks move together.
 */
export interface LakeRoot {
  /** 0 for an empty lake; each commit adds one. */
  readonly seq: number;
  readonly committedAt: string;
  readonly runId: string | null;
  readonly tables: Readonly<Record<string, TableRef>>;
  /** Job name to bookmark document id. */
  readonly bookmarks: Readonly<Record<string, string>>;
  /**
   * The commit's own identity (its run id and a nonce of the commit call), so a swap whose answer was lost
   * is recognised as the one that went in: a store decides an ambiguous swap by reading the root at its
   * sequence back (see `sameCommit`). Roots committed before it existed have none.
   */
  readonly commitId?: string;
  /**
   * Lock name to the generation at which a lock was last taken over from a holder whose lease ran out:
   * the file store's fence (see FileStateStore.swapRoot). A store carries it forward from root to root
   * itself; other stores leave it out.
   */
  readonly fences?: Readonly<Record<string, number>>;
}

/** Whether root `landed` is the commit `mine` (by its identity, or whole for roots without one). */
export function sameCommit(landed: LakeRoot, mine: LakeRoot): boolean {
  if (landed.commitId !== undefined || mine.commitId !== undefined) return landed.commitId === mine.commitId && landed.seq === mine.seq;
  return JSON.stringify(landed) === JSON.stringify(mine);
}

export const EMPTY_ROOT: LakeRoot = Object.freeze({ seq: 0, committedAt: new Date(0).toISOString(), runId: null, tables: {}, bookmarks: {} });

/**
 * A held lock. `generation` grows with every acquire and renew of the lock (by anyone), so it also serves
 * as a fencing token: a holder whose renew finds a higher generation has lost the lock.
 */
export interface LockLease {
  readonly name: string;
  readonly owner: string;
  readonly generation: number;
  readonly expiresAtMs: number;
}

/** What a lock looks like to someone who does not hold it. */
export interface LockState {
  readonly name: string;
  readonly owner: string;
  readonly generation: number;
  readonly expiresAtMs: number;
  readonly released: boolean;
}

/**
 * Where commits, manifests and bookmarks live: files in the lake on the embedded default, a DynamoDB
 * table in AWS. Documents are immutable once written; the root moves by compare-and-swap.
 *
 * @example
 * const root = await state.readRoot();
 * await state.putDocument('manifests/silver.tasks/0000000003-jr_1-1', manifest);
 * const won = await state.swapRoot({ ...root, seq: root.seq + 1, tables: { ...root.tables, 'silver.tasks': ref } });
 */
export interface StateStore {
  readonly location: string;
  readRoot(): Promise<LakeRoot>;
  /**
   * The root committed at `seq` (every committed root is kept: time travel and history read them), or
   * undefined when there is none. A root that is there but damaged is STATE_CORRUPT.
   */
  readRootAt(seq: number): Promise<LakeRoot | undefined>;
  /**
   * Makes `next` the root if the current root is still at `next.seq - 1`: true when `next` is the root at
   * its sequence (also when a retried or duplicated request found its own earlier write there), false when
   * another commit holds that sequence. Throws only when it cannot tell.
   *
   * With `fence`, the swap is also conditioned, in the same atomic step, on `fence.owner` still holding
   * lock `fence.name` (not released, not taken over since, whatever renewals moved its generation): a
   * holder whose lease ran out and was taken over gets LockLostError, and nothing of its commit lands.
   */
  swapRoot(next: LakeRoot, fence?: LockLease): Promise<boolean>;
  putDocument(id: string, body: unknown): Promise<void>;
  getDocument<T>(id: string): Promise<T>;
  /** Removes a document no commit needs any more (a vacuum's); one that is not there is fine. */
  deleteDocument(id: string): Promise<void>;

  /**
   * Takes lock `name` for `owner` when it is free, released, or its lease ended before `nowMs` (a holder
   * that died stops blocking once its lease runs out). Undefined when a live holder has it. Of two callers
   * racing for the same lock, at most one gets it.
   */
  acquireLock(name: string, owner: string, leaseMs: number, nowMs: number): Promise<LockLease | undefined>;
  /**
   * Extends a held lease (the heartbeat). Throws LockLostError when someone took the lock since; a lease
   * that ran out but was not taken over yet can still be renewed.
   */
  renewLock(lease: LockLease, leaseMs: number, nowMs: number): Promise<LockLease>;
  /** Gives the lock up; a lease that was already lost is left alone. */
  releaseLock(lease: LockLease): Promise<void>;
  readLock(name: string): Promise<LockState | undefined>;

  /** Mutable records, such as job runs: the last write of an id wins. `collection` is like `runs/silver.tasks`. */
  putRecord(collection: string, id: string, body: unknown): Promise<void>;
  getRecord<T>(collection: string, id: string): Promise<T | undefined>;
  /**
   * Every record of a collection, in the byte order of their UTF-8 ids (DynamoDB's sort-key order). A record
   * that cannot be read (damaged outside medallion) throws STATE_CORRUPT, or, with `onUnreadable`, is left
   * out and reported there, so one bad record does not hide the others.
   */
  listRecords<T>(collection: string, options?: ListRecordsOptions): Promise<T[]>;
}
