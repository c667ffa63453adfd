import path from 'node:path';
import type { Engine, ResultRow } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import { MedallionError } from '../errors.ts';
import type { MetricDatum } from '../metrics/index.ts';
import { fileSchema, tableVersionSql, partitionKey, REJECTED_ROWS_PER_RULE, type DataFile, type PartitionEntry, type TableManifest, type TableName, type TableSpec } from '../table/index.ts';
import { printRule } from './dqdl/printer.ts';
import { evaluateRuleset, type AnalyzerResult, type EvaluationContext, type QualityDataset, type RuleResult } from './evaluator/index.ts';
import type { QualityAction, QualityRule, TableRuleSet } from './rule-sets.ts';

/** One row of quality.results, before the run id, job and time are stamped on. */
export interface QualityEvaluation {
  readonly table: string;
  readonly ruleset: string;
  readonly rule: string;
  readonly ruleType: string;
  readonly action: QualityAction | 'analyze';
  readonly outcome: RuleResult['outcome'] | null;
  readonly metric: string | null;
  readonly value: number | null;
  readonly threshold: string | null;
  readonly message: string;
  readonly rowsQuarantined: number;
  /** 1-based line of the rule in its file (0 for analyzers). */
  readonly line: number;
  /**
   * A failed row-level `fail` rule of a run: SQL giving the rows it refused, with the columns of
   * quality.rejected_rows but the run's (source_object, record_index, rule, table_name, row). Not recorded in
   * quality.results; the gate commits these rows to quality.rejected_rows when it stops the run.
   */
  readonly rejectedRowsSql?: string;
}

/** A job run stopped by a failing `fail` rule: nothing of the run was committed but its quality results. */
export class QualityGateError extends MedallionError {
  readonly failures: readonly QualityEvaluation[];
  constructor(job: string, failures: readonly QualityEvaluation[]) {
    const named = failures.map((failure) => `${failure.table}: ${failure.rule} (${failure.ruleset}:${failure.line}) ${failure.outcome === 'ERROR' ? 'could not be evaluated' : 'failed'}: ${failure.message}`);
    super('QUALITY_GATE_FAILED', `job ${job}: quality rule${failures.length > 1 ? 's' : ''} with action fail did not pass, so nothing was committed: ${named.join('; ')}`, {
      hint: `see \`medallion quality history ${failures[0]?.table ?? ''}\` and runbooks/quality-gate-failed.md; the run is not retried`,
    });
    this.failures = failures;
  }
}

/** How many rows a run read, wrote to the table, set aside and dropped as duplicates: the `run` reference dataset. */
export interface RunCounters {
  readonly recordsRead: number;
  readonly recordsWritten: number;
  readonly recordsQuarantined: number;
  readonly recordsDuplicated: number;
}

/** Reference datasets every rule set may name besides its own `# reference` aliases. */
export const BUILT_IN_REFERENCES = ['run'] as const;

interface QuarantineTally {
  rows: number;
  /** Rows that failed any quarantine rule. */
  setAside: number;
  failed: Map<QualityRule, number>;
}

/**
 * Applies a job's quality rule sets to what one run writes, as Delta Live Tables applies expectations:
 * `quarantine` rules split each batch of an output into kept rows and rows set aside (with the rule as
 * the reason); after the last batch every other rule is evaluated over the rows staged for the table,
 * before anything is committed. The runner commits the evaluations with the outputs, or, when a `fail`
 * rule did not pass, alone.
 */
export class QualityGate {
  /** Per table, per batch: a batch split again (its steps made again after a replan) replaces its tally. */
  private readonly tallies = new Map<string, Map<number, QuarantineTally>>();
  private historyAttached: Promise<string | undefined> | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly ruleSets: ReadonlyMap<string, TableRuleSet>,
    private readonly options: {
      /** The job whose run this gate checks, for messages. */
      readonly job: string;
      readonly now: Date;
      /** Attaches committed quality.results and returns the relation, or undefined when there is none yet. */
      readonly attachHistory: () => Promise<string | undefined>;
      /** A committed table as a dataset (for `# reference` aliases that are not outputs of the run). */
      readonly committedTable: (table: string) => Promise<QualityDataset | undefined>;
    },
  ) {}

  ruleSetOf(table: string): TableRuleSet | undefined {
    return this.ruleSets.get(table);
  }

  /**
   * Splits one batch of an output by its quarantine rules. Returns the SQL of the rows to keep and, when
   * the table has quarantine rules, of the rows to set aside in quarantine.records' shape (source_object,
   * record_index, reason_code, reason, raw). A rule that cannot be evaluated fails the run: it must not
   * let rows through unchecked.
   *
   * The rules are checked over the output's SQL first. A batch with nothing to set aside (the usual one) is
   * written from that SQL as it stands, and `keptRows` says how many rows the writer must find: an output
   * whose SQL gives other rows when read again fails the run rather than let a row through unchecked. A
   * batch with rows to set aside is materialized, so its kept and set-aside rows come from one evaluation.
   */
  async splitBatch(spec: TableSpec, sql: string, batch: number): Promise<{ kept: string; setAside?: string; keptRows?: number }> {
    const set = this.ruleSets.get(spec.name);
    const rules = set?.rules.filter((rule) => rule.action === 'quarantine') ?? [];
    if (!set || rules.length === 0) return { kept: sql };
    const tally: QuarantineTally = { rows: 0, setAside: 0, failed: new Map() };
    const batches = this.tallies.get(spec.name) ?? new Map<number, QuarantineTally>();
    batches.set(batch, tally);
    this.tallies.set(spec.name, batches);

    const direct = `(${sql})`;
    const checked = await this.checkRows(spec, set, rules, direct);
    if (checked.setAside === 0) {
      tally.rows += checked.total;
      return { kept: `SELECT * FROM ${direct} AS row_ WHERE ${checked.passes}`, keptRows: checked.total };
    }
    const relation = quoteIdentifier(`quality_split_${spec.name.replace('.', '_')}_${batch}`);
    await this.engine.run(`CREATE OR REPLACE TABLE ${relation} AS ${sql}`);
    const { predicates, passes, total, setAside: setAsideRows, failed } = await this.checkRows(spec, set, rules, relation);
    tally.rows += total;
    tally.setAside += setAsideRows;
    predicates.forEach((entry, index) => tally.failed.set(entry.rule, (tally.failed.get(entry.rule) ?? 0) + (failed[index] ?? 0)));

    const reason = `CASE ${predicates
      .map((entry) => `WHEN NOT ${entry.predicate} THEN ${quoteLiteral(`quality rule failed: ${printRule(entry.rule.rule)} (${set.source}:${entry.rule.line})`)}`)
      .join(' ')} END`;
    // Where the row came from, when the table keeps it (bronze: source_object; silver: _source_object).
    const column = (name: string) => [name, `_${name}`].find((candidate) => spec.columns.some((c) => c.name === candidate));
    const from = (name: string) => (column(name) ? `row_.${quoteIdentifier(column(name) as string)}` : 'NULL');
    // The row with its table's columns, in the table's order: a gated step may carry columns of its own
    // (JobPlan.gateAt), which stay out of the quarantine.
    const { rows: described } = await this.engine.query(`DESCRIBE ${relation}`);
    const present = new Set(described.map((row) => String(row.column_name)));
    const kept = spec.columns.filter((c) => present.has(c.name));
    const tableRow = kept.length > 0 ? `struct_pack(${kept.map((c) => `${quoteIdentifier(c.name)} := row_.${quoteIdentifier(c.name)}`).join(', ')})` : 'row_';
    const setAside = `
      SELECT ${from('source_object')}::VARCHAR AS source_object,
             ${from('record_index')}::BIGINT AS record_index,
             'quality_rule' AS reason_code, ${reason} AS reason, to_json(${tableRow})::VARCHAR AS raw
      FROM ${relation} AS row_ WHERE NOT (${passes})`;
    return { kept: `SELECT * FROM ${relation} WHERE ${passes}`, setAside };
  }

  /** The quarantine rules' row predicates over `relation`, and how many rows fail them (all, and per rule). */
  private async checkRows(spec: TableSpec, set: TableRuleSet, rules: readonly QualityRule[], relation: string) {
    const context = this.context({ relation, columns: spec.columns }, set, {});
    // Evaluated as one ruleset, so the rules read `relation` in one scan (it may be the output's SQL itself).
    const { results } = await evaluateRuleset({ ...set.ruleset, rules: rules.map((rule) => rule.rule), analyzers: [] }, context);
    const predicates: { rule: QualityRule; predicate: string }[] = [];
    rules.forEach((rule, index) => {
      const result = results[index] as RuleResult;
      if (result.outcome === 'ERROR' || result.rowPredicate === undefined) {
        throw new QualityGateError(this.options.job, [evaluationOf(set, rule, result.message ? result : { ...result, message: 'the rule gives no row-level result' }, 0)]);
      }
      predicates.push({ rule, predicate: `(${result.rowPredicate})` });
    });
    const passes = predicates.map((entry) => entry.predicate).join(' AND ');
    const counts = await this.engine.query(
      `SELECT count(*) AS total, count(*) FILTER (WHERE NOT (${passes})) AS set_aside, ` +
        `${predicates.map((entry, index) => `count(*) FILTER (WHERE NOT ${entry.predicate}) AS f${index}`).join(', ')} FROM ${relation}`,
    );
    const row = counts.rows[0] ?? {};
    return {
      predicates,
      passes,
      total: Number(row.total ?? 0),
      setAside: Number(row.set_aside ?? 0),
      failed: predicates.map((_, index) => Number(row[`f${index}`] ?? 0)),
    };
  }

  /** Drops what `splitBatch` kept for one batch, once its rows are staged (a batch can be large). */
  async releaseBatch(batch: number): Promise<void> {
    for (const table of this.tallies.keys()) {
      await this.engine.run(`DROP TABLE IF EXISTS ${quoteIdentifier(`quality_split_${table.replace('.', '_')}_${batch}`)}`);
    }
  }

  /** Rows quarantine rules set aside from `table` in this run. */
  rowsSetAside(table: string): number {
    return this.tally(table)?.setAside ?? 0;
  }

  /** A table's tallies of every batch, summed. */
  private tally(table: string): QuarantineTally | undefined {
    const batches = this.tallies.get(table);
    if (!batches) return undefined;
    const sum: QuarantineTally = { rows: 0, setAside: 0, failed: new Map() };
    for (const tally of batches.values()) {
      sum.rows += tally.rows;
      sum.setAside += tally.setAside;
      for (const [rule, failed] of tally.failed) sum.failed.set(rule, (sum.failed.get(rule) ?? 0) + failed);
    }
    return sum;
  }

  /**
   * Evaluates a table's rules over the rows the run staged for it (quarantine rules report what they
   * set aside). `outputs` are the run's other staged outputs, so a reference alias to one of them sees
   * this run's rows. The rules' queries run on `session` when given (a fork of the gate's engine, so two
   * tables' rules are evaluated side by side).
   */
  async evaluate(
    spec: TableSpec,
    staged: QualityDataset,
    counters: RunCounters,
    outputs: ReadonlyMap<string, QualityDataset>,
    session: Engine = this.engine,
  ): Promise<QualityEvaluation[]> {
    const set = this.ruleSets.get(spec.name);
    if (!set) return [];
    const evaluations: QualityEvaluation[] = [];
    const tally = this.tally(spec.name);
    for (const rule of set.rules.filter((entry) => entry.action === 'quarantine')) {
      const failed = tally?.failed.get(rule) ?? 0;
      const rows = tally?.rows ?? 0;
      const compliance = rows === 0 ? 1 : (rows - failed) / rows;
      evaluations.push({
        table: set.table, ruleset: set.source, rule: printRule(rule.rule), ruleType: rule.rule.kind === 'rule' ? rule.rule.type : 'Composite',
        action: 'quarantine', outcome: failed === 0 ? 'PASS' : 'FAIL', metric: 'Rows.Compliance', value: compliance, threshold: '= 1.0',
        message: failed === 0 ? '' : `${failed} of ${rows} rows failed and were quarantined`, rowsQuarantined: failed, line: rule.line,
      });
    }
    const others = set.rules.filter((entry) => entry.action !== 'quarantine');
    const references: Record<string, QualityDataset> = { run: runDataset(counters) };
    for (const [alias, table] of Object.entries(set.references)) {
      const dataset = outputs.get(table) ?? (await this.options.committedTable(table));
      if (dataset) references[alias] = dataset;
    }
    const context = this.context(staged, set, references, 'run', session);
    const result = await evaluateRuleset({ ...set.ruleset, rules: others.map((entry) => entry.rule) }, context);
    result.results.forEach((ruleResult, index) => {
      const rule = others[index] as QualityRule;
      // A run that writes no row to a table (an incremental run that touched only other tables) leaves
      // completeness, uniqueness and compliance without a value: nothing was there to be wrong.
      const vacuous = counters.recordsWritten === 0 && ruleResult.outcome === 'FAIL' && ruleResult.value === null;
      const evaluation = evaluationOf(set, rule, vacuous ? { ...ruleResult, outcome: 'PASS', message: 'no rows written by this run: nothing to check' } : ruleResult, 0);
      // The rows a failed row-level fail rule refuses: kept for the operator, since the run will commit none of them.
      const refused = rule.action === 'fail' && evaluation.outcome === 'FAIL' && ruleResult.rowPredicate !== undefined;
      evaluations.push(refused ? { ...evaluation, rejectedRowsSql: rejectedRowsSql(spec, staged, set, rule, ruleResult.rowPredicate as string) } : evaluation);
    });
    evaluations.push(...analyzerEvaluations(set, result.analyzers));
    return evaluations;
  }

  private context(
    primary: QualityDataset,
    set: TableRuleSet,
    references: Record<string, QualityDataset>,
    scope: 'run' | 'table' = 'run',
    engine: Engine = this.engine,
  ): EvaluationContext {
    return {
      engine,
      primary,
      references,
      now: this.options.now,
      history: (metric) => this.history(engine, set.table, scope, metric),
    };
  }

  private async history(engine: Engine, table: string, scope: 'run' | 'table', metric: string): Promise<readonly number[]> {
    this.historyAttached ??= this.options.attachHistory();
    const relation = await this.historyAttached;
    return relation === undefined ? [] : metricHistory(engine, relation, table, scope, metric);
  }
}

/** Earlier values of a metric, one per evaluation run, oldest first. */
export async function metricHistory(engine: Engine, relation: string, table: string, scope: 'run' | 'table', metric: string): Promise<number[]> {
  const { rows } = await engine.query(`
    SELECT any_value(value) AS value FROM ${relation}
    WHERE table_name = ${quoteLiteral(table)} AND scope = ${quoteLiteral(scope)} AND metric = ${quoteLiteral(metric)}
      AND value IS NOT NULL AND outcome IS DISTINCT FROM 'ERROR'
    GROUP BY run_id ORDER BY min(evaluated_at), run_id`);
  return rows.map((row) => Number(row.value));
}

/** The rows of `staged` a row-level rule refuses, at most REJECTED_ROWS_PER_RULE, as quality.rejected_rows has them (but run and job). */
function rejectedRowsSql(spec: TableSpec, staged: QualityDataset, set: TableRuleSet, rule: QualityRule, predicate: string): string {
  const column = (name: string) => [name, `_${name}`].find((candidate) => spec.columns.some((c) => c.name === candidate));
  const from = (name: string) => (column(name) ? `row_.${quoteIdentifier(column(name) as string)}` : 'NULL');
  return `
    SELECT ${quoteLiteral(set.table)} AS table_name, ${quoteLiteral(`${printRule(rule.rule)} (${set.source}:${rule.line})`)} AS rule,
           ${from('source_object')}::VARCHAR AS source_object, ${from('record_index')}::BIGINT AS record_index, to_json(row_)::VARCHAR AS row
    FROM ${staged.relation} AS row_ WHERE NOT coalesce((${predicate}), false) LIMIT ${REJECTED_ROWS_PER_RULE}`;
}

export function evaluationOf(set: TableRuleSet, rule: QualityRule, result: RuleResult, rowsQuarantined: number): QualityEvaluation {
  return {
    table: set.table,
    ruleset: set.source,
    rule: result.rule,
    ruleType: result.ruleType,
    action: rule.action,
    outcome: result.outcome,
    metric: result.metric ?? null,
    value: result.value === null || !Number.isFinite(result.value) ? null : result.value,
    threshold: result.threshold ?? null,
    message: result.message,
    rowsQuarantined,
    line: rule.line,
  };
}

/** quality.results rows for analyzers: one per metric, no outcome. */
export function analyzerEvaluations(set: TableRuleSet, analyzers: readonly AnalyzerResult[]): QualityEvaluation[] {
  return analyzers.flatMap((analyzer) =>
    Object.entries(analyzer.metrics).map(([metric, value]): QualityEvaluation => ({
      table: set.table, ruleset: set.source, rule: analyzer.analyzer, ruleType: 'Analyzer', action: 'analyze', outcome: null,
      metric, value, threshold: null, message: '', rowsQuarantined: 0, line: 0,
    })),
  );
}

/** The `fail` rules that did not pass (an ERROR counts: a gate that cannot be checked does not open). */
export function gateFailures(evaluations: readonly QualityEvaluation[]): QualityEvaluation[] {
  return evaluations.filter((evaluation) => evaluation.action === 'fail' && evaluation.outcome !== 'PASS');
}

function runDataset(counters: RunCounters): QualityDataset {
  return {
    relation: `(SELECT ${counters.recordsRead}::BIGINT AS records_read, ${counters.recordsWritten}::BIGINT AS records_written, ${counters.recordsQuarantined}::BIGINT AS records_quarantined, ${counters.recordsDuplicated}::BIGINT AS records_duplicated)`,
    columns: [
      { name: 'records_read', type: 'BIGINT' },
      { name: 'records_written', type: 'BIGINT' },
      { name: 'records_quarantined', type: 'BIGINT' },
      { name: 'records_duplicated', type: 'BIGINT' },
    ],
  };
}

/** A relation over files a run staged (COPY's RETURN_STATS rows), typed as the table declares. */
export function stagedDataset(spec: TableSpec, copies: readonly ResultRow[]): QualityDataset {
  const partitions: Record<string, PartitionEntry> = {};
  const localPaths = new Map<string, string>();
  const schema = fileSchema(spec.columns, spec.partitionBy);
  for (const row of copies) {
    const count = Number(row.count);
    if (count === 0) continue;
    const key = String(row.filename);
    localPaths.set(key, path.resolve(key));
    const values: Record<string, string> = {};
    for (const entry of (row.partition_keys ?? []) as { key: string; value: string }[]) values[entry.key] = entry.value;
    const file: DataFile = { key, rows: count, sizeBytes: Number(row.file_size_bytes ?? 0), schema };
    const pkey = partitionKey(spec.partitionBy, values);
    partitions[pkey] = { values, files: [...(partitions[pkey]?.files ?? []), file] };
  }
  const manifest: TableManifest = {
    table: spec.name as TableName, version: 0, columns: spec.columns.map(({ name, type }) => ({ name, type })), partitionBy: spec.partitionBy,
    partitions, committedAt: new Date(0).toISOString(), runId: '',
  };
  return { relation: tableVersionSql(manifest, localPaths), columns: manifest.columns };
}

/** quality.results rows as SQL, stamped with the run. */
export function qualityResultsSql(evaluations: readonly QualityEvaluation[], stamp: { runId: string; job: string; scope: 'run' | 'table'; at: Date }): string {
  const text = (value: string | null) => (value === null ? 'NULL::VARCHAR' : `${quoteLiteral(value)}::VARCHAR`);
  const number = (value: number | null) => (value === null || !Number.isFinite(value) ? 'NULL::DOUBLE' : `${value}::DOUBLE`);
  const at = `make_timestamp(${stamp.at.getTime() * 1000}::BIGINT)`;
  const rows = evaluations.map(
    (e) =>
      `(${text(stamp.runId)}, ${text(e.table)}, ${text(stamp.scope)}, ${text(e.ruleset)}, ${text(e.rule)}, ${text(e.ruleType)}, ${text(e.action)}, ${text(e.outcome)}, ` +
      `${text(e.metric)}, ${number(e.value)}, ${text(e.threshold)}, ${text(e.message)}, ${e.rowsQuarantined}::BIGINT, ${at}, ${text(stamp.job)})`,
  );
  return `SELECT * FROM (VALUES ${rows.join(', ')}) AS r(run_id, table_name, scope, ruleset, rule, rule_type, action, outcome, metric, value, threshold, message, rows_quarantined, evaluated_at, job)`;
}

/**
 * Glue Data Quality's metrics for an evaluation (`glue.data.quality.rules.passed` / `failed`, and the
 * score), per table, plus each rule's measured value as `medallion.quality.rule.value`.
 */
export function qualityMetrics(evaluations: readonly QualityEvaluation[], stamp: { job: string; runId: string; at: number }): MetricDatum[] {
  const byTable = new Map<string, QualityEvaluation[]>();
  for (const evaluation of evaluations) byTable.set(evaluation.table, [...(byTable.get(evaluation.table) ?? []), evaluation]);
  const metrics: MetricDatum[] = [];
  for (const [table, rows] of byTable) {
    const rules = rows.filter((row) => row.action !== 'analyze');
    const passed = rules.filter((row) => row.outcome === 'PASS').length;
    const failed = rules.length - passed;
    const dimensions = { JobName: stamp.job, JobRunId: stamp.runId, Type: 'count', Table: table };
    metrics.push(
      { name: 'glue.data.quality.rules.passed', value: passed, unit: 'Count', dimensions, timestampMs: stamp.at },
      { name: 'glue.data.quality.rules.failed', value: failed, unit: 'Count', dimensions, timestampMs: stamp.at },
      { name: 'glue.data.quality.score', value: rules.length === 0 ? 1 : passed / rules.length, unit: 'None', dimensions: { ...dimensions, Type: 'gauge' }, timestampMs: stamp.at },
    );
    // A count is emitted only for a table with rules that can make it non-zero (a warn rule, a fail rule, a
    // DetectAnomalies rule): an alarm on a series that is always 0 could never fire (core/alarms.ts `reach`).
    const count = (name: string, which: readonly QualityEvaluation[], failing: (row: QualityEvaluation) => boolean) => {
      if (which.length > 0) metrics.push({ name, value: which.filter(failing).length, unit: 'Count', dimensions, timestampMs: stamp.at });
    };
    count('medallion.quality.rules.failed.warn', rules.filter((row) => row.action === 'warn'), (row) => row.outcome !== 'PASS');
    count('medallion.quality.rules.failed.fail', rules.filter((row) => row.action === 'fail'), (row) => row.outcome !== 'PASS');
    count('medallion.quality.anomalies', rules.filter((row) => row.ruleType === 'DetectAnomalies'), (row) => row.outcome === 'FAIL');
    // Freshness, for a table with DataFreshness rules: 1 when they all passed (the table-stale alarm watches it).
    const freshness = rules.filter((row) => row.ruleType === 'DataFreshness');
    if (freshness.length > 0) {
      const fresh = freshness.every((row) => row.outcome === 'PASS');
      metrics.push({ name: 'medallion.table.fresh', value: fresh ? 1 : 0, unit: 'None', dimensions: { ...dimensions, Type: 'gauge' }, timestampMs: stamp.at });
      // When it was last found fresh: a textfile keeps a gauge forever, so "no fresh evaluation for a day" needs a time.
      if (fresh) metrics.push({ name: 'medallion.table.lastFresh', value: Math.floor(stamp.at / 1000), unit: 'None', dimensions: { ...dimensions, Type: 'gauge' }, timestampMs: stamp.at });
    }
    metrics.push({ name: 'medallion.quality.rowsQuarantined', value: rules.reduce((sum, row) => sum + row.rowsQuarantined, 0), unit: 'Count', dimensions, timestampMs: stamp.at });
    // Each measured value, so a dashboard can chart a rule's metric over time.
    for (const row of rows) {
      if (row.metric === null || row.value === null) continue;
      metrics.push({
        name: 'medallion.quality.value', value: row.value, unit: 'None', timestampMs: stamp.at,
        dimensions: { JobName: stamp.job, JobRunId: stamp.runId, Type: 'gauge', Table: table, Metric: row.metric },
      });
    }
  }
  return metrics;
}
