import type { JobBookmarkEntry, SourceBookmark } from '../../core/bookmark/index.ts';

/**
 * A job's bookmark in a few lines: which run committed it and, per source, how far the job has read (a landing
 * source's watermark and the objects it remembers around it; a table source's version). `--format json` has the raw
 * JobBookmarkEntry, whose JobBookmark can be hundreds of kilobytes of object keys.
 */
export function describeBookmark(entry: JobBookmarkEntry): string {
  if (!entry.RunId) return `${entry.JobName}: no bookmark; its next job-bookmark-enable run reads everything\n`;
  const lines = [`${entry.JobName}: bookmark version ${entry.Version}, committed by run ${entry.RunId} (run ${entry.Run}, attempt ${entry.Attempt})`];
  const sources = (JSON.parse(entry.JobBookmark || '{}') ?? {}) as Record<string, SourceBookmark>;
  for (const [name, source] of Object.entries(sources)) {
    if (source.kind === 'table') {
      lines.push(`  ${name}: table ${source.table}, read up to its version ${source.version}`);
      continue;
    }
    const at = (ms: number) => new Date(Math.floor(ms)).toISOString();
    const parts = [
      `objects modified up to ${at(source.watermarkMs)} read`,
      `${source.recent.length} recent object${source.recent.length === 1 ? '' : 's'} remembered by key (${Math.round(source.bandMs / 60_000)} min band)`,
      ...((source.ahead?.length ?? 0) > 0 ? [`${source.ahead!.length} modified in the future, read once`] : []),
      ...((source.retry?.length ?? 0) > 0 ? [`${source.retry!.length} unreadable, tried again every run: ${source.retry!.slice(0, 3).map((retry) => retry.key).join(', ')}${source.retry!.length > 3 ? ', ...' : ''}`] : []),
    ];
    lines.push(`  ${name}: landing, ${parts.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
