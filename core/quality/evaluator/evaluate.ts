import { quoteIdentifier } from '../../engine/index.ts';
import { detectAnomaly } from '../anomaly.ts';
import type { Analyzer, Constraint, Rule, RuleType, Ruleset, SimpleRule, Threshold } from '../dqdl/index.ts';
import { printAnalyzer, printRule } from '../dqdl/index.ts';
import {
  AggregateBatcher, aggregate, customSql, dataTypeCompliance, findColumn, measureMetric, measured, reference, source, toNumber,
  type Measured, type MetricKind,
} from './metrics.ts';
import { columnKind, rowCheckSql, timestampLiteral, type Subject } from './row-sql.ts';
import type { AnalyzerResult, EvaluationContext, RuleResult, RulesetResult } from './types.ts';
import { NoHistoryError, RuleEvaluationError, ValueResolver, formatNumber, judge } from './values.ts';

const ROW_LEVEL: ReadonlySet<RuleType> = new Set<RuleType>([
  'Completeness', 'IsComplete', 'ColumnValues', 'ColumnLength', 'DataFreshness', 'ReferentialIntegrity',
]);

/** The rule types that have a rowPredicate (and composites of them). CustomSql is row-level in its form without an expression. */
export function isRowLevel(rule: Rule): boolean {
  if (rule.kind === 'composite') return rule.operands.every(isRowLevel);
  if (rule.type === 'CustomSql') return rule.constraint === undefined;
  return ROW_LEVEL.has(rule.type);
}

/**
 * Evaluates a ruleset in DuckDB: every rule, then every analyzer. A rule that cannot run (unknown column,
 * bad SQL) is an ERROR result, never an exception.
 *
 * @example
 * const { score, results } = await evaluateRuleset(parseDqdl('Rules = [ RowCount > 0, IsComplete "id" ]'), {
 *   engine, primary: { relation: '"orders"', columns: [{ name: 'id', type: 'BIGINT' }] }, now: new Date(),
 * });
 */
export async function evaluateRuleset(ruleset: Ruleset, context: EvaluationContext): Promise<RulesetResult> {
  // The rules are evaluated side by side, so the aggregates they need over the same rows come in one query.
  const batched: EvaluationContext = context.aggregates ? context : { ...context, aggregates: new AggregateBatcher(context.engine) };
  const results = await Promise.all(ruleset.rules.map((rule) => evaluateRule(rule, batched, ruleset.variables)));
  const analyzers = await Promise.all(ruleset.analyzers.map((analyzer) => runAnalyzer(analyzer, batched)));
  const passed = results.filter((r) => r.outcome === 'PASS').length;
  return { results, analyzers, score: results.length === 0 ? 1 : passed / results.length };
}

export async function evaluateRule(rule: Rule, context: EvaluationContext, variables?: Ruleset['variables']): Promise<RuleResult> {
  if (rule.kind === 'composite') {
    const operands: RuleResult[] = [];
    for (const operand of rule.operands) operands.push(await evaluateRule(operand, context, variables));
    const outcome = operands.some((o) => o.outcome === 'ERROR')
      ? 'ERROR'
      : (rule.op === 'and' ? operands.every((o) => o.outcome === 'PASS') : operands.some((o) => o.outcome === 'PASS')) ? 'PASS' : 'FAIL';
    const predicates = operands.map((o) => o.rowPredicate);
    const rowPredicate = predicates.every((p): p is string => p !== undefined) ? `(${predicates.join(` ${rule.op.toUpperCase()} `)})` : undefined;
    return {
      rule: printRule(rule), ruleType: 'Composite', outcome, value: null,
      message: outcome === 'PASS' ? '' : operands.filter((o) => o.outcome !== 'PASS').map((o) => `${o.rule}: ${o.message}`).join('; '),
      evaluatedMetrics: Object.assign({}, ...operands.map((o) => o.evaluatedMetrics)) as Record<string, number>,
      ...(rowPredicate === undefined ? {} : { rowPredicate }),
      operands,
    };
  }
  return evaluateSimple(rule, context, variables);
}

/** What a rule type produced before its value is judged. */
interface Evaluation {
  readonly measured?: Measured;
  /** Compared with measured.value; '= 1.0' for the Is* rules and row-level rules without a threshold. */
  readonly constraint?: Constraint | Threshold;
  /** Decided by the rule type itself (ColumnExists, IsPrimaryKey, DetectAnomalies). */
  readonly verdict?: { readonly pass: boolean; readonly threshold?: string; readonly message: string };
  readonly rowPredicate?: string;
}

const ALL_ROWS: Threshold = { kind: 'compare', op: '=', value: { kind: 'number', value: 1, raw: '1.0' } };

/** Rule types whose measure over no rows passes: a share of rows that are complete, unique or compliant. */
const VACUOUS_OVER_NO_ROWS: ReadonlySet<string> = new Set([
  'IsComplete', 'Completeness', 'IsUnique', 'Uniqueness', 'IsPrimaryKey', 'ColumnValues', 'ColumnLength', 'DataFreshness',
]);
const NO_ROWS_MESSAGE = 'No rows to check (none in the dataset, or none its where clause selects): nothing to be wrong';

async function evaluateSimple(rule: SimpleRule, context: EvaluationContext, variables: Ruleset['variables']): Promise<RuleResult> {
  const base = { rule: printRule(rule), ruleType: rule.type };
  let partial: Measured | undefined;
  const metricOf = (metric: string): ValueResolver => new ValueResolver(variables, context.history ? () => context.history!(metric) : undefined);
  try {
    const evaluation = await evaluateType(rule, context, metricOf);
    partial = evaluation.measured;
    const metric = evaluation.measured?.metric;
    const value = evaluation.measured?.value ?? null;
    const common = {
      ...base,
      ...(metric === undefined ? {} : { metric }),
      value,
      evaluatedMetrics: evaluation.measured?.metrics ?? {},
      ...(evaluation.rowPredicate === undefined ? {} : { rowPredicate: evaluation.rowPredicate }),
    };
    if (evaluation.verdict) {
      const { pass, threshold, message } = evaluation.verdict;
      return { ...common, outcome: pass ? 'PASS' : 'FAIL', ...(threshold === undefined ? {} : { threshold }), message };
    }
    const constraint = evaluation.constraint;
    if (!constraint) throw new RuleEvaluationError(`${rule.type} needs an expression to compare with`);
    if (value === null && VACUOUS_OVER_NO_ROWS.has(rule.type)) {
      // Completeness, uniqueness and compliance of no rows (none in the dataset, or none its where clause selects):
      // nothing was there to be wrong. A rule that needs rows says so (RowCount > 0).
      return { ...common, outcome: 'PASS', message: NO_ROWS_MESSAGE };
    }
    if (value === null) {
      return { ...common, outcome: 'FAIL', message: 'No value to compare: the rule found no rows (or only NULL values) to measure' };
    }
    const { pass, threshold } = await judge(value, constraint, metricOf(metric ?? ''));
    const message = pass
      ? ''
      : constraint === rule.threshold || constraint === ALL_ROWS
        ? `${(value * 100).toFixed(2)} % of rows passed the threshold`
        : `Value: ${formatNumber(value)} does not meet the constraint requirement!`;
    return { ...common, outcome: pass ? 'PASS' : 'FAIL', threshold, message };
  } catch (error) {
    const measuredSoFar = {
      ...(partial ? { metric: partial.metric } : {}),
      value: partial?.value ?? null,
      evaluatedMetrics: partial?.metrics ?? {},
    };
    if (error instanceof NoHistoryError) return { ...base, ...measuredSoFar, outcome: 'PASS', message: error.message };
    return { ...base, ...measuredSoFar, outcome: 'ERROR', message: error instanceof Error ? error.message : String(error) };
  }
}

/** Rows outside the rule's `where` pass; a NULL where counts as outside, as a filter drops it. */
function outsideWherePasses(pass: string, where: string | undefined): string {
  return where === undefined ? pass : `(CASE WHEN coalesce((${where}), false) THEN ${pass} ELSE true END)`;
}

async function compliance(context: EvaluationContext, pass: string, where: string | undefined, metric: string, extra: Record<string, string> = {}): Promise<Measured> {
  const extraSql = Object.fromEntries(Object.values(extra).map((sql, i) => [`extra_${i}`, sql]));
  const row = await aggregate(context, source(context.primary, where), { total: 'count(*)::DOUBLE', passed: `(count(*) FILTER (WHERE ${pass}))::DOUBLE`, ...extraSql });
  const total = toNumber(row.total) ?? 0;
  const extras = Object.fromEntries(Object.keys(extra).map((name, i) => [name, toNumber(row[`extra_${i}`])]));
  return measured(metric, total === 0 ? null : (toNumber(row.passed) ?? 0) / total, extras);
}

const AGGREGATES: ReadonlySet<RuleType> = new Set<RuleType>([
  'RowCount', 'ColumnCount', 'Completeness', 'Uniqueness', 'Mean', 'Sum', 'StandardDeviation', 'DistinctValuesCount',
  'UniqueValueRatio', 'Entropy', 'ColumnCorrelation', 'RowCountMatch',
]);

async function evaluateType(rule: SimpleRule, context: EvaluationContext, metricOf: (metric: string) => ValueResolver): Promise<Evaluation> {
  const column = rule.parameters[0] ?? '';
  const col = quoteIdentifier(column);
  const where = rule.where;
  const type = rule.type;
  if (AGGREGATES.has(type)) {
    const m = await measureMetric(type as MetricKind, rule.parameters, where, context);
    const rowPredicate = type === 'Completeness' ? outsideWherePasses(`(${col} IS NOT NULL)`, where) : undefined;
    return { measured: m, ...(rule.constraint ? { constraint: rule.constraint } : {}), ...(rowPredicate ? { rowPredicate } : {}) };
  }
  switch (type) {
    case 'IsComplete':
      return { measured: await measureMetric('Completeness', rule.parameters, where, context), constraint: ALL_ROWS, rowPredicate: outsideWherePasses(`(${col} IS NOT NULL)`, where) };
    case 'IsUnique':
      return { measured: await measureMetric('Uniqueness', rule.parameters, where, context), constraint: ALL_ROWS };
    case 'IsPrimaryKey': {
      const completeness: Record<string, number | null> = {};
      for (const name of rule.parameters) completeness[`Column.${name}.Completeness`] = (await measureMetric('Completeness', [name], where, context)).value;
      const uniqueness = await measureMetric('Uniqueness', rule.parameters, where, context);
      const m = measured(uniqueness.metric, uniqueness.value, completeness);
      if (uniqueness.value === null) return { measured: m, verdict: { pass: true, threshold: '= 1.0', message: NO_ROWS_MESSAGE } };
      const pass = uniqueness.value === 1 && Object.values(completeness).every((v) => v === 1);
      const incomplete = Object.entries(completeness).filter(([, v]) => v !== 1).map(([name, v]) => `${name} is ${v === null ? 'not measurable' : formatNumber(v)}`);
      const message = pass ? '' : [...incomplete, ...(uniqueness.value === 1 ? [] : [`Value: ${uniqueness.value === null ? 'null' : formatNumber(uniqueness.value)} does not meet the constraint requirement!`])].join('; ');
      return { measured: m, verdict: { pass, threshold: '= 1.0', message } };
    }
    case 'ColumnExists': {
      const found = findColumn(context.primary, column) !== undefined;
      return { verdict: { pass: found, message: found ? '' : `Column "${column}" does not exist` } };
    }
    case 'ColumnValues':
    case 'ColumnLength': {
      if (!rule.constraint) throw new RuleEvaluationError(`${type} needs an expression`);
      const kind = columnKind(findColumn(context.primary, column)?.type);
      const metric = `Column.${column}.${type}.Compliance`;
      const resolver = metricOf(metric);
      const subject: Subject = type === 'ColumnLength' ? { sql: `length(CAST(${col} AS VARCHAR))`, kind: 'number' } : { sql: col, kind };
      const pass = await rowCheckSql(subject, rule.constraint, resolver, context.now);
      const extra: Record<string, string> = type === 'ColumnLength'
        ? { [`Column.${column}.MaximumLength`]: `max(${subject.sql})`, [`Column.${column}.MinimumLength`]: `min(${subject.sql})` }
        : kind === 'number' ? { [`Column.${column}.Maximum`]: `max(CAST(${col} AS DOUBLE))`, [`Column.${column}.Minimum`]: `min(CAST(${col} AS DOUBLE))` } : {};
      return { measured: await compliance(context, pass, where, metric, extra), constraint: rule.threshold ?? ALL_ROWS, rowPredicate: outsideWherePasses(pass, where) };
    }
    case 'DataFreshness': {
      if (!rule.constraint) throw new RuleEvaluationError('DataFreshness needs an expression');
      const metric = `Column.${column}.DataFreshness.Compliance`;
      const resolver = metricOf(metric);
      const age = `(epoch(${timestampLiteral(context.now)}) - epoch(TRY_CAST(${col} AS TIMESTAMP)))`;
      const seconds = async (v: Parameters<ValueResolver['number']>[0]): Promise<number> => resolver.number(v, 'seconds');
      const c = rule.constraint;
      let pass: string;
      if (c.kind === 'compare') pass = `coalesce(${age} ${c.op === '!=' ? '<>' : c.op} ${await seconds(c.value)}, false)`;
      else if (c.kind === 'between') pass = `coalesce(${age} > ${await seconds(c.low)} AND ${age} < ${await seconds(c.high)}, false)`;
      else throw new RuleEvaluationError('DataFreshness compares with a duration, e.g. <= 24 hours or between 2 days and 5 days');
      return { measured: await compliance(context, pass, where, metric), constraint: rule.threshold ?? ALL_ROWS, rowPredicate: outsideWherePasses(pass, where) };
    }
    case 'ColumnDataType': {
      const c = rule.constraint;
      const resolver = metricOf('');
      let names: string[];
      let negated: boolean;
      if (c?.kind === 'compare' && (c.op === '=' || c.op === '!=')) {
        const v = c.value.kind === 'variable' ? resolver.variable(c.value.name) : c.value;
        if (v.kind !== 'string') throw new RuleEvaluationError('ColumnDataType compares with a type name such as "INTEGER"');
        names = [v.value];
        negated = c.op === '!=';
      } else if (c?.kind === 'in') {
        names = resolver.list(c.values).map((v) => {
          if (v.kind !== 'string') throw new RuleEvaluationError('ColumnDataType lists type names such as "DATE"');
          return v.value;
        });
        negated = c.negated;
      } else {
        throw new RuleEvaluationError('ColumnDataType takes = "TYPE", != "TYPE", in [...] or not in [...]');
      }
      const value = await dataTypeCompliance(context, column, names, negated, where);
      return { measured: measured(`Column.${column}.ColumnDataType.Compliance`, value), constraint: rule.threshold ?? ALL_ROWS };
    }
    case 'ReferentialIntegrity':
      return referentialIntegrity(rule, context);
    case 'CustomSql': {
      if (rule.constraint) return { measured: await measureMetric('CustomSql', rule.parameters, undefined, context), constraint: rule.constraint };
      return customSqlRows(rule, context);
    }
    case 'DetectAnomalies':
      return detectAnomalies(rule, context);
    default:
      throw new RuleEvaluationError(`${type} is not supported`);
  }
}

/** One column as itself, several as a row value (DuckDB reads row(x) as x on one side only). */
const tuple = (columns: readonly string[]): string => (columns.length === 1 ? columns[0]! : `row(${columns.join(', ')})`);

/** "c1,c2" against "alias.{r1,r2}" (or "alias.col"): the share of primary rows whose complete key is in the reference. */
async function referentialIntegrity(rule: SimpleRule, context: EvaluationContext): Promise<Evaluation> {
  const primaryColumns = (rule.parameters[0] ?? '').split(',').map((c) => c.trim());
  const target = rule.parameters[1] ?? '';
  const dot = target.indexOf('.');
  if (dot < 0) throw new RuleEvaluationError(`expected "alias.column" or "alias.{c1,c2}", found "${target}"`);
  const alias = target.slice(0, dot);
  const list = target.slice(dot + 1);
  const referenceColumns = (list.startsWith('{') && list.endsWith('}') ? list.slice(1, -1) : list).split(',').map((c) => c.trim());
  if (referenceColumns.length !== primaryColumns.length) {
    throw new RuleEvaluationError(`${primaryColumns.length} primary column(s) against ${referenceColumns.length} reference column(s)`);
  }
  const ref = reference(context, alias);
  const keys = primaryColumns.map(quoteIdentifier);
  const pass = `coalesce(${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')} AND ${tuple(keys)} IN (SELECT ${tuple(referenceColumns.map(quoteIdentifier))} FROM ${ref.relation}), false)`;
  return { measured: await compliance(context, pass, undefined, `Column.${alias}.ReferentialIntegrity`), ...(rule.constraint ? { constraint: rule.constraint } : {}), rowPredicate: pass };
}

/**
 * CustomSql without an expression (Glue's row-level form): the statement selects rows of `primary`; those
 * it returns pass and the others fail, matched on the columns it selects.
 */
async function customSqlRows(rule: SimpleRule, context: EvaluationContext): Promise<Evaluation> {
  const wrapped = customSql(rule.parameters[0] ?? '', context);
  const { columns } = await context.engine.query(`SELECT * FROM (${wrapped}) LIMIT 0`);
  const names = columns.map((c) => c.name);
  const missing = names.filter((name) => !findColumn(context.primary, name));
  if (names.length === 0 || missing.length > 0) {
    throw new RuleEvaluationError(`the row-level CustomSql must select columns of the primary dataset; ${missing.map((m) => `"${m}"`).join(', ')} is not one`);
  }
  const keys = tuple(names.map(quoteIdentifier));
  const pass = `coalesce(${keys} IN (SELECT ${keys} FROM (${wrapped})), false)`;
  return { measured: await compliance(context, pass, undefined, 'Dataset.*.CustomSQL.Compliance'), constraint: rule.threshold ?? ALL_ROWS, rowPredicate: pass };
}

const ANOMALY_METRICS: Readonly<Record<string, MetricKind>> = {
  RowCount: 'RowCount', ColumnCount: 'ColumnCount', Completeness: 'Completeness', Uniqueness: 'Uniqueness', Mean: 'Mean', Sum: 'Sum',
  StandardDeviation: 'StandardDeviation', Entropy: 'Entropy', DistinctValuesCount: 'DistinctValuesCount', UniqueValueRatio: 'UniqueValueRatio',
  ColumnLength: 'ColumnLength', ColumnValues: 'ColumnValues', ColumnCorrelation: 'ColumnCorrelation', CustomSQL: 'CustomSql', CustomSql: 'CustomSql',
};

/** DetectAnomalies "Rule" "params": measures the rule's metric and asks the anomaly model about it against its history. */
async function detectAnomalies(rule: SimpleRule, context: EvaluationContext): Promise<Evaluation> {
  const [name = '', ...parameters] = rule.parameters;
  const kind = ANOMALY_METRICS[name];
  if (!kind) throw new RuleEvaluationError(`DetectAnomalies does not support "${name}"`);
  const m = await measureMetric(kind, parameters, undefined, context);
  if (m.value === null) throw new RuleEvaluationError(`${m.metric} has no value (no rows or only NULL values)`);
  const history = context.history ? await context.history(m.metric) : [];
  const verdict = detectAnomaly(history, m.value);
  const threshold = verdict.low !== undefined && verdict.high !== undefined ? `between ${formatNumber(verdict.low)} and ${formatNumber(verdict.high)}` : undefined;
  return {
    measured: m,
    verdict: { pass: !verdict.anomalous, ...(threshold === undefined ? {} : { threshold }), message: verdict.anomalous || verdict.warmingUp ? verdict.reason : '' },
  };
}

async function runAnalyzer(analyzer: Analyzer, context: EvaluationContext): Promise<AnalyzerResult> {
  const kinds: MetricKind[] = analyzer.type === 'AllStatistics' ? allStatistics(context, analyzer.parameters[0] ?? '') : [analyzer.type];
  const metrics: Record<string, number> = {};
  for (const kind of kinds) {
    try {
      const parameters = kind === 'RowCount' || kind === 'ColumnCount' ? [] : analyzer.parameters;
      Object.assign(metrics, (await measureMetric(kind, parameters, analyzer.where, context)).metrics);
    } catch {
      // An analyzer only reports; a metric that cannot be computed (unknown column, text in Mean) is left out.
    }
  }
  return { analyzer: printAnalyzer(analyzer), metrics };
}

/** AllStatistics: RowCount, Completeness and Uniqueness for any column; lengths for text; value statistics for numbers. */
function allStatistics(context: EvaluationContext, column: string): MetricKind[] {
  const kind = columnKind(findColumn(context.primary, column)?.type);
  const common: MetricKind[] = ['RowCount', 'Completeness', 'Uniqueness', 'DistinctValuesCount', 'UniqueValueRatio', 'Entropy'];
  if (kind === 'string') return [...common, 'ColumnLength'];
  if (kind === 'number') return [...common, 'ColumnValues', 'Mean', 'Sum', 'StandardDeviation'];
  return common;
}
