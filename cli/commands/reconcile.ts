import type { Lake } from '../../core/index.ts';
import type { ResultColumn, ResultRow } from '../../core/engine/index.ts';
import { MedallionError } from '../../core/errors.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import type { CliIo } from '../io.ts';

/** What `medallion reconcile` emits, under JobName=reconcile: records (or checks) that do not add up; 0 when all do. */
export const RECONCILE_METRIC = 'medallion.reconcile.differences';
export const RECONCILE_JOB = 'reconcile';

const CHECK_COLUMNS: readonly ResultColumn[] = [
  { name: 'source', type: 'VARCHAR' },
  { name: 'stage', type: 'VARCHAR' },
  { name: 'run_id', type: 'VARCHAR' },
  { name: 'input', type: 'BIGINT' },
  { name: 'written', type: 'BIGINT' },
  { name: 'quarantined', type: 'BIGINT' },
  { name: 'duplicates', type: 'BIGINT' },
  { name: 'balanced', type: 'BOOLEAN' },
];
const DIFFERENCE_COLUMNS: readonly ResultColumn[] = [
  { name: 'source', type: 'VARCHAR' },
  { name: 'stage', type: 'VARCHAR' },
  { name: 'source_object', type: 'VARCHAR' },
  { name: 'record_index', type: 'BIGINT' },
  { name: 'problem', type: 'VARCHAR' },
];

/**
 * `medallion reconcile`: per source and per bronze run, landing records = bronze rows + quarantined and
 * bronze rows = effective silver events + duplicates + quarantined; then every record that does not add up.
 * Exit 1 when anything does not.
 */
export async function reconcileCommand(
  lake: Lake,
  options: { limit: number; write: (columns: readonly ResultColumn[], rows: readonly ResultRow[]) => Promise<void> },
  io: CliIo,
): Promise<void> {
  const report = await reconcileLake(lake, { limit: options.limit });
  // The pipeline's reconcile step: the records that do not add up, for the reconcile-failed alarm.
  const unbalanced = report.checks.filter((check) => !check.balanced).length;
  await lake.metrics.emit([
    { name: RECONCILE_METRIC, value: Math.max(report.differences.length, unbalanced), unit: 'Count', dimensions: { JobName: RECONCILE_JOB }, timestampMs: Date.now() },
  ]).catch((error: unknown) => io.err(`warning: the reconcile metric could not be emitted: ${(error as Error).message}\n`));
  await options.write(
    CHECK_COLUMNS,
    report.checks.map((check) => ({
      source: check.source, stage: check.stage, run_id: check.runId, input: check.input, written: check.written,
      quarantined: check.quarantined, duplicates: check.duplicates, balanced: check.balanced,
    })),
  );
  if (report.pendingObjects > 0) io.err(`${report.pendingObjects} landing object${report.pendingObjects === 1 ? '' : 's'} not read by a bronze run yet (left out)\n`);
  if (report.pendingBronzeRows > 0) io.err(`${report.pendingBronzeRows} bronze row${report.pendingBronzeRows === 1 ? '' : 's'} not read by a silver run yet (left out)\n`);
  for (const entry of report.unreadable) {
    io.err(`cannot read landing ${entry.key.endsWith('/') ? 'folder' : 'object'} ${entry.key} (${entry.error}): not counted; bronze sets it aside and reads it once it can\n`);
  }
  if (report.differences.length === 0 && report.checks.every((check) => check.balanced)) {
    const readable = report.unreadable.length > 0 ? ' (but the unreadable ones above)' : '';
    io.err(`every landing record${readable} is accounted for exactly once, in bronze and in silver\n`);
    return;
  }
  await options.write(
    DIFFERENCE_COLUMNS,
    report.differences.map((entry) => ({ source: entry.source, stage: entry.stage, source_object: entry.sourceObject, record_index: entry.recordIndex, problem: entry.problem })),
  );
  throw new MedallionError('RECONCILIATION_FAILED', `${report.differences.length}${report.differences.length >= options.limit ? '+' : ''} records do not add up (listed above)`, {
    hint: 'each names its landing object and record; runbooks/reconcile-failed.md says how to put them right',
  });
}
