import { randomUUID } from 'node:crypto';
import { ConfigError, JobBusyError, MedallionError, NotFoundError } from '../errors.ts';
import { jobLockName } from '../job/index.ts';
import type { StateStore } from '../state/index.ts';
import { bookmarkDocumentId, bookmarkEntry, type JobBookmarkEntry, type JobBookmarkState } from './job-bookmark.ts';
import { readBookmark } from '../state/state-documents.ts';

/** Glue's GetJobBookmark: the job's current bookmark entry (version 0 when it has none). */
export async function getJobBookmark(state: StateStore, jobName: string): Promise<JobBookmarkEntry> {
  const root = await state.readRoot();
  const id = root.bookmarks[jobName];
  return bookmarkEntry(jobName, id ? await readBookmark(state, id) : undefined);
}

/**
 * The bookmark run `runId` of the job committed (a pause window's ends, a reset's target). A run that
 * committed none is refused as a usage error; a bookmark that is there but damaged is STATE_CORRUPT.
 */
export async function bookmarkOfRun(state: StateStore, jobName: string, runId: string): Promise<JobBookmarkState> {
  try {
    return await readBookmark(state, bookmarkDocumentId(jobName, runId));
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new ConfigError('BOOKMARK_RUN_UNKNOWN', `run ${runId} of job ${jobName} committed no bookmark`, {
      hint: `pick a run id (in full) from \`medallion runs ${jobName}\` whose run used job-bookmark-enable`,
    });
  }
}

/** How long a reset holds the job's lock at most (it takes a few state-store calls). */
const RESET_LEASE_MS = 60_000;

/**
 * Glue's ResetJobBookmark: with no run id the job starts over (its next enable run reads everything);
 * with `runId` it rewinds to the bookmark that run committed, so the next run reads what came after it.
 * One root swap, made while holding the job's lock and fenced by it: a reset is refused while a run of the
 * job is going (whose commit would put its own bookmark back), and never interleaves with one.
 */
export async function resetJobBookmark(state: StateStore, jobName: string, runId?: string): Promise<JobBookmarkEntry> {
  const target = runId === undefined ? undefined : await bookmarkOfRun(state, jobName, runId);
  const lease = await state.acquireLock(jobLockName(jobName), `bookmark-reset-${randomUUID()}`, RESET_LEASE_MS, Date.now());
  if (!lease) {
    const holder = await state.readLock(jobLockName(jobName));
    throw new JobBusyError(jobName, holder?.owner ?? 'another run', holder ? new Date(holder.expiresAtMs).toISOString() : 'soon');
  }
  try {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const root = await state.readRoot();
      const bookmarks = { ...root.bookmarks };
      if (target) bookmarks[jobName] = bookmarkDocumentId(jobName, target.runId);
      else delete bookmarks[jobName];
      const next = { ...root, seq: root.seq + 1, committedAt: new Date().toISOString(), runId: null, bookmarks, commitId: lease.owner };
      if (await state.swapRoot(next, lease)) return bookmarkEntry(jobName, target);
    }
  } finally {
    await state.releaseLock(lease).catch(() => undefined);
  }
  throw new MedallionError('COMMIT_CONTENDED', `could not reset the bookmark of ${jobName}: too many concurrent commits`, { hint: 'try again' });
}
