import { ConfigError, NotFoundError } from '../errors.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { manifestFiles, type TableManifest } from './manifest.ts';
import { VACUUM_RECORD } from '../state/state-keys.ts';
export { VACUUM_RECORD };

/** Where a vacuum left the lake: commits before `keptFromCommit` may have lost their files (core/runner vacuum.ts). */
export interface VacuumHorizon {
  readonly keptFromCommit: number;
  readonly cutoff: string;
  readonly retainMs: number;
  readonly at: string;
}


/** The retention window when none is given: a week of versions for time travel and restore. */
export const DEFAULT_RETAIN_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The oldest commit whose versions are kept whole: the one current at the default retention window's start,
 * or the last vacuum's horizon when that is later (the catalog's version views go back this far).
 */
export async function firstRetainedCommit(state: StateStore, now: Date): Promise<number> {
  const horizon = await state.getRecord<VacuumHorizon>(VACUUM_RECORD.collection, VACUUM_RECORD.id);
  const atWindow = await rootAsOf(state, { time: new Date(now.getTime() - DEFAULT_RETAIN_MS) }).then((root) => root.seq, () => 1);
  return Math.max(horizon?.keptFromCommit ?? 1, atWindow);
}

/** One version of a table, as `medallion history` shows it. */
export interface TableVersion {
  readonly table: string;
  readonly version: number;
  /** The lake commit (root sequence) that made it current: `query --as-of <commit>` reads the lake as it was then. */
  readonly commit: number;
  readonly committedAt: string;
  /** `append`, `replace_partitions`, `replace_all`, `restore`; undefined for versions committed before it was recorded. */
  readonly operation?: string;
  readonly job?: string;
  readonly runId: string;
  readonly rows: number;
  readonly files: number;
  readonly bytes: number;
  readonly restoredFrom?: number;
  /** The id of its manifest document. */
  readonly manifestId: string;
  /** Its manifest is gone (removed by a vacuum): only its commit is known. */
  readonly removed?: boolean;
}

/**
 * Versions of `table`, newest first, at most `limit` (or back to the one current at commit `untilCommit`): walks back from the root's version, each version's
 * manifest naming the commit that made it current and so the root before it (a version committed before
 * manifests recorded their commit is found by stepping back through the roots).
 */
export async function tableHistory(
  state: StateStore,
  table: string,
  options: { readonly root?: LakeRoot; readonly limit?: number; readonly untilCommit?: number } = {},
): Promise<TableVersion[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  let root: LakeRoot | undefined = options.root ?? (await state.readRoot());
  const versions: TableVersion[] = [];
  while (root && versions.length < limit) {
    const ref = root.tables[table];
    if (!ref) break;
    let manifest: TableManifest | undefined;
    try {
      manifest = await readManifest(state, ref.manifest);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const commit: number = manifest?.commitSeq ?? (await firstRootWith(state, root, table, ref.manifest));
    const files = manifest ? manifestFiles(manifest) : [];
    versions.push({
      table,
      version: ref.version,
      commit,
      committedAt: manifest?.committedAt ?? (await state.readRootAt(commit))?.committedAt ?? '',
      ...(manifest?.operation === undefined ? {} : { operation: manifest.operation }),
      ...(manifest?.job === undefined ? {} : { job: manifest.job }),
      runId: manifest?.runId ?? '',
      rows: files.reduce((sum, file) => sum + file.rows, 0),
      files: files.length,
      bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
      ...(manifest?.restoredFrom === undefined ? {} : { restoredFrom: manifest.restoredFrom }),
      manifestId: ref.manifest,
      ...(manifest ? {} : { removed: true }),
    });
    // The version current at commit `untilCommit` is the last one asked for.
    if (options.untilCommit !== undefined && commit <= options.untilCommit) break;
    root = commit > 1 ? await state.readRootAt(commit - 1) : undefined;
  }
  return versions;
}

/** The earliest root, going back from `root`, whose table still points at `manifestId`. */
async function firstRootWith(state: StateStore, root: LakeRoot, table: string, manifestId: string): Promise<number> {
  let seq = root.seq;
  while (seq > 1) {
    const before = await state.readRootAt(seq - 1);
    if (before?.tables[table]?.manifest !== manifestId) break;
    seq -= 1;
  }
  return seq;
}

/** What `--as-of` names: a lake commit (a root sequence, as `history` prints it) or a moment. */
export type AsOf = { readonly commit: number } | { readonly time: Date };

/** Parses `--as-of`: a commit number, or an ISO-8601 date or timestamp (UTC unless it says otherwise). */
export function parseAsOf(text: string): AsOf {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { commit: Number(trimmed) };
  const time = /^\d{4}-\d{2}-\d{2}$/.test(trimmed) ? new Date(`${trimmed}T00:00:00Z`) : /[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed) ? new Date(trimmed) : new Date(`${trimmed}Z`);
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed) || Number.isNaN(time.getTime())) {
    throw new ConfigError('AS_OF_INVALID', `--as-of ${JSON.stringify(text)} is neither a commit number nor a timestamp`, {
      hint: 'give a commit from `medallion history <table>` (e.g. --as-of 42) or a UTC time (e.g. --as-of 2025-11-03T06:00:00Z)',
    });
  }
  return { time };
}

/**
 * The lake's root as of a commit or a moment: the root of that commit, or the newest committed at or before
 * the moment (roots are committed in sequence order, so their times only grow; a binary search finds it).
 */
export async function rootAsOf(state: StateStore, asOf: AsOf): Promise<LakeRoot> {
  const head = await state.readRoot();
  if ('commit' in asOf) {
    const root = asOf.commit <= head.seq ? await state.readRootAt(asOf.commit) : undefined;
    if (!root) {
      throw new NotFoundError('COMMIT_UNKNOWN', `the lake has no commit ${asOf.commit} (its newest is ${head.seq})`, {
        hint: '`medallion history <table>` lists the commits of a table',
      });
    }
    return root;
  }
  const at = asOf.time.getTime();
  if (Date.parse(head.committedAt) <= at) return head;
  let low = 0;
  let high = head.seq;
  let found: LakeRoot | undefined;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    const root = middle === 0 ? undefined : await state.readRootAt(middle);
    if (root && Date.parse(root.committedAt) <= at) {
      found = root;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  if (!found) {
    const first = await state.readRootAt(1);
    throw new NotFoundError('COMMIT_UNKNOWN', `the lake has no commit at or before ${asOf.time.toISOString()}${first ? ` (its first is at ${first.committedAt})` : ''}`, {
      hint: 'give a later time, or a commit from `medallion history <table>`',
    });
  }
  return found;
}
