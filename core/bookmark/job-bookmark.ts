import type { ObjectInfo } from '../storage/index.ts';
import { bookmarkDocumentPrefix } from '../state/state-keys.ts';

/** Default width of the band of recent landing objects remembered by key (see selectLandingObjects). */
export const DEFAULT_BAND_MS = 15 * 60 * 1000;

/**
 * Where a job is in a landing source: everything last-modified up to `watermarkMs` has been read, and
 * of the objects in the band just below it, exactly those listed in `recent`.
 */
export interface LandingBookmark {
  readonly kind: 'landing';
  readonly watermarkMs: number;
  readonly bandMs: number;
  readonly recent: readonly { readonly key: string; readonly lastModifiedMs: number }[];
  /**
   * Objects read whose modified time was past the run's start plus the skew (a wrong clock, a touched
   * file): read once, remembered here, and never allowed to move the watermark past that time.
   */
  readonly ahead?: readonly { readonly key: string; readonly lastModifiedMs: number }[];
  /**
   * Objects, folders (keys ending in '/') and links the last run could not read, and why. What they cover
   * is judged by the bookmark as it stood before they failed (`readUpTo`), not by the watermark since, so
   * every run tries them again and, once they read, reads exactly what that bookmark had not read.
   */
  readonly retry?: readonly RetryEntry[];
}

/** An object or folder a run could not read (see LandingBookmark.retry). */
export interface RetryEntry {
  readonly key: string;
  readonly error: string;
  readonly readUpTo?: {
    readonly watermarkMs: number;
    readonly bandMs: number;
    /** Keys read in the band below the watermark, under the entry. */
    readonly recent: readonly string[];
    /** Objects read past the watermark (modified in the future), under the entry, as `key@lastModifiedMs`. */
    readonly ahead?: readonly string[];
  };
}

/** How far past a run's start an object's modified time may be and still move the watermark: clocks drift. */
export const MODIFIED_TIME_SKEW_MS = 15 * 60_000;

/** Where a job is in a table source: the source table's commit sequence (its version) it last read. */
export interface TableBookmark {
  readonly kind: 'table';
  readonly table: string;
  readonly version: number;
  /** The manifest document of that version, so the next run can tell which files were added since. */
  readonly manifest?: string;
}

export type SourceBookmark = LandingBookmark | TableBookmark;

/** A job's bookmark as committed by one run (immutable; the root points at the current one). */
export interface JobBookmarkState {
  readonly jobName: string;
  /** Grows by one with every commit of the bookmark. */
  readonly version: number;
  /** How many runs have committed the bookmark. */
  readonly run: number;
  readonly attempt: number;
  readonly runId: string;
  readonly previousRunId?: string;
  readonly committedAt: string;
  /** Per source (Glue's transformationCtx): how far the job has read. */
  readonly sources: Readonly<Record<string, SourceBookmark>>;
}

/** Glue's `JobBookmarkEntry` (GetJobBookmark), as `medallion bookmark get` prints it. */
export interface JobBookmarkEntry {
  readonly JobName: string;
  readonly Version: number;
  readonly Run: number;
  readonly Attempt: number;
  readonly PreviousRunId?: string;
  readonly RunId?: string;
  readonly JobBookmark: string;
}

export function bookmarkDocumentId(jobName: string, runId: string): string {
  return `${bookmarkDocumentPrefix(jobName)}${runId}`;
}

export function bookmarkEntry(jobName: string, state: JobBookmarkState | undefined): JobBookmarkEntry {
  if (!state) return { JobName: jobName, Version: 0, Run: 0, Attempt: 0, JobBookmark: '{}' };
  return {
    JobName: state.jobName,
    Version: state.version,
    Run: state.run,
    Attempt: state.attempt,
    ...(state.previousRunId === undefined ? {} : { PreviousRunId: state.previousRunId }),
    RunId: state.runId,
    JobBookmark: JSON.stringify(state.sources),
  };
}

function isRead(object: ObjectInfo, bookmark: LandingBookmark, recentKeys: ReadonlySet<string>, aheadKeys: ReadonlySet<string>): boolean {
  // The most specific entry that covers the object decides (most bookmarks have none: nothing to look at).
  const covering = bookmark.retry?.filter((entry) => coveredBy(entry, object.key)).sort((a, b) => b.key.length - a.key.length) ?? [];
  for (const entry of covering.slice(0, 1)) {
    // What an unreadable entry covers is judged by the bookmark as it stood before the entry failed.
    const before = entry.readUpTo;
    if (!before) return false;
    if (before.ahead?.includes(`${object.key}@${object.lastModifiedMs}`)) return true;
    if (object.lastModifiedMs > before.watermarkMs) return false;
    if (object.lastModifiedMs <= before.watermarkMs - before.bandMs) return true;
    return before.recent.includes(object.key);
  }
  if (aheadKeys.has(`${object.key}@${object.lastModifiedMs}`)) return true;
  if (object.lastModifiedMs > bookmark.watermarkMs) return false;
  if (object.lastModifiedMs <= bookmark.watermarkMs - bookmark.bandMs) return true;
  return recentKeys.has(object.key);
}

/** Whether `key` is the entry's object, or lies under it (a folder, or a link that may lead to one). */
function coveredBy(entry: RetryEntry, key: string): boolean {
  return key === entry.key || key.startsWith(entry.key.endsWith('/') ? entry.key : `${entry.key}/`);
}

/**
 * The landing objects a bookmark has not read yet: those last-modified after its watermark, and those in
 * the band below the watermark that it does not remember reading. An object that lands late with an
 * older modified time is therefore read once, unless it is older than the band (then it counts as read,
 * as with Glue's file-age skew window).
 */
export function selectUnreadObjects(objects: readonly ObjectInfo[], bookmark: LandingBookmark | undefined): ObjectInfo[] {
  if (!bookmark) return [...objects];
  const recentKeys = new Set(bookmark.recent.map((entry) => entry.key));
  const aheadKeys = new Set((bookmark.ahead ?? []).map((entry) => `${entry.key}@${entry.lastModifiedMs}`));
  return objects.filter((object) => !isRead(object, bookmark, recentKeys, aheadKeys));
}

/**
 * The bookmark after reading `read` on top of `previous`. An object modified after `nowMs` plus the skew
 * does not move the watermark (one such object would make every later object look read): it is
 * remembered as read instead (`ahead`), until the watermark passes its time.
 */
export function advanceLandingBookmark(
  previous: LandingBookmark | undefined,
  read: readonly ObjectInfo[],
  bandMs: number,
  nowMs: number,
  unreadable: readonly { key: string; error: string }[] = [],
): LandingBookmark {
  const ceiling = nowMs + MODIFIED_TIME_SKEW_MS;
  const watermarkMs = Math.max(previous?.watermarkMs ?? 0, ...read.filter((object) => object.lastModifiedMs <= ceiling).map((object) => object.lastModifiedMs));
  const band = previous?.bandMs ?? bandMs;
  const byKey = new Map<string, number>();
  for (const entry of [...(previous?.recent ?? []), ...(previous?.ahead ?? []), ...read]) byKey.set(entry.key, entry.lastModifiedMs);
  const entries = [...byKey.entries()]
    .map(([key, lastModifiedMs]) => ({ key, lastModifiedMs }))
    .sort((a, b) => a.lastModifiedMs - b.lastModifiedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // Read objects past the watermark stay remembered until it passes them; then they join the band's.
  const recent = entries.filter((entry) => entry.lastModifiedMs > watermarkMs - band && entry.lastModifiedMs <= watermarkMs);
  const ahead = entries.filter((entry) => entry.lastModifiedMs > watermarkMs);
  // What this run could not read is tried again; a folder keeps the view of it it had when it first failed.
  const retry = unreadable.map(({ key, error }): RetryEntry => {
    // An entry keeps the view of the first entry that covered it (a file that stays unreadable once its
    // folder reads again is still judged as the folder was), else takes the bookmark before this run.
    const earlier = previous?.retry?.find((entry) => coveredBy(entry, key));
    if (earlier) return earlier.readUpTo ? { key, error, readUpTo: earlier.readUpTo } : { key, error };
    if (!previous) return { key, error };
    const under = (entryKey: string) => coveredBy({ key, error }, entryKey);
    const aheadUnder = (previous.ahead ?? []).filter((entry) => under(entry.key)).map((entry) => `${entry.key}@${entry.lastModifiedMs}`);
    return {
      key,
      error,
      readUpTo: {
        watermarkMs: previous.watermarkMs,
        bandMs: previous.bandMs,
        recent: previous.recent.map((entry) => entry.key).filter(under),
        ...(aheadUnder.length > 0 ? { ahead: aheadUnder } : {}),
      },
    };
  });
  // Earlier entries under a new one could not even be tried: they stay, each with its own view.
  const tried = new Set(retry.map((entry) => entry.key));
  for (const earlier of previous?.retry ?? []) {
    if (!tried.has(earlier.key) && retry.some((entry) => entry.key !== earlier.key && coveredBy(entry, earlier.key))) retry.push(earlier);
  }
  return { kind: 'landing', watermarkMs, bandMs: band, recent, ...(ahead.length > 0 ? { ahead } : {}), ...(retry.length > 0 ? { retry } : {}) };
}

/**
 * For a pause run between two bookmarks (`--job-bookmark-from` / `--job-bookmark-to`): the objects read
 * after `from` up to and including `to`.
 */
export function selectBetween(objects: readonly ObjectInfo[], from: LandingBookmark | undefined, to: LandingBookmark | undefined): ObjectInfo[] {
  const afterFrom = new Set(selectUnreadObjects(objects, from).map((object) => object.key));
  const afterTo = new Set(selectUnreadObjects(objects, to).map((object) => object.key));
  return objects.filter((object) => afterFrom.has(object.key) && !afterTo.has(object.key));
}
