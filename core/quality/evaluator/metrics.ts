import { quoteIdentifier, type Engine, type ResultValue } from '../../engine/index.ts';
import { RuleEvaluationError } from './values.ts';
import { columnKind } from './row-sql.ts';
import type { AggregateSource, EvaluationContext, QualityDataset } from './types.ts';

/** The rows a rule looks at: the dataset, filtered by the rule's `where` when it has one. */
export function source(dataset: QualityDataset, where?: string): string {
  return where === undefined ? dataset.relation : `(SELECT * FROM ${dataset.relation} WHERE (${where}))`;
}

export function findColumn(dataset: QualityDataset, name: string): { name: string; type: string } | undefined {
  return dataset.columns.find((c) => c.name === name) ?? dataset.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
}

export function reference(context: EvaluationContext, alias: string): QualityDataset {
  const found = context.references?.[alias];
  if (!found) {
    const known = Object.keys(context.references ?? {});
    throw new RuleEvaluationError(`no reference dataset "${alias}" (${known.length > 0 ? `known: ${known.join(', ')}` : 'none were given'})`);
  }
  return found;
}

export async function queryOne(engine: Engine, sql: string): Promise<Readonly<Record<string, ResultValue>>> {
  const { rows } = await engine.query(sql);
  return rows[0] ?? {};
}

function aggregateSql(relation: string, expressions: Readonly<Record<string, string>>): string {
  return `SELECT ${Object.entries(expressions).map(([alias, sql]) => `${sql} AS ${quoteIdentifier(alias)}`).join(', ')} FROM ${relation}`;
}

/** Aggregates over `relation` (e.g. `{ v: 'count(*)' }`), together with the other rules' in a ruleset evaluation. */
export async function aggregate(context: EvaluationContext, relation: string, expressions: Readonly<Record<string, string>>): Promise<Readonly<Record<string, ResultValue>>> {
  return context.aggregates ? context.aggregates.request(relation, expressions) : queryOne(context.engine, aggregateSql(relation, expressions));
}

interface AggregateRequest {
  readonly relation: string;
  readonly expressions: Readonly<Record<string, string>>;
  readonly resolve: (row: Readonly<Record<string, ResultValue>>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Collects the aggregates rules ask for while they are evaluated side by side, and computes those over the
 * same relation in one query (one scan instead of one per rule). When the combined query fails, each request
 * runs alone, so an error belongs to the rule that caused it.
 */
export class AggregateBatcher implements AggregateSource {
  private pending: AggregateRequest[] = [];

  constructor(private readonly engine: Engine) {}

  request(relation: string, expressions: Readonly<Record<string, string>>): Promise<Readonly<Record<string, ResultValue>>> {
    return new Promise((resolve, reject) => {
      // The first request of a turn schedules the flush; the others rules make in the same turn join it.
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ relation, expressions, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    const byRelation = new Map<string, AggregateRequest[]>();
    for (const request of batch) byRelation.set(request.relation, [...(byRelation.get(request.relation) ?? []), request]);
    await Promise.all([...byRelation.values()].map((requests) => this.run(requests)));
  }

  private async run(requests: readonly AggregateRequest[]): Promise<void> {
    const alone = (request: AggregateRequest) => queryOne(this.engine, aggregateSql(request.relation, request.expressions)).then(request.resolve, request.reject);
    if (requests.length === 1) return alone(requests[0] as AggregateRequest);
    const combined: Record<string, string> = {};
    requests.forEach((request, index) => {
      Object.entries(request.expressions).forEach(([alias, sql], position) => void (combined[`r${index}_${position}`] = sql));
    });
    let row: Readonly<Record<string, ResultValue>>;
    try {
      row = await queryOne(this.engine, aggregateSql((requests[0] as AggregateRequest).relation, combined));
    } catch {
      await Promise.all(requests.map(alone));
      return;
    }
    requests.forEach((request, index) => {
      request.resolve(Object.fromEntries(Object.keys(request.expressions).map((alias, position) => [alias, row[`r${index}_${position}`] ?? null])));
    });
  }
}

/** Results carry decimals and huge integers as strings. */
export function toNumber(value: ResultValue | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isNaN(n) ? null : n;
}

const ratio = (part: number | null, whole: number | null): number | null => (part === null || whole === null || whole === 0 ? null : part / whole);

/** A metric measured, with any it was computed alongside. */
export interface Measured {
  readonly metric: string;
  readonly value: number | null;
  readonly metrics: Readonly<Record<string, number>>;
}

export function measured(metric: string, value: number | null, extra: Record<string, number | null> = {}): Measured {
  const metrics: Record<string, number> = {};
  for (const [name, v] of Object.entries({ ...extra, [metric]: value })) if (v !== null) metrics[name] = v;
  return { metric, value, metrics };
}

/** `Column.a` for one column, `Multicolumn.a,b` for several (Glue's ColumnCorrelation naming). */
export function columnsPrefix(columns: readonly string[]): string {
  return columns.length === 1 ? `Column.${columns[0]}` : `Multicolumn.${columns.join(',')}`;
}

/**
 * Value frequencies over rows where at least one of the columns is not NULL (Deequ's FrequencyBasedAnalyzer):
 * Uniqueness = values seen once / those rows, UniqueValueRatio = values seen once / distinct values, Entropy
 * = -sum(p ln p) with p = count / those rows.
 */
export async function frequencies(context: EvaluationContext, columns: readonly string[], where?: string) {
  const quoted = columns.map(quoteIdentifier);
  const row = await queryOne(context.engine, `
    SELECT sum(n)::DOUBLE AS total, count(*)::DOUBLE AS distinct_values, (count(*) FILTER (WHERE n = 1))::DOUBLE AS singles,
           sum(n * ln(n))::DOUBLE AS n_ln_n
    FROM (SELECT count(*) AS n FROM ${source(context.primary, where)}
          WHERE ${quoted.map((c) => `${c} IS NOT NULL`).join(' OR ')} GROUP BY ${quoted.join(', ')})`);
  const total = toNumber(row.total);
  const distinct = toNumber(row.distinct_values) ?? 0;
  const singles = toNumber(row.singles) ?? 0;
  const nLnN = toNumber(row.n_ln_n);
  return {
    uniqueness: ratio(singles, total),
    uniqueValueRatio: ratio(singles, distinct),
    distinctValues: distinct,
    entropy: total === null || total === 0 || nLnN === null ? null : Math.log(total) - nLnN / total,
  };
}

/** Metric kinds a rule, DetectAnomalies or an analyzer can ask for by name. */
export type MetricKind =
  | 'RowCount' | 'ColumnCount' | 'Completeness' | 'Uniqueness' | 'Mean' | 'Sum' | 'StandardDeviation' | 'DistinctValuesCount'
  | 'UniqueValueRatio' | 'Entropy' | 'ColumnCorrelation' | 'RowCountMatch' | 'CustomSql' | 'ColumnLength' | 'ColumnValues';

/**
 * Computes one dataset-level metric in DuckDB. StandardDeviation is the population one, as Deequ computes it;
 * ColumnLength and ColumnValues report their maximum (with the minimum alongside), as Glue's analyzers do.
 */
export async function measureMetric(kind: MetricKind, parameters: readonly string[], where: string | undefined, context: EvaluationContext): Promise<Measured> {
  const src = source(context.primary, where);
  const column = parameters[0] ?? '';
  const col = quoteIdentifier(column);
  const one = async (expression: string): Promise<number | null> => toNumber((await aggregate(context, src, { v: expression })).v);
  switch (kind) {
    case 'RowCount':
      return measured('Dataset.*.RowCount', await one('count(*)::DOUBLE'));
    case 'ColumnCount':
      return measured('Dataset.*.ColumnCount', context.primary.columns.length);
    case 'Completeness':
      return measured(`Column.${column}.Completeness`, await one(`count(${col})::DOUBLE / nullif(count(*), 0)`));
    case 'Mean':
      return measured(`Column.${column}.Mean`, await one(`avg(CAST(${col} AS DOUBLE))`));
    case 'Sum':
      return measured(`Column.${column}.Sum`, await one(`sum(CAST(${col} AS DOUBLE))`));
    case 'StandardDeviation':
      return measured(`Column.${column}.StandardDeviation`, await one(`stddev_pop(CAST(${col} AS DOUBLE))`));
    case 'ColumnCorrelation':
      return measured(`${columnsPrefix(parameters)}.ColumnCorrelation`, await one(`corr(CAST(${col} AS DOUBLE), CAST(${quoteIdentifier(parameters[1] ?? '')} AS DOUBLE))`));
    case 'Uniqueness':
      return measured(`${columnsPrefix(parameters)}.Uniqueness`, (await frequencies(context, parameters, where)).uniqueness);
    case 'UniqueValueRatio':
      return measured(`Column.${column}.UniqueValueRatio`, (await frequencies(context, parameters, where)).uniqueValueRatio);
    case 'DistinctValuesCount':
      return measured(`Column.${column}.DistinctValuesCount`, (await frequencies(context, parameters, where)).distinctValues);
    case 'Entropy':
      return measured(`Column.${column}.Entropy`, (await frequencies(context, parameters, where)).entropy);
    case 'ColumnLength': {
      const row = await aggregate(context, src, { hi: `max(length(CAST(${col} AS VARCHAR)))`, lo: `min(length(CAST(${col} AS VARCHAR)))` });
      return measured(`Column.${column}.MaximumLength`, toNumber(row.hi), { [`Column.${column}.MinimumLength`]: toNumber(row.lo) });
    }
    case 'ColumnValues': {
      const row = await aggregate(context, src, { hi: `max(CAST(${col} AS DOUBLE))`, lo: `min(CAST(${col} AS DOUBLE))` });
      return measured(`Column.${column}.Maximum`, toNumber(row.hi), { [`Column.${column}.Minimum`]: toNumber(row.lo) });
    }
    case 'RowCountMatch': {
      const alias = column;
      const ref = reference(context, alias);
      const row = await queryOne(context.engine, `SELECT (SELECT count(*) FROM ${src})::DOUBLE AS p, (SELECT count(*) FROM ${ref.relation})::DOUBLE AS r`);
      return measured(`Dataset.${alias}.RowCountMatch`, ratio(toNumber(row.p), toNumber(row.r)));
    }
    case 'CustomSql': {
      const { rows, columns } = await context.engine.query(customSql(column, context));
      if (rows.length !== 1 || columns.length !== 1) {
        throw new RuleEvaluationError(`CustomSql must return a single value; it returned ${rows.length} row(s) of ${columns.length} column(s)`);
      }
      const value = rows[0]![columns[0]!.name];
      const n = toNumber(value);
      if (n === null && value !== null) throw new RuleEvaluationError(`CustomSql must return a number; it returned ${JSON.stringify(value)}`);
      return measured('Dataset.*.CustomSQL', n);
    }
  }
}

/**
 * Runs a CustomSql statement with `primary` and each reference alias bound to their relations. `primary` is
 * reserved in DuckDB, so the bare word is quoted outside string literals and quoted identifiers.
 */
export function customSql(sql: string, context: EvaluationContext): string {
  const bindings = [`"primary" AS (SELECT * FROM ${context.primary.relation})`];
  for (const [alias, dataset] of Object.entries(context.references ?? {})) bindings.push(`${quoteIdentifier(alias)} AS (SELECT * FROM ${dataset.relation})`);
  return `WITH ${bindings.join(', ')} SELECT * FROM (${quotePrimary(sql)}) AS custom_sql`;
}

function quotePrimary(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== ch) j++;
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i));
    if (word) {
      const before = sql.slice(0, i).trimEnd();
      const after = sql.slice(i + word[0].length).trimStart();
      const isTable = word[0].toLowerCase() === 'primary' && !before.endsWith('.') && !/^key\b/i.test(after);
      out += isTable ? '"primary"' : word[0];
      i += word[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** Glue's ColumnDataType names, and the DuckDB types that declare each. */
const GLUE_TYPES: Readonly<Record<string, { readonly declared: RegExp; readonly castable: (value: string) => string }>> = {
  STRING: { declared: /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)/, castable: () => 'true' },
  BOOLEAN: { declared: /^BOOL/, castable: (v) => `lower(trim(${v})) IN ('true', 'false')` },
  INTEGER: { declared: /^(INTEGER|INT4|INT)$/, castable: (v) => integral(v, 'INTEGER') },
  LONG: { declared: /^(BIGINT|INT8|LONG)$/, castable: (v) => integral(v, 'BIGINT') },
  SHORT: { declared: /^(SMALLINT|INT2|SHORT)$/, castable: (v) => integral(v, 'SMALLINT') },
  BYTE: { declared: /^(TINYINT|INT1)$/, castable: (v) => integral(v, 'TINYINT') },
  DOUBLE: { declared: /^(DOUBLE|FLOAT8)$/, castable: (v) => `TRY_CAST(trim(${v}) AS DOUBLE) IS NOT NULL` },
  FLOAT: { declared: /^(FLOAT|REAL|FLOAT4)$/, castable: (v) => `TRY_CAST(trim(${v}) AS FLOAT) IS NOT NULL` },
  DECIMAL: { declared: /^(DECIMAL|NUMERIC)/, castable: (v) => `TRY_CAST(trim(${v}) AS DECIMAL(38, 10)) IS NOT NULL` },
  DATE: { declared: /^DATE$/, castable: (v) => `TRY_CAST(trim(${v}) AS DATE) IS NOT NULL` },
  TIMESTAMP: { declared: /^TIMESTAMP/, castable: (v) => `TRY_CAST(trim(${v}) AS TIMESTAMP) IS NOT NULL` },
};

// DuckDB rounds '1.5' to 2 when casting to an integer; Glue refuses it, so digits only.
const integral = (v: string, type: string): string => `(regexp_full_match(trim(${v}), '[+-]?[0-9]+') AND TRY_CAST(trim(${v}) AS ${type}) IS NOT NULL)`;

/**
 * ColumnDataType's compliance: for a text column, the share of its non-NULL values that read as one of the
 * types; for a typed column, 1 when its declared type is one of them and 0 otherwise.
 */
export async function dataTypeCompliance(context: EvaluationContext, column: string, typeNames: readonly string[], negated: boolean, where?: string): Promise<number | null> {
  const specs = typeNames.map((name) => {
    const spec = GLUE_TYPES[name.toUpperCase()];
    if (!spec) throw new RuleEvaluationError(`unknown data type "${name}" (one of ${Object.keys(GLUE_TYPES).join(', ')})`);
    return spec;
  });
  const found = findColumn(context.primary, column);
  if (found && columnKind(found.type) !== 'string') {
    const matches = specs.some((spec) => spec.declared.test(found.type.toUpperCase()));
    return matches !== negated ? 1 : 0;
  }
  const col = quoteIdentifier(column);
  const any = specs.map((spec) => `(${spec.castable(col)})`).join(' OR ');
  const pass = negated ? `NOT coalesce(${any}, false)` : `coalesce(${any}, false)`;
  const row = await aggregate(context, source(context.primary, where), { v: `(count(*) FILTER (WHERE ${col} IS NOT NULL AND ${pass}))::DOUBLE / nullif(count(${col}), 0)` });
  return toNumber(row.v);
}
