import type { Engine, ResultValue } from '../../engine/index.ts';
import type { RuleType } from '../dqdl/index.ts';

export interface QualityDataset {
  /** Something DuckDB can select from: a quoted view name, or `(SELECT ...)`. */
  readonly relation: string;
  /** Its columns with DuckDB types, in order. */
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

export interface EvaluationContext {
  readonly engine: Engine;
  readonly primary: QualityDataset;
  /** Reference datasets by alias, for RowCountMatch, ReferentialIntegrity and CustomSql (which may name them in its SQL). */
  readonly references?: Readonly<Record<string, QualityDataset>>;
  /** What now() and DataFreshness measure against. */
  readonly now: Date;
  /** Earlier values of a metric (oldest first), for dynamic rules (last(k) = newest k) and DetectAnomalies. Absent = no history. */
  readonly history?: (metric: string) => Promise<readonly number[]>;
  /** Set by `evaluateRuleset`: computes the aggregates its rules ask for over the same rows in one query. */
  readonly aggregates?: AggregateSource;
}

/** One row of aggregate expressions (by alias) over a relation. */
export interface AggregateSource {
  request(relation: string, expressions: Readonly<Record<string, string>>): Promise<Readonly<Record<string, ResultValue>>>;
}

export type Outcome = 'PASS' | 'FAIL' | 'ERROR';

export interface RuleResult {
  /** printRule(rule). */
  readonly rule: string;
  readonly ruleType: RuleType | 'Composite';
  readonly outcome: Outcome;
  /** The metric the rule measures, named as Glue names its evaluated metrics ('Dataset.*.RowCount', 'Column.age.ColumnValues.Compliance'). Absent for composites and ColumnExists. */
  readonly metric?: string;
  /** The measured value of `metric`. */
  readonly value: number | null;
  /** The constraint as evaluated, dynamic values resolved: '> 950.5', 'between 1 and 10', '= 1.0'. */
  readonly threshold?: string;
  /** For a person: why it failed or errored; '' when it passed (except notes such as "no history yet"). */
  readonly message: string;
  /** Every metric computed (Glue's EvaluatedMetrics), including `metric`. */
  readonly evaluatedMetrics: Readonly<Record<string, number>>;
  /** Row-level rules only: TRUE for a row of the primary dataset that passes, FALSE otherwise, never NULL. Rows outside the rule's `where` pass. */
  readonly rowPredicate?: string;
  /** Composites: their operands' results. */
  readonly operands?: readonly RuleResult[];
}

export interface AnalyzerResult {
  readonly analyzer: string;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface RulesetResult {
  readonly results: readonly RuleResult[];
  readonly analyzers: readonly AnalyzerResult[];
  /** Share of rules that passed (Glue's score), 1 when there are none. */
  readonly score: number;
}
