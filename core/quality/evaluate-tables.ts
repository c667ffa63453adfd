import { quoteIdentifier, quoteLiteral, type Engine } from '../engine/index.ts';
import { tableRelation } from '../catalog/index.ts';
import type { Lake } from '../lake.ts';
import { newRunId } from '../job/index.ts';
import { landingPrefixOf, qualityStagingPrefix, QUALITY_JOB } from '../layout/index.ts';
import type { LakeRoot } from '../state/index.ts';
import { QUALITY_RESULTS_TABLE, commitTables, copyToStaging, persistStage, type OutputStage, type TableManifest } from '../table/index.ts';
import type { Rule } from './dqdl/index.ts';
import { printRule } from './dqdl/printer.ts';
import { evaluateRuleset, type QualityDataset } from './evaluator/index.ts';
import { analyzerEvaluations, evaluationOf, metricHistory, qualityMetrics, qualityResultsSql, type QualityEvaluation } from './quality-gate.ts';
import type { QualityRule, TableRuleSet } from './rule-sets.ts';
import { readManifest } from '../state/state-documents.ts';
import { listLanding } from '../landing/index.ts';


/** The columns of a landing source's dataset: one row per object under landing/<source>/. */
export const LANDING_OBJECT_COLUMNS = [
  { name: 'key', type: 'VARCHAR' },
  { name: 'last_modified', type: 'TIMESTAMP' },
  { name: 'size_bytes', type: 'BIGINT' },
] as const;

export interface QualityCheck {
  readonly runId: string;
  readonly evaluatedAt: string;
  readonly evaluations: readonly QualityEvaluation[];
  /** Rules left out because they need a job run (they read the `run` dataset). */
  readonly skipped: readonly { readonly table: string; readonly rule: string; readonly line: number }[];
  /** `fail` rules that did not pass. */
  readonly failures: readonly QualityEvaluation[];
  /** The root sequence that holds the results, when they were recorded. */
  readonly commitSeq?: number;
}

/**
 * Evaluates rule sets over what the lake has committed (tables) and landed (landing sources), as the
 * pipeline's quality step does after the jobs: freshness of landing, and every table's rules over the
 * whole table. Results go to quality.results (scope `table`, job `quality`) unless `record` is false, and
 * Glue Data Quality's metrics to the lake's metrics sink. Rules that read the `run` dataset only make sense
 * in a job run and are skipped here.
 */
export async function evaluateLakeQuality(
  lake: Lake,
  ruleSets: readonly TableRuleSet[],
  options: { now?: Date; record?: boolean; runId?: string } = {},
): Promise<QualityCheck> {
  const now = options.now ?? new Date();
  const runId = options.runId ?? newRunId(now);
  const root = await lake.state.readRoot();
  const engine = await lake.createEngine();
  const releases: (() => Promise<void>)[] = [];
  let stage: OutputStage | undefined;
  let committed = false;
  try {
    const datasets = new Map<string, QualityDataset | undefined>();
    const dataset = async (table: string): Promise<QualityDataset | undefined> => {
      if (!datasets.has(table)) datasets.set(table, await attachDataset(lake, engine, root, table, releases));
      return datasets.get(table);
    };
    let history: string | undefined | null = null;
    const historyOf = async (table: string, metric: string) => {
      if (history === null) history = (await dataset(QUALITY_RESULTS_TABLE.name))?.relation;
      return history === undefined ? [] : metricHistory(engine, history, table, 'table', metric);
    };

    const evaluations: QualityEvaluation[] = [];
    const skipped: { table: string; rule: string; line: number }[] = [];
    for (const set of ruleSets) {
      const rules = set.rules.filter((entry) => {
        if (!readsRunDataset(entry.rule)) return true;
        skipped.push({ table: set.table, rule: ruleText(entry), line: entry.line });
        return false;
      });
      const primary = await dataset(set.table);
      if (!primary) {
        for (const entry of rules) {
          evaluations.push({
            table: set.table, ruleset: set.source, rule: ruleText(entry), ruleType: entry.rule.kind === 'rule' ? entry.rule.type : 'Composite',
            action: entry.action, outcome: 'ERROR', metric: null, value: null, threshold: null,
            message: `${set.table} has no committed version yet`, rowsQuarantined: 0, line: entry.line,
          });
        }
        continue;
      }
      const references: Record<string, QualityDataset> = {};
      for (const [alias, table] of Object.entries(set.references)) {
        const reference = await dataset(table);
        if (reference) references[alias] = reference;
      }
      const result = await evaluateRuleset(
        { ...set.ruleset, rules: rules.map((entry) => entry.rule) },
        { engine, primary, references, now, history: (metric) => historyOf(set.table, metric) },
      );
      result.results.forEach((ruleResult, index) => evaluations.push(evaluationOf(set, rules[index] as QualityRule, ruleResult, 0)));
      evaluations.push(...analyzerEvaluations(set, result.analyzers));
    }
    const failures = evaluations.filter((evaluation) => evaluation.action === 'fail' && evaluation.outcome !== 'PASS');
    let commitSeq: number | undefined;
    if (options.record !== false && evaluations.length > 0) {
      stage = { spec: QUALITY_RESULTS_TABLE, area: await lake.storage.createStagingArea(qualityStagingPrefix(QUALITY_JOB, runId)), copies: [] };
      stage.copies.push(...(await copyToStaging(engine, stage, qualityResultsSql(evaluations, { runId, job: QUALITY_JOB, scope: 'table', at: now }), '')));
      const partitions = await persistStage(stage);
      const { root: committedRoot } = await commitTables(lake.state, {
        runId, job: 'quality', basedOn: root, writes: [{ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions }], now: () => new Date(), bookmarks: {},
      });
      committed = true;
      commitSeq = committedRoot.seq;
      await lake.catalog.publish(committedRoot, { tables: [QUALITY_RESULTS_TABLE.name], jobs: [QUALITY_JOB] });
      await lake.metrics.emit(qualityMetrics(evaluations, { job: QUALITY_JOB, runId, at: now.getTime() }));
    }
    return { runId, evaluatedAt: now.toISOString(), evaluations, skipped, failures, ...(commitSeq === undefined ? {} : { commitSeq }) };
  } finally {
    await Promise.allSettled(releases.map((release) => release()));
    if (stage) await stage.area.dispose({ discardStored: !committed }).catch(() => undefined);
    engine.close();
  }
}

function ruleText(entry: QualityRule): string {
  return printRule(entry.rule);
}

/** Whether a rule (or an operand of it) is CustomSql over the `run` dataset, which only a job run has. */
export function readsRunDataset(rule: Rule): boolean {
  if (rule.kind === 'composite') return rule.operands.some(readsRunDataset);
  return rule.type === 'CustomSql' && /\b(from|join)\s+run\b/i.test(rule.parameters[0] ?? '');
}

/** A committed table, or a landing source's object listing, as a dataset; undefined when there is none. */
async function attachDataset(lake: Lake, engine: Engine, root: LakeRoot, table: string, releases: (() => Promise<void>)[]): Promise<QualityDataset | undefined> {
  const view = quoteIdentifier(`dataset_${table.replace('.', '_')}`);
  if (table.startsWith('landing.')) {
    const columns = LANDING_OBJECT_COLUMNS.map((column) => `${column.name} ${column.type}`).join(', ');
    await engine.run(`CREATE OR REPLACE TEMP TABLE ${view} (${columns})`);
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await engine.run(`INSERT INTO ${view} VALUES ${batch.join(', ')}`);
      batch = [];
    };
    // A folder that cannot be listed is left out here: the bronze run reports it, and reconcile lists it.
    for (const object of (await listLanding(lake.storage, landingPrefixOf(table))).objects) {
      batch.push(`(${quoteLiteral(object.key)}, make_timestamp(${Math.round(object.lastModifiedMs) * 1000}::BIGINT), ${object.sizeBytes})`);
      if (batch.length >= 2000) await flush();
    }
    await flush();
    return { relation: view, columns: [...LANDING_OBJECT_COLUMNS] };
  }
  const ref = root.tables[table];
  if (!ref) return undefined;
  const manifest = await readManifest(lake.state, ref.manifest);
  const { sql, files } = await tableRelation(engine, lake.storage, manifest);
  releases.push(() => files.release());
  await engine.run(`CREATE OR REPLACE TEMP VIEW ${view} AS SELECT * FROM ${sql}`);
  return { relation: view, columns: manifest.columns.map(({ name, type }) => ({ name, type })) };
}
