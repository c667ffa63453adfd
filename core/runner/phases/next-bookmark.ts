import { DEFAULT_BAND_MS, MODIFIED_TIME_SKEW_MS, advanceLandingBookmark, bookmarkDocumentId, type JobBookmarkState, type SourceBookmark } from '../../bookmark/index.ts';
import type { TableRef } from '../../state/index.ts';
import { landingBookmarkOf } from '../run-inputs.ts';
import type { ReadPlan } from './read-plan.ts';
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
export async function nextBookmark(run: RunContext, reads: ReadPlan): Promise<NextBookmark> {
  const { lake, job, runId, options } = run;
  if (reads.option !== 'job-bookmark-enable') return { bookmarks: {} };
  const { basedOn, current } = reads;
  const sources: Record<string, SourceBookmark> = {};
  const ceiling = run.startedAt.getTime() + MODIFIED_TIME_SKEW_MS;
  const warnings = [...reads.landingObjects.values()].flat().filter((object) => object.lastModifiedMs > ceiling).map(
    (object) => `landing object ${object.key} was modified in the future (${new Date(object.lastModifiedMs).toISOString()}): read once; it does not move the bookmark past the run's start`,
  );
  for (const [name, source] of Object.entries(job.sources)) {
    sources[name] = source.kind === 'table'
      ? {
          kind: 'table',
          table: source.table,
          version: reads.tableVersions[name] ?? 0,
          ...(basedOn.tables[source.table] ? { manifest: (basedOn.tables[source.table] as TableRef).manifest } : {}),
        }
      : advanceLandingBookmark(landingBookmarkOf(current, name), reads.landingObjects.get(name) ?? [], source.bandMs ?? DEFAULT_BAND_MS, run.startedAt.getTime());
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
