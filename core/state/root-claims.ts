import { MedallionError } from '../errors.ts';
import type { LakeRoot } from './state-store.ts';
import { stateItemKey } from './state-keys.ts';

/**
 * Claims: how a root names who moved each of its pointers, so a root put outside the commit protocol is
 * refused instead of read.
 *
 * One root item names every table and bookmark (that is what makes a multi-table commit atomic), so IAM cannot
 * keep a bronze task from putting a root that points gold somewhere else, or back. What IAM can do is limit,
 * by partition key, who puts a claim: each commit puts, in the same transaction as its root item, one claim
 * item per pointer it moves (`claim#table#gold.user_kpis`, sort key the root's sequence, holding the new
 * manifest id, or none for a table it removes), and only the owner of a table (or bookmark) may put that
 * table's claims. Every root a store reads is then checked against the claims: each claimed pointer must be
 * what the newest claim at or before the root's sequence set it to. A root that points a table elsewhere, rolls
 * it back or drops it, and was not put with its owner's claim, is STATE_CORRUPT.
 *
 * The index (`claims`, sort key the claim's partition key) lists every pointer ever claimed, so a root that
 * leaves a claimed pointer out is caught too; a second one per root (`claims#<seq>`) lists the pointers that
 * root's commit claimed, so a reader that has checked root n checks root n + 1 from that commit's claims alone
 * (`followsClaims`). Every committing role may put index entries, but none may delete one (the state store never
 * deletes but a vacuum's manifests), and an entry names its pointer by its sort key, so a forged entry can add a
 * pointer to check, never hide one.
 *
 * What claims do not cover: a pointer no commit has claimed yet (roots committed before claims existed, until
 * the owner's next commit), and the tables every job appends to (the quarantine, quality.results and
 * quality.rejected_rows), whose claims every job may put.
 */

/** STATE_CORRUPT for a root that does not hold what the claims say (a reader may look again: see DynamoDbStateStore). */
export class RootClaimsError extends MedallionError {}

/** A pointer a root holds: a table's manifest id, or a job's bookmark document id. */
export type ClaimedPointer = { readonly kind: 'table'; readonly name: string } | { readonly kind: 'bookmark'; readonly name: string };

/** What the newest claim of a pointer at or before a root's sequence says. */
export interface PointerClaim {
  /** The sequence of the root whose commit put the claim. */
  readonly seq: number;
  /** The id the commit set the pointer to; null when it removed the pointer. */
  readonly target: string | null;
  readonly runId: string | null;
  /** The identity of the commit that put it (`LakeRoot.commitId`). */
  readonly commitId?: string;
}

/** A claim a commit puts: the pointer's claim key, and what the commit set it to (null: removed). */
export interface ClaimChange {
  readonly key: string;
  readonly target: string | null;
}

/** The claim partition key of a pointer. */
function claimKey(pointer: ClaimedPointer): string {
  return pointer.kind === 'table' ? stateItemKey.tableClaim(pointer.name) : stateItemKey.bookmarkClaim(pointer.name);
}

/** The pointer a claim partition key names, or undefined for a key that names none. */
export function claimedPointer(key: string): ClaimedPointer | undefined {
  const table = stateItemKey.tableClaim('');
  const bookmark = stateItemKey.bookmarkClaim('');
  if (key.startsWith(table) && key.length > table.length) return { kind: 'table', name: key.slice(table.length) };
  if (key.startsWith(bookmark) && key.length > bookmark.length) return { kind: 'bookmark', name: key.slice(bookmark.length) };
  return undefined;
}

/** Where `root` points `pointer` (null: it holds no such pointer). */
export function pointerTarget(root: LakeRoot, pointer: ClaimedPointer): string | null {
  return (pointer.kind === 'table' ? root.tables[pointer.name]?.manifest : root.bookmarks[pointer.name]) ?? null;
}

/** The claims the commit of `next` over `previous` puts: one per table or bookmark it adds, moves or removes. */
export function claimChanges(previous: LakeRoot, next: LakeRoot): ClaimChange[] {
  const changes: ClaimChange[] = [];
  const compare = (kind: ClaimedPointer['kind'], before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>) => {
    for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      if (before[name] !== after[name]) changes.push({ key: claimKey({ kind, name }), target: after[name] ?? null });
    }
  };
  const manifests = (root: LakeRoot) => Object.fromEntries(Object.entries(root.tables).map(([table, ref]) => [table, ref.manifest]));
  compare('table', manifests(previous), manifests(next));
  compare('bookmark', previous.bookmarks, next.bookmarks);
  return changes;
}

/**
 * Checks `root` against the claims: for every claimed pointer (`claimed`, the index's claim keys), the root
 * must hold what the newest claim at or before its sequence set (`newestClaim`). STATE_CORRUPT names the first
 * pointer that differs, what the root says and what its last commit set. Returns the keys that have a claim at or
 * before the root's sequence.
 */
export async function checkRootClaims(
  root: LakeRoot,
  claimed: readonly string[],
  newestClaim: (key: string, seq: number) => Promise<PointerClaim | undefined>,
  where: string,
): Promise<Set<string>> {
  const pointers = claimed.flatMap((key) => {
    const pointer = claimedPointer(key);
    return pointer ? [{ key, pointer }] : [];
  });
  const claims = await Promise.all(pointers.map(async ({ key, pointer }) => ({ key, pointer, claim: await newestClaim(key, root.seq) })));
  const found = new Set<string>();
  for (const { key, pointer, claim } of claims) {
    if (!claim) continue;
    found.add(key);
    const target = pointerTarget(root, pointer);
    if (target === claim.target) continue;
    const what = pointer.kind === 'table' ? `table ${pointer.name}` : `the bookmark of ${pointer.name}`;
    const says = target === null ? `leaves out ${what}` : `points ${what} at ${target}`;
    const set = claim.target === null ? 'removed it' : `set it to ${claim.target}`;
    const commit = (commitId: string | undefined, runId: string | null) => [commitId && `commit ${commitId}`, runId && `run ${runId}`].filter(Boolean).join(', ') || 'no identity';
    const hint = 'see runbooks/disaster-recovery.md, "A root that does not match its claims"';
    // A claim at the root's own sequence that another commit put: the root, or the claim, was put around the store
    // (a claim can only be put by the pointer's own job, a root by any job).
    if (claim.seq === root.seq && claim.commitId !== root.commitId) {
      throw new RootClaimsError('STATE_CORRUPT', `${where} (${commit(root.commitId, root.runId)}) ${says}, but the claim of ${what} at root ${claim.seq} (${commit(claim.commitId, claim.runId)}) ${set}: the root and the claim come from different commits, and one of them was put outside the commit protocol`, { hint });
    }
    throw new RootClaimsError('STATE_CORRUPT', `${where} (${commit(root.commitId, root.runId)}) ${says}, but the last commit that moved it (root ${claim.seq}, ${commit(claim.commitId, claim.runId)}) ${set}: the root was put outside the commit protocol`, { hint });
  }
  return found;
}

/**
 * Whether `root` holds what the claims say, given the root before it (`previous`, already checked, with
 * `claimedBefore`, the keys claimed at or before its sequence) and the claims put at `root`'s own sequence
 * (`claimedAt`): each pointer claimed there must be what its claim set, every other claimed pointer what
 * `previous` holds. The same answer as `checkRootClaims` from the claims of one commit instead of all of them.
 */
export function followsClaims(root: LakeRoot, previous: LakeRoot, claimedBefore: ReadonlySet<string>, claimedAt: ReadonlyMap<string, string | null>): boolean {
  for (const key of new Set([...claimedBefore, ...claimedAt.keys()])) {
    const pointer = claimedPointer(key);
    if (!pointer) continue;
    const expected = claimedAt.has(key) ? claimedAt.get(key) : pointerTarget(previous, pointer);
    if (pointerTarget(root, pointer) !== expected) return false;
  }
  return true;
}
