import { DEFAULT_BAND_MS, MODIFIED_TIME_SKEW_MS, advanceLandingBookmark, bookmarkDocumentId, type JobBookmarkState, type SourceBookmark } from '../../bookmark/index.ts';
import type { TableRef } from '../../state/index.ts';
import { landingBookmarkOf } from '../run-inputs.ts';
import type { ReadPlan, UnreadableEntry } from './read-plan.ts';
import type { RunContext } from './run-context.ts';

/** The bookmark a run commits with its outputs (only with job-bookmark-enable), stored as a document first. */
export interface NextBookmark {
  /** Bookmark document ids by job, for the commit. */
  readonly bookmarks: Readonly<Record<string, string>>;
  readonly version?: number;
  /** Landing objects read whose modified time is in the future: read once, kept from moving the watermark. */
  readonly warnings?: readonly string[];
}

/**
 * With job-bookmark-enable, stores the bookmark this run commits: each table source at the version the
 * run read, each landing source advanced past the objects it read; Glue's run, attempt and previous run.
 */
export async function nextBookmark(run: RunContext, reads: ReadPlan, setAside: readonly UnreadableEntry[] = []): Promise<NextBookmark> {
  const { lake, job, runId, options } = run;
  if (reads.option !== 'job-bookmark-enable') return { bookmarks: {} };
  const { basedOn, current } = reads;
  const sources: Record<string, SourceBookmark> = {};
  const ceiling = run.startedAt.getTime() + MODIFIED_TIME_SKEW_MS;
  const warnings = [...reads.landingObjects.values()].flat().filter((object) => object.lastModifiedMs > ceiling).map(
    (object) => `landing object ${object.key} was modified in the future (${new Date(object.lastModifiedMs).toISOString()}): read once; it does not move the bookmark past the run's start`,
  );
  // What could not be read is not read: the bookmark keeps it to try again.
  const unreadable = [...reads.unreadable, ...setAside];
  const landingBookmark = (name: string, bandMs: number) => {
    const mine = unreadable.filter((entry) => entry.source === name);
    const skipped = new Set(mine.map((entry) => entry.key));
    const read = (reads.landingObjects.get(name) ?? []).filter((object) => !skipped.has(object.key));
    // From what the run read past (the committed bookmark; none for a full refresh, which read everything).
    return advanceLandingBookmark(landingBookmarkOf(reads.since, name), read, bandMs, run.startedAt.getTime(), mine);
  };
  for (const [name, source] of Object.entries(job.sources)) {
    sources[name] = source.kind === 'table'
      ? {
          kind: 'table',
          table: source.table,
          version: reads.tableVersions[name] ?? 0,
          ...(basedOn.tables[source.table] ? { manifest: (basedOn.tables[source.table] as TableRef).manifest } : {}),
        }
      : landingBookmark(name, source.bandMs ?? DEFAULT_BAND_MS);
  }
  const previousRunId = options.bookmark?.previousRunId ?? current?.runId;
  const next: JobBookmarkState = {
    jobName: job.name,
    version: (current?.version ?? 0) + 1,
    run: (current?.run ?? 0) + 1,
    attempt: options.bookmark?.attempt ?? 0,
    runId,
    ...(previousRunId === undefined ? {} : { previousRunId }),
    committedAt: run.now().toISOString(),
    sources,
  };
  await lake.state.putDocument(bookmarkDocumentId(job.name, runId), next);
  return { bookmarks: { [job.name]: bookmarkDocumentId(job.name, runId) }, version: next.version, ...(warnings.length > 0 ? { warnings } : {}) };
}
