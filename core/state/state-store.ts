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
}

export const EMPTY_ROOT: LakeRoot = Object.freeze({ seq: 0, committedAt: new Date(0).toISOString(), runId: null, tables: {}, bookmarks: {} });

/**
 * Where commits, manifests and bookmarks live: files in the lake on the embedded default, a DynamoDB
 * table in AWS. Documents are immutable once written; the root moves by compare-and-swap.
 *
 * @example
 * const root = await state.readRoot();
 * await state.putDocument('manifests/silver.tasks/3', manifest);
 * const won = await state.swapRoot({ ...root, seq: root.seq + 1, tables: { ...root.tables, 'silver.tasks': ref } });
 */
export interface StateStore {
  readonly location: string;
  readRoot(): Promise<LakeRoot>;
  /** Makes `next` the root if the current root is still at `next.seq - 1`; false when another commit came first. */
  swapRoot(next: LakeRoot): Promise<boolean>;
  putDocument(id: string, body: unknown): Promise<void>;
  getDocument<T>(id: string): Promise<T>;
}
