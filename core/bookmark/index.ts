export {
  DEFAULT_BAND_MS, MODIFIED_TIME_SKEW_MS, advanceLandingBookmark, bookmarkDocumentId, bookmarkEntry, selectBetween, selectUnreadObjects,
  type JobBookmarkEntry, type JobBookmarkState, type RetryEntry, type LandingBookmark, type SourceBookmark, type TableBookmark,
} from './job-bookmark.ts';
export { getJobBookmark, resetJobBookmark } from './bookmark-admin.ts';
