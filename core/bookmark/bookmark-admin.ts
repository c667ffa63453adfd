import { ConfigError, MedallionError } from '../errors.ts';
import type { StateStore } from '../state/index.ts';
import { bookmarkDocumentId, bookmarkEntry, type JobBookmarkEntry, type JobBookmarkState } from './job-bookmark.ts';

/** Glue's GetJobBookmark: the job's current bookmark entry (version 0 when it has none). */
export async function getJobBookmark(state: StateStore, jobName: string): Promise<JobBookmarkEntry> {
  const root = await state.readRoot();
  const id = root.bookmarks[jobName];
  return bookmarkEntry(jobName, id ? await state.getDocument<JobBookmarkState>(id) : undefined);
}

/**
 * Glue's ResetJobBookmark: with no run id the job starts over (its next enable run reads everything);
 * with `runId` it rewinds to the bookmark that run committed, so the next run reads what came after it.
 * One root swap, so a reset never interleaves with a commit.
 */
export async function resetJobBookmark(state: StateStore, jobName: string, runId?: string): Promise<JobBookmarkEntry> {
  let target: JobBookmarkState | undefined;
  if (runId !== undefined) {
    try {
      target = await state.getDocument<JobBookmarkState>(bookmarkDocumentId(jobName, runId));
    } catch {
      throw new ConfigError('BOOKMARK_RUN_UNKNOWN', `run ${runId} of job ${jobName} committed no bookmark`, {
        hint: `pick a run id from \`medallion runs ${jobName}\` whose run used job-bookmark-enable`,
      });
    }
  }
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const root = await state.readRoot();
    const bookmarks = { ...root.bookmarks };
    if (target) bookmarks[jobName] = bookmarkDocumentId(jobName, target.runId);
    else delete bookmarks[jobName];
    const next = { ...root, seq: root.seq + 1, committedAt: new Date().toISOString(), runId: null, bookmarks };
    if (await state.swapRoot(next)) return bookmarkEntry(jobName, target);
  }
  throw new MedallionError('COMMIT_CONTENDED', `could not reset the bookmark of ${jobName}: too many concurrent commits`, { hint: 'try again' });
}
