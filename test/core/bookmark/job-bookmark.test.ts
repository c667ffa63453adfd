import { describe, expect, it } from 'vitest';
import { advanceLandingBookmark, bookmarkEntry, selectBetween, selectUnreadObjects } from '../../../core/bookmark/index.ts';
import type { ObjectInfo } from '../../../core/storage/index.ts';

const MINUTE = 60_000;
const object = (key: string, lastModifiedMs: number): ObjectInfo => ({ key, lastModifiedMs, sizeBytes: 1 });
const keys = (objects: readonly ObjectInfo[]) => objects.map((item) => item.key);

describe('landing bookmarks', () => {
  const band = 15 * MINUTE;
  const t0 = 1_800_000_000_000;
  const first = [object('a', t0), object('b', t0 + MINUTE), object('c', t0 + 2 * MINUTE)];
  // When the runs start: after every object these tests land, unless a test says otherwise.
  const now = t0 + 120 * MINUTE;

  it('reads everything without a bookmark, then nothing until something new lands', () => {
    expect(keys(selectUnreadObjects(first, undefined))).toEqual(['a', 'b', 'c']);
    const bookmark = advanceLandingBookmark(undefined, first, band, now);
    expect(bookmark.watermarkMs).toBe(t0 + 2 * MINUTE);
    expect(selectUnreadObjects(first, bookmark)).toEqual([]);
    const later = [...first, object('d', t0 + 3 * MINUTE)];
    expect(keys(selectUnreadObjects(later, bookmark))).toEqual(['d']);
  });

  it('reads once an object that lands late with a modified time inside the band', () => {
    const bookmark = advanceLandingBookmark(undefined, first, band, now);
    const late = object('late', t0 + MINUTE / 2);
    const next = selectUnreadObjects([...first, late], bookmark);
    expect(keys(next)).toEqual(['late']);
    const after = advanceLandingBookmark(bookmark, next, band, now);
    expect(selectUnreadObjects([...first, late], after)).toEqual([]);
  });

  it('counts an object older than the band as read, and forgets keys that fall out of the band', () => {
    const bookmark = advanceLandingBookmark(undefined, first, band, now);
    const ancient = object('ancient', t0 - 20 * MINUTE);
    expect(selectUnreadObjects([...first, ancient], bookmark)).toEqual([]);
    const muchLater = advanceLandingBookmark(bookmark, [object('z', t0 + 60 * MINUTE)], band, now);
    expect(muchLater.recent.map((entry) => entry.key)).toEqual(['z']);
  });

  it('keeps objects with the same modified time apart by key', () => {
    const sameTime = [object('k1', t0), object('k2', t0)];
    const bookmark = advanceLandingBookmark(undefined, [sameTime[0] as ObjectInfo], band, now);
    expect(keys(selectUnreadObjects(sameTime, bookmark))).toEqual(['k2']);
  });

  it('never lets an object modified in the future move the watermark: it is read once, and later objects still are', () => {
    // An object touched with a clock in 2100, read by a run at `now`.
    const future = object('touched', Date.UTC(2100, 0, 1));
    const bookmark = advanceLandingBookmark(undefined, [...first, future], band, now);
    expect(bookmark.watermarkMs).toBe(t0 + 2 * MINUTE);
    expect(bookmark.ahead).toEqual([{ key: 'touched', lastModifiedMs: future.lastModifiedMs }]);
    expect(selectUnreadObjects([...first, future], bookmark)).toEqual([]);
    const later = object('d', t0 + 130 * MINUTE);
    expect(keys(selectUnreadObjects([...first, future, later], bookmark))).toEqual(['d']);
    const next = advanceLandingBookmark(bookmark, [later], band, now + 20 * MINUTE);
    expect(next.watermarkMs).toBe(later.lastModifiedMs);
    // Rewritten with a new modified time, it is new again.
    expect(keys(selectUnreadObjects([...first, future, later, object('touched', Date.UTC(2100, 0, 2))], next))).toEqual(['touched']);
    // A little drift (under the skew) moves the watermark as usual.
    const drift = object('drift', now + 10 * MINUTE);
    expect(advanceLandingBookmark(undefined, [drift], band, now).watermarkMs).toBe(drift.lastModifiedMs);
  });

  it('moves an object read ahead of the watermark into the band once the watermark passes it, so it is never read twice', () => {
    const soon = object('soon', now + 60 * MINUTE);
    const bookmark = advanceLandingBookmark(undefined, [...first, soon], band, now);
    expect(bookmark.ahead?.map((entry) => entry.key)).toEqual(['soon']);
    const passing = object('e', now + 61 * MINUTE);
    const next = advanceLandingBookmark(bookmark, [passing], band, now + 70 * MINUTE);
    expect(next.ahead).toBeUndefined();
    expect(next.recent.map((entry) => entry.key)).toEqual(['soon', 'e']);
    expect(selectUnreadObjects([...first, soon, passing], next)).toEqual([]);
  });

  it('selects between two bookmarks exactly what the runs after the first read', () => {
    const b1 = advanceLandingBookmark(undefined, first, band, now);
    const second = [object('d', t0 + 5 * MINUTE), object('e', t0 + 6 * MINUTE)];
    const b2 = advanceLandingBookmark(b1, second, band, now);
    const all = [...first, ...second, object('f', t0 + 7 * MINUTE)];
    expect(keys(selectBetween(all, b1, b2))).toEqual(['d', 'e']);
    expect(keys(selectBetween(all, undefined, b1))).toEqual(['a', 'b', 'c']);
  });
});

describe('bookmarkEntry', () => {
  it("is Glue's JobBookmarkEntry, version 0 for a job that has none", () => {
    expect(bookmarkEntry('silver.tasks', undefined)).toEqual({ JobName: 'silver.tasks', Version: 0, Run: 0, Attempt: 0, JobBookmark: '{}' });
    const entry = bookmarkEntry('silver.tasks', {
      jobName: 'silver.tasks', version: 3, run: 3, attempt: 1, runId: 'jr_3', previousRunId: 'jr_2', committedAt: '2025-11-01T00:00:00.000Z',
      sources: { bronze: { kind: 'table', table: 'bronze.tasks_cdc', version: 7 } },
    });
    expect(entry).toEqual({ JobName: 'silver.tasks', Version: 3, Run: 3, Attempt: 1, PreviousRunId: 'jr_2', RunId: 'jr_3', JobBookmark: '{"bronze":{"kind":"table","table":"bronze.tasks_cdc","version":7}}' });
  });
});

describe('landing bookmarks: what a run could not read', () => {
  const at = (key: string, lastModifiedMs: number): ObjectInfo => ({ key, sizeBytes: 1, lastModifiedMs });
  const NOW = 1_000_000;
  const BAND = 10;
  const o1 = at('a/o1', 100);
  const x = at('F/x', 200);
  const y = at('F/y', NOW + 10 * 60 * 60_000); // modified in the future: read once, kept in `ahead`
  const o2 = at('z/o2', 300);
  const unread = (bookmark: Parameters<typeof selectUnreadObjects>[1], objects: readonly ObjectInfo[]) => selectUnreadObjects(objects, bookmark).map((object) => object.key);
  const failed = (key: string) => ({ key, error: 'EACCES: permission denied' });

  it('an object that stays unreadable once its folder reads again is still unread, whatever the watermark did', () => {
    const b0 = advanceLandingBookmark(undefined, [o1], BAND, NOW);
    const b1 = advanceLandingBookmark(b0, [o2], BAND, NOW, [failed('F/')]); // the folder cannot be listed
    expect(unread(b1, [o1, x, o2])).toEqual(['F/x']);
    const b2 = advanceLandingBookmark(b1, [], BAND, NOW, [failed('F/x')]); // the folder reads, its file does not
    expect(b2.watermarkMs).toBe(300);
    expect(unread(b2, [o1, x, o2])).toEqual(['F/x']);
    const b3 = advanceLandingBookmark(b2, [x], BAND, NOW);
    expect(b3.retry).toBeUndefined();
    expect(unread(b3, [o1, x, o2])).toEqual([]);
  });

  it('an object read before its folder became unreadable is not read again, future-dated ones included', () => {
    const b0 = advanceLandingBookmark(undefined, [o1, x, y], BAND, NOW);
    expect(unread(b0, [o1, x, y])).toEqual([]);
    const b1 = advanceLandingBookmark(b0, [o2], BAND, NOW, [failed('F/')]);
    expect(unread(b1, [o1, x, y, o2])).toEqual([]);
  });

  it('an unreadable object inside a folder that then becomes unreadable is kept, and read once both read', () => {
    const b0 = advanceLandingBookmark(undefined, [o1], BAND, NOW);
    const b1 = advanceLandingBookmark(b0, [o2], BAND, NOW, [failed('F/x')]);
    const b2 = advanceLandingBookmark(b1, [], BAND, NOW, [failed('F/')]);
    expect(b2.retry?.map((entry) => entry.key).sort()).toEqual(['F/', 'F/x']);
    expect(unread(b2, [o1, x, o2])).toEqual(['F/x']);
  });

  it('a link that was a folder is judged as the folder was', () => {
    const b0 = advanceLandingBookmark(undefined, [o1, x], BAND, NOW);
    const b1 = advanceLandingBookmark(b0, [o2], BAND, NOW, [failed('F')]); // a dangling link named F
    const late = at('F/late', 250);
    expect(unread(b1, [o1, x, late, o2])).toEqual(['F/late']);
  });
});
