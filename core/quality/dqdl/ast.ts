/**
 * The typed AST of a DQDL document (AWS Glue Data Quality's Data Quality Definition Language,
 * https://docs.aws.amazon.com/glue/latest/dg/dqdl.html).
 */

/** Where a node starts in the source, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

export type ComparisonOperator = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type ArithmeticOperator = '+' | '-' | '*' | '/';
export type DurationUnit = 'minutes' | 'hours' | 'days';
/** Keywords for special column values (DQDL reference, "Keywords for NULL, EMPTY and WHITESPACES_ONLY"). */
export type SpecialValue = 'NULL' | 'EMPTY' | 'WHITESPACES_ONLY';
/** Functions over a rule's history in dynamic rules (DQDL reference, "Dynamic rules"). */
export type AggregateFunction = 'avg' | 'min' | 'max' | 'sum' | 'std' | 'median';

/**
 * A value in an expression. Dates and times are strings (`"2024-01-01"`, `"9:30 AM"`), as Glue writes them;
 * the evaluator interprets them against the column type.
 */
export type Value =
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'string'; value: string }
  | { kind: 'special'; value: SpecialValue }
  | { kind: 'duration'; amount: number; unit: DurationUnit }
  | { kind: 'now' }
  /** `last(k)`: the rule's last k evaluated values. */
  | { kind: 'last'; count: number }
  /** `avg(last(10))` etc. */
  | { kind: 'aggregate'; fn: AggregateFunction; of: Value }
  /** `index(last(k), i)`: the i-th (0-based) of the last k values. */
  | { kind: 'index'; of: Value; index: number }
  | { kind: 'abs'; of: Value }
  | { kind: 'binary'; op: ArithmeticOperator; left: Value; right: Value }
  /** `$name`: a constant defined at the top of the document. */
  | { kind: 'variable'; name: string };

export type Constraint =
  | { kind: 'compare'; op: ComparisonOperator; value: Value }
  /** `between a and b`. Glue's `between` is exclusive: a < x < b. */
  | { kind: 'between'; low: Value; high: Value }
  /** `in [...]` / `not in [...]`, or a constant holding a list. */
  | { kind: 'in'; negated: boolean; values: Value[] | { kind: 'variable'; name: string } }
  | { kind: 'matches'; pattern: string };

/** `with threshold > 0.9`: the share of rows that must pass a row-level rule. */
export type Threshold = Exclude<Constraint, { kind: 'in' } | { kind: 'matches' }>;

export type RuleType =
  | 'RowCount' | 'ColumnCount' | 'Completeness' | 'IsComplete' | 'Uniqueness' | 'IsUnique' | 'IsPrimaryKey'
  | 'ColumnValues' | 'ColumnLength' | 'ColumnExists' | 'ColumnDataType' | 'Mean' | 'Sum' | 'StandardDeviation'
  | 'DistinctValuesCount' | 'UniqueValueRatio' | 'DataFreshness' | 'RowCountMatch' | 'ReferentialIntegrity'
  | 'CustomSql' | 'DetectAnomalies' | 'Entropy' | 'ColumnCorrelation';

export interface SimpleRule {
  kind: 'rule';
  type: RuleType;
  /** Quoted parameters in order: column names, a reference alias, SQL, or a rule name (DetectAnomalies). */
  parameters: string[];
  constraint?: Constraint;
  threshold?: Threshold;
  /** `where "..."`: a SQL predicate that filters rows before the rule is evaluated. */
  where?: string;
  position: SourcePosition;
}

export interface CompositeRule {
  kind: 'composite';
  op: 'and' | 'or';
  operands: Rule[];
  position: SourcePosition;
}

export type Rule = SimpleRule | CompositeRule;

export type AnalyzerType =
  | 'RowCount' | 'ColumnCount' | 'Completeness' | 'Uniqueness' | 'Mean' | 'Sum' | 'StandardDeviation'
  | 'DistinctValuesCount' | 'UniqueValueRatio' | 'ColumnLength' | 'ColumnValues' | 'Entropy'
  | 'ColumnCorrelation' | 'CustomSql' | 'AllStatistics';

/** An entry of `Analyzers = [...]`: computes a metric, never passes or fails. */
export interface Analyzer {
  type: AnalyzerType;
  parameters: string[];
  where?: string;
  position: SourcePosition;
}

export interface Ruleset {
  rules: Rule[];
  analyzers: Analyzer[];
  /** Constants defined before the sections (`name = value`), referenced as `$name`. */
  variables?: Record<string, Value | Value[]>;
}
