import { quoteIdentifier } from '../../engine/index.ts';
import {
  QualityGate, QualityGateError, gateFailures, qualityMetrics, qualityResultsSql, stagedDataset, type QualityEvaluation,
} from '../../quality/index.ts';
import type { QualityDataset } from '../../quality/index.ts';
import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, commitTables, copyToStaging, persistStage, type OutputStage, type TableWrite } from '../../table/index.ts';
import { quoteLiteral } from '../../engine/index.ts';
import { rejectedRowsStagingPrefix } from '../../layout/index.ts';
import type { StagingArea } from '../../storage/index.ts';
import { attachTableInput } from '../run-inputs.ts';
import { inSessions, OUTPUTS_AT_ONCE } from './sessions.ts';
import { checkRulePlacement } from '../rule-placement.ts';
import type { ReadCounts } from './open-inputs.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';
import type { RunStaging } from './run-staging.ts';

/** The quality gate of a run whose outputs have rule sets (undefined when none has). */
export function openGate(run: RunContext, reads: ReadPlan): QualityGate | undefined {
  const { lake, job, options, engine } = run;
  const ruleSets = options.quality;
  if (!ruleSets || !job.outputs.some((output) => ruleSets.has(output.name))) return undefined;
  checkRulePlacement([job], ruleSets);
  const { basedOn } = reads;
  return new QualityGate(engine, ruleSets, {
    job: job.name,
    now: run.startedAt,
    attachHistory: async () => {
      if (!basedOn.tables[QUALITY_RESULTS_TABLE.name]) return undefined;
      const loaded = await attachTableInput(lake, engine, basedOn, 'quality_history', QUALITY_RESULTS_TABLE.name);
      run.defer(loaded.release);
      return quoteIdentifier('input_quality_history');
    },
    committedTable: async (table) => {
      if (!basedOn.tables[table]) return undefined;
      const name = `reference_${table.replace('.', '_')}`;
      const loaded = await attachTableInput(lake, engine, basedOn, name, table);
      run.defer(loaded.release);
      const { rows } = await engine.query(`DESCRIBE ${quoteIdentifier(`input_${name}`)}`);
      return { relation: quoteIdentifier(`input_${name}`), columns: rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) })) };
    },
  });
}

/**
 * Every output's rules over the rows staged for it, before anything is stored or committed; the
 * evaluations are staged for quality.results. When a `fail` rule did not pass, the run commits only
 * those results (history and the operator need them) and throws QualityGateError.
 */
export async function gateOutputs(
  run: RunContext,
  gate: QualityGate,
  reads: ReadPlan,
  staging: RunStaging,
  totals: { readonly counts: ReadCounts; readonly recordsDuplicated: number; readonly incremental: boolean },
): Promise<QualityEvaluation[]> {
  const { lake, job, runId, startedAt, now, engine } = run;
  const copied = (stage: OutputStage) => stage.copies.reduce((sum, row) => sum + Number(row.count ?? 0), 0);
  const staged = new Map<string, QualityDataset>(staging.outputs.map((stage) => [stage.spec.name, stagedDataset(stage.spec, stage.copies)]));
  const checked = staging.outputs.filter((stage) => gate.ruleSetOf(stage.spec.name));
  // Like the outputs: an incremental run's tables are checked side by side, a full run's one at a time.
  const perTable = await inSessions(engine, checked, totals.incremental ? OUTPUTS_AT_ONCE : 1, (stage, session) => {
    run.checkpoint();
    const counters = {
      recordsRead: totals.counts.recordsRead,
      recordsWritten: copied(stage),
      recordsQuarantined: copied(staging.quarantine),
      recordsDuplicated: totals.recordsDuplicated,
    };
    return gate.evaluate(stage.spec, staged.get(stage.spec.name) as QualityDataset, counters, staged, session);
  });
  const evaluations = perTable.flat();
  if (evaluations.length === 0) return evaluations;

  const results = await staging.openQuality(run);
  results.copies.push(...(await copyToStaging(engine, results, qualityResultsSql(evaluations, { runId, job: job.name, scope: 'run', at: startedAt }), '')));
  const failures = gateFailures(evaluations);
  if (failures.length > 0) {
    const partitions = await persistStage(results);
    const writes: TableWrite[] = [{ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions }];
    // The rows the fail rules refused, with the results: the only place they are kept (QUALITY_REJECTED_TABLE).
    const refused = failures.filter((failure) => failure.rejectedRowsSql !== undefined);
    let rejected: StagingArea | undefined;
    if (refused.length > 0) {
      rejected = await lake.storage.createStagingArea(rejectedRowsStagingPrefix(job.name, runId));
      const stage: OutputStage = { spec: QUALITY_REJECTED_TABLE, area: rejected, copies: [] };
      const at = `make_timestamp(${startedAt.getTime() * 1000}::BIGINT)`;
      const sql = refused.map((failure) => `SELECT ${quoteLiteral(runId)} AS run_id, table_name, rule, source_object, record_index, row, ${at} AS evaluated_at, ${quoteLiteral(job.name)} AS job FROM (${failure.rejectedRowsSql})`).join(' UNION ALL ');
      stage.copies.push(...(await copyToStaging(engine, stage, sql, '')));
      writes.push({ spec: QUALITY_REJECTED_TABLE, kind: 'append', partitions: await persistStage(stage) });
    }
    const { fence } = run.options;
    try {
      await commitTables(lake.state, { runId, job: job.name, basedOn: reads.basedOn, writes, now, bookmarks: {}, ...(fence ? { fence } : {}) });
    } catch (error) {
      await rejected?.dispose({ discardStored: true }).catch(() => undefined);
      throw error;
    }
    await rejected?.dispose().catch(() => undefined);
    staging.markQualityCommitted();
    await lake.metrics.emit(qualityMetrics(evaluations, { job: job.name, runId, at: now().getTime() })).catch(() => undefined);
    throw new QualityGateError(job.name, failures);
  }
  return evaluations;
}
