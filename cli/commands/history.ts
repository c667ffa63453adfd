import type { Lake } from '../../core/index.ts';
import type { ResultColumn, ResultRow } from '../../core/engine/index.ts';
import { NotFoundError } from '../../core/errors.ts';
import { tableHistory } from '../../core/table/index.ts';
import type { RestorePlan } from '../../core/runner/index.ts';

/** `medallion history <table>`: every version of the table, newest first. */
export async function historyRows(lake: Lake, table: string, limit: number): Promise<{ columns: ResultColumn[]; rows: ResultRow[] }> {
  const root = await lake.state.readRoot();
  if (!root.tables[table]) {
    throw new NotFoundError('TABLE_UNKNOWN', `the lake has no committed table ${table}`, { hint: '`medallion tables` lists the tables and their versions' });
  }
  const versions = await tableHistory(lake.state, table, { root, limit });
  const rows = versions.map((version) => ({
    version: version.version,
    commit: version.commit,
    committed_at: version.committedAt,
    operation: version.removed ? 'removed by vacuum' : (version.operation ?? '') + (version.restoredFrom === undefined ? '' : ` of version ${version.restoredFrom}`),
    job: version.job ?? '',
    run_id: version.runId,
    rows: version.removed ? null : version.rows,
    files: version.removed ? null : version.files,
    bytes: version.removed ? null : version.bytes,
  }));
  const text = new Set(['committed_at', 'operation', 'job', 'run_id']);
  const columns = ['version', 'commit', 'committed_at', 'operation', 'job', 'run_id', 'rows', 'files', 'bytes'].map((name) => ({ name, type: text.has(name) ? 'VARCHAR' : 'BIGINT' }));
  return { columns, rows };
}

/** What a restore will do (dry run) or did, for a person. */
export function describeRestore(plan: RestorePlan, dryRun: boolean): string {
  const { table, current, target } = plan;
  const lines = [
    `${dryRun ? 'would restore' : 'restored'} ${table} to version ${target.version} (committed ${target.committedAt} by ${target.job ?? 'an earlier run'}, run ${target.runId})` +
      `${dryRun ? '' : ` as version ${plan.newVersion}, commit ${plan.commit}`}`,
    `  now:   version ${current.version}, ${current.rows} rows in ${current.files} files`,
    `  after: version ${plan.newVersion}, ${target.rows} rows in ${target.files} files (${plan.filesAdded} files back, ${plan.filesRemoved} files out)`,
  ];
  if (plan.bookmark) {
    lines.push(plan.bookmark.to === null
      ? `  bookmark of ${plan.bookmark.job}: removed (the run that made version ${target.version} committed none): its next run reads all its input`
      : `  bookmark of ${plan.bookmark.job}: back to run ${plan.bookmark.to}: its next bookmarked run reads again what came after`);
  }
  if (plan.downstream.length > 0) {
    lines.push(`  ${plan.downstream.join(', ')} read ${table}: ${plan.filesRemoved > 0 ? 'their next runs recompute in full from the restored version' : 'their next runs read the restored version'}`);
  }
  lines.push(dryRun ? '  nothing changed (dry run)' : '  the versions in between stay in the history: `medallion history` lists them, and each can be restored in turn');
  return `${lines.join('\n')}\n`;
}
