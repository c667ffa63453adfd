import { selectBetween, selectUnreadObjects, type JobBookmarkState, type LandingBookmark } from '../../bookmark/index.ts';
import { listLanding } from '../../landing/index.ts';
import type { BookmarkOption } from '../../job/index.ts';
import type { LakeRoot } from '../../state/index.ts';
import type { ObjectInfo } from '../../storage/index.ts';
import { landingBookmarkOf } from '../run-inputs.ts';
import { bookmarkOfRun } from '../../bookmark/bookmark-admin.ts';
import type { RunContext } from './run-context.ts';
import { readBookmark } from '../../state/state-documents.ts';
import { ConfigError } from '../../errors.ts';
import { selectQuarantined, type QuarantineFilter } from '../quarantine-selection.ts';

/** What a run will read, decided before anything is opened. */
export interface ReadPlan {
  /** The lake's root the run reads from and commits onto. */
  readonly basedOn: LakeRoot;
  readonly option: BookmarkOption;
  /** The job's committed bookmark, if it has one. */
  readonly current?: JobBookmarkState;
  /** The bookmark the run reads past: the committed one, unless bookmarks are disabled. */
  readonly since?: JobBookmarkState;
  /** The version of each table source the run reads. */
  readonly tableVersions: Readonly<Record<string, number>>;
  /** The landing objects each landing source reads. */
  readonly landingObjects: ReadonlyMap<string, readonly ObjectInfo[]>;
  /** The run reads part of what its sources hold (a bookmark or a window left objects out). */
  readonly readsSubset: boolean;
  /** There is something to read: without it, a bookmarked run ends with nothing committed. */
  readonly anythingNew: boolean;
  /**
   * Landing folders and links the listing could not read; the objects that cannot be fetched join them
   * while the run reads (see ReadCounts.setAside). Set aside, reported, and tried again by the next run.
   */
  readonly unreadable: UnreadableEntry[];
  /** A quarantine replay: the run re-reads the quarantined records this selects, and nothing else (RunOptions.replayQuarantine). */
  readonly replay?: QuarantineFilter;
  /** A range replay: the landing objects that arrived in it are read again and what came of them replaced. */
  readonly replayRange?: { readonly from: string; readonly to: string };
}

/** A landing object, folder (key ending in '/') or link that could not be read, and why. */
export interface UnreadableEntry {
  readonly source: string;
  readonly key: string;
  readonly error: string;
}

/**
 * Decides what the run reads: table sources a bookmarked run reads only when they moved since its bookmark
 * (and then all of them), landing objects past the bookmark (or, for a pause window, between two runs'
 * bookmarks). A run without a bookmark yet reads everything, and commits even if that is nothing.
 */
export async function planReads(run: RunContext): Promise<ReadPlan> {
  const { lake, job, options } = run;
  const basedOn = await lake.state.readRoot();
  const replay = options.replayQuarantine;
  if (replay && (!job.perRecord || options.fullRefresh)) {
    throw new ConfigError('RUN_ARGUMENTS_INVALID', `${job.name}: ${job.perRecord ? 'a quarantine replay is not a full refresh' : 'only a job that reads landing record by record re-reads quarantined records alone; rebuild this one with --full-refresh'}`);
  }
  const range = options.replayRange;
  if (range) checkReplayRange(job, range, options.fullRefresh === true || replay !== undefined);
  // A replay commits no bookmark: it reads old records, not what is new.
  const option = replay || range ? 'job-bookmark-pause' : options.bookmark?.option ?? 'job-bookmark-disable';
  const replayed = replay ? await quarantinedObjects(run, basedOn, replay) : undefined;
  const committedBookmark = basedOn.bookmarks[job.name];
  const current = committedBookmark ? await readBookmark(lake.state, committedBookmark) : undefined;
  if (options.fullRefresh && (options.bookmark?.from !== undefined || option === 'job-bookmark-pause')) {
    throw new ConfigError('RUN_ARGUMENTS_INVALID', `${job.name}: --full-refresh rebuilds from all the input; it takes job-bookmark-enable or job-bookmark-disable, not a pause or a window`);
  }
  const window = option === 'job-bookmark-pause' && options.bookmark?.from !== undefined
    ? { from: await bookmarkOfRun(lake.state, job.name, options.bookmark.from), to: await bookmarkOfRun(lake.state, job.name, options.bookmark.to ?? '') }
    : undefined;
  // A full refresh reads everything, as a first run does.
  const since = option === 'job-bookmark-disable' || options.fullRefresh ? undefined : current;

  const tableVersions: Record<string, number> = {};
  let anythingNew = option === 'job-bookmark-disable' || since === undefined;
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'table') continue;
    tableVersions[name] = basedOn.tables[source.table]?.version ?? 0;
    const seen = since?.sources[name];
    if (!(seen?.kind === 'table' && seen.version === tableVersions[name])) anythingNew = true;
  }

  const landingObjects = new Map<string, ObjectInfo[]>();
  const unreadableEntries: UnreadableEntry[] = [];
  let readsSubset = false;
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'landing') continue;
    // Objects at or below the bookmark's band count as read: the listing may leave them out.
    const readUpTo = replayed || range ? undefined : window ? landingBookmarkOf(window.from, name) : landingBookmarkOf(since, name);
    if (readUpTo || replayed || range) readsSubset = true;
    const listed = await listLanding(lake.storage, source.prefix, listingHint(readUpTo));
    const objects = listed.objects;
    unreadableEntries.push(...listed.unreadable.map((entry) => ({ source: name, ...entry })));
    const selected = replayed
      ? objects.filter((object) => replayed.has(object.key))
      : range
        ? objects.filter((object) => { const day = arrivalDate(object); return day >= range.from && day <= range.to; })
      : window
        ? selectBetween(objects, landingBookmarkOf(window.from, name), landingBookmarkOf(window.to, name))
        : selectUnreadObjects(objects, landingBookmarkOf(since, name));
    if (selected.length < objects.length) readsSubset = true;
    if (selected.length > 0) anythingNew = true;
    // A folder or link that turned unreadable since the bookmark is news too: the bookmark must keep it.
    const known = new Set((landingBookmarkOf(since, name)?.retry ?? []).map((entry) => entry.key));
    if (unreadableEntries.some((entry) => entry.source === name && !known.has(entry.key))) anythingNew = true;
    landingObjects.set(name, selected);
  }
  if (replayed) anythingNew = [...landingObjects.values()].some((objects) => objects.length > 0);
  // A range replay replaces the range, even with nothing in it now (objects removed from landing since).
  if (range) anythingNew = true;
  return {
    basedOn, option, tableVersions, landingObjects, readsSubset, anythingNew, unreadable: unreadableEntries,
    ...(replay ? { replay } : {}),
    ...(range ? { replayRange: range } : {}),
    ...(current ? { current } : {}),
    ...(since ? { since } : {}),
  };
}

/**
 * The day an object arrived: its `YYYY/MM/DD/HH/` key folders (Firehose's arrival time), else the UTC date it
 * was last modified, as the bronze jobs' `ingest_date` has it.
 */
export function arrivalDate(object: ObjectInfo): string {
  const match = /\/(\d{4})\/(\d{2})\/(\d{2})\/\d{2}\/[^/]+$/.exec(object.key);
  const day = match ? `${match[1]}-${match[2]}-${match[3]}` : '';
  // A folder date that is no date (2025/02/30) falls back as the bronze SQL's cast does (NULL, then the modified date).
  const ms = match ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (!Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day) return day;
  return new Date(object.lastModifiedMs).toISOString().slice(0, 10);
}

/** A range replay is for a perRecord job whose output is partitioned by arrival date, over real dates. */
function checkReplayRange(job: RunContext['job'], range: { from: string; to: string }, other: boolean): void {
  const output = job.outputs.find((spec) => spec.name === job.balance?.output);
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const problems: string[] = [];
  if (other) problems.push('a range replay is neither a full refresh nor a quarantine replay');
  if (!job.perRecord || !output || output.partitionBy.length !== 1 || output.columns.find((column) => column.name === output.partitionBy[0])?.type !== 'DATE') {
    problems.push('only a job that reads landing record by record into a table partitioned by arrival date replays a range; rebuild this one with --full-refresh');
  }
  // Round-tripped: Date.parse takes 2025-02-30 as March 2nd, where DuckDB's date cast gives NULL.
  const real = (text: string) => day.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
  if (!real(range.from) || !real(range.to)) problems.push(`--from ${range.from} --to ${range.to}: dates are YYYY-MM-DD, and real ones`);
  else if (range.from > range.to) problems.push(`--from ${range.from} is after --to ${range.to}`);
  if (problems.length > 0) throw new ConfigError('RUN_ARGUMENTS_INVALID', `${job.name}: ${problems.join('; ')}`);
}

/** The landing objects holding the quarantined records a replay selects. */
async function quarantinedObjects(run: RunContext, basedOn: LakeRoot, filter: QuarantineFilter): Promise<Set<string>> {
  const engine = await run.lake.createEngine();
  try {
    return (await selectQuarantined(run.lake, engine, basedOn, run.job.name, filter, 'replay_selection')).objects;
  } finally {
    engine.close();
  }
}

/**
 * How much of a landing listing a bookmark lets the store skip: folders unchanged since the band below its
 * watermark hold nothing unread. What the bookmark keeps to try again (see LandingBookmark.retry) may have
 * become readable without its folder changing: the listing then reaches back to the oldest view of them.
 */
function listingHint(bookmark: LandingBookmark | undefined): { modifiedAfterMs?: number } {
  if (!bookmark) return {};
  let from = bookmark.watermarkMs - bookmark.bandMs;
  for (const entry of bookmark.retry ?? []) {
    if (!entry.readUpTo) return {};
    from = Math.min(from, entry.readUpTo.watermarkMs - entry.readUpTo.bandMs);
  }
  return { modifiedAfterMs: from };
}
