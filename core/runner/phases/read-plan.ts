import { selectBetween, selectUnreadObjects, type JobBookmarkState } from '../../bookmark/index.ts';
import type { BookmarkOption } from '../../job/index.ts';
import type { LakeRoot } from '../../state/index.ts';
import type { ObjectInfo } from '../../storage/index.ts';
import { bookmarkOfRun, landingBookmarkOf } from '../run-inputs.ts';
import type { RunContext } from './run-context.ts';

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
}

/**
 * Decides what the run reads: table sources a bookmarked run reads only when they moved since its bookmark
 * (and then all of them), landing objects past the bookmark (or, for a pause window, between two runs'
 * bookmarks). A run without a bookmark yet reads everything, and commits even if that is nothing.
 */
export async function planReads(run: RunContext): Promise<ReadPlan> {
  const { lake, job, options } = run;
  const basedOn = await lake.state.readRoot();
  const option = options.bookmark?.option ?? 'job-bookmark-disable';
  const committedBookmark = basedOn.bookmarks[job.name];
  const current = committedBookmark ? await lake.state.getDocument<JobBookmarkState>(committedBookmark) : undefined;
  const window = option === 'job-bookmark-pause' && options.bookmark?.from !== undefined
    ? { from: await bookmarkOfRun(lake, job.name, options.bookmark.from), to: await bookmarkOfRun(lake, job.name, options.bookmark.to ?? '') }
    : undefined;
  const since = option === 'job-bookmark-disable' ? undefined : current;

  const tableVersions: Record<string, number> = {};
  let anythingNew = option === 'job-bookmark-disable' || since === undefined;
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'table') continue;
    tableVersions[name] = basedOn.tables[source.table]?.version ?? 0;
    const seen = since?.sources[name];
    if (!(seen?.kind === 'table' && seen.version === tableVersions[name])) anythingNew = true;
  }

  const landingObjects = new Map<string, ObjectInfo[]>();
  let readsSubset = false;
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'landing') continue;
    // Objects at or below the bookmark's band count as read: the listing may leave them out.
    const readUpTo = window ? landingBookmarkOf(window.from, name) : landingBookmarkOf(since, name);
    if (readUpTo) readsSubset = true;
    const objects: ObjectInfo[] = [];
    const listing = lake.storage.list(source.prefix, readUpTo ? { modifiedAfterMs: readUpTo.watermarkMs - readUpTo.bandMs } : {});
    for await (const object of listing) objects.push(object);
    const selected = window
      ? selectBetween(objects, landingBookmarkOf(window.from, name), landingBookmarkOf(window.to, name))
      : selectUnreadObjects(objects, landingBookmarkOf(since, name));
    if (selected.length < objects.length) readsSubset = true;
    if (selected.length > 0) anythingNew = true;
    landingObjects.set(name, selected);
  }
  return {
    basedOn, option, tableVersions, landingObjects, readsSubset, anythingNew,
    ...(current ? { current } : {}),
    ...(since ? { since } : {}),
  };
}
