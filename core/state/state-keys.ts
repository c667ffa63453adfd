/**
 * The names a lake's state goes by: the ids of documents and collections of records the runner writes, and
 * the partition keys DynamoDbStateStore files them under. IAM grants a task's writes by those keys
 * (`dynamodb:LeadingKeys`, infra/constructs/lake-state.ts, from `LakeAccess.stateWrites`), so every writer
 * names its items through here and the grant and the writes cannot drift apart.
 */

/** A root's sequence as keys carry it, twelve digits wide, so keys sort as sequences do: `000000000042`. */
export function sequenceKey(seq: number): string {
  return String(seq).padStart(12, '0');
}

/** Partition keys of the state table's items (DynamoDbStateStore). */
export const stateItemKey = {
  /** The committed root at `seq`: `root#000000000042`, one per sequence, never rewritten. */
  root: (seq: number): string => `root#${sequenceKey(seq)}`,
  /** The hint to the newest root (sort key `HEAD`). */
  head: 'root',
  /** Every part of a document. */
  document: (id: string): string => `doc#${id}`,
  /** A lock. */
  lock: (name: string): string => `lock#${name}`,
  /** Every record of a collection. */
  records: (collection: string): string => `rec#${collection}`,
  /** The claims of a table's pointer in the root, one per commit that moved it (sort key the root's sequence; see root-claims.ts). */
  tableClaim: (table: string): string => `claim#table#${table}`,
  /** The claims of a job's bookmark pointer in the root. */
  bookmarkClaim: (job: string): string => `claim#bookmark#${job}`,
  /** The index of every claimed pointer (sort key the claim's partition key). */
  claimIndex: 'claims',
  /** The index of the pointers the commit of root `seq` claimed (sort key the claim's partition key). */
  claimsAt: (seq: number): string => `claims#${sequenceKey(seq)}`,
} as const;

/**
 * The partition keys every commit puts, as IAM patterns: the new root's own item (`root#<seq>`), the hint to the
 * newest and the claim indexes (of every pointer, and of the pointers each root's commit claimed). The claims themselves are the committer's own: `claimKeysOf`.
 */
export const ROOT_KEY_PATTERNS: readonly string[] = [stateItemKey.head, 'root#*', stateItemKey.claimIndex, 'claims#*'];

/** The claim partition keys of a committer's pointers: its tables' and its jobs' bookmarks'. */
export function claimKeysOf(tables: readonly string[], jobs: readonly string[]): string[] {
  return [...tables.map(stateItemKey.tableClaim), ...jobs.map(stateItemKey.bookmarkClaim)];
}

/** Ids of a table's manifests start with this: `manifests/silver.tasks/0000000012-<run>-<attempt>`. */
export function manifestDocumentPrefix(table: string): string {
  return `manifests/${table}/`;
}

/** Ids of the manifests of `table` at `version` start with this: `manifests/silver.tasks/0000000012-`. */
export function manifestVersionPrefix(table: string, version: number): string {
  return `${manifestDocumentPrefix(table)}${String(version).padStart(10, '0')}-`;
}

/** The manifest of `table` at `version`, written by `runId`'s commit on its `attempt`-th try (documents are never rewritten). */
export function manifestDocumentId(table: string, version: number, runId: string, attempt: number): string {
  return `${manifestVersionPrefix(table, version)}${runId}-${attempt}`;
}

/** Ids of a job's bookmark documents start with this. */
export function bookmarkDocumentPrefix(jobName: string): string {
  return `bookmarks/${jobName}/`;
}

/** The collection of a job's run records (`runs/silver.tasks`). */
export function runRecordCollection(jobName: string): string {
  return `runs/${jobName}`;
}

/** Where the last catalog publish's outcome is kept: `medallion catalog status` shows it, the runbook starts from it. */
export const CATALOG_PUBLISH_RECORD = { collection: 'catalog', id: 'last-publish' } as const;

/** The state record the vacuum keeps its horizon in. */
export const VACUUM_RECORD = { collection: 'vacuum', id: 'horizon' } as const;

/**
 * The lock a vacuum and a restore both hold while they work: a restore makes an old version current again,
 * and the vacuum removes the files of old versions, so one must see the other's outcome. Without it, a vacuum
 * that read the roots before a restore committed removes the files the restored version lists.
 */
export const MAINTENANCE_LOCK = 'lake-maintenance';
