import type {
  AggregateFunction, Analyzer, AnalyzerType, ComparisonOperator, Constraint, DurationUnit, Rule, RuleType, Ruleset,
  SimpleRule, SourcePosition, Threshold, Value,
} from './ast.ts';
import { DqdlSyntaxError } from './errors.ts';
import { tokenize, type Token } from './tokenizer.ts';

/**
 * Parameter shape per rule type: how many quoted parameters it takes, whether it needs an expression, and
 * which clauses it allows. Sources are the Glue rule-type pages under
 * https://docs.aws.amazon.com/glue/latest/dg/dqdl-rule-types.html (one page per type, e.g.
 * dqdl-rule-types-ColumnValues.html); the "Supports Where Clause Syntax?" column of that table says where
 * `where` is allowed (ColumnCount and ColumnExists: no).
 */
interface RuleSpec {
  /** Minimum and maximum number of quoted parameters. */
  params: [number, number];
  /** What the parameters are, for messages. */
  paramName: string;
  expression: 'required' | 'none' | 'optional';
  where: boolean;
  /** `with threshold`: only rules with row-level results take one. */
  threshold: boolean;
}

const col1 = (expression: RuleSpec['expression'], extra: Partial<RuleSpec> = {}): RuleSpec => ({
  params: [1, 1], paramName: 'column name', expression, where: true, threshold: false, ...extra,
});

export const RULE_SPECS: Readonly<Record<RuleType, RuleSpec>> = {
  // RowCount <EXPRESSION> (dqdl-rule-types-RowCount): no parameters.
  RowCount: { params: [0, 0], paramName: 'parameter', expression: 'required', where: true, threshold: false },
  ColumnCount: { params: [0, 0], paramName: 'parameter', expression: 'required', where: false, threshold: false },
  Completeness: col1('required'),
  IsComplete: col1('none'),
  Uniqueness: col1('required'),
  IsUnique: col1('none'),
  // IsPrimaryKey takes one or more columns (a composite key).
  IsPrimaryKey: col1('none', { params: [1, Number.POSITIVE_INFINITY] }),
  ColumnValues: col1('required', { threshold: true }),
  ColumnLength: col1('required', { threshold: true }),
  ColumnExists: col1('none', { where: false }),
  // ColumnDataType "col" = "INTEGER" / in ["DATE", "STRING"], with threshold.
  ColumnDataType: col1('required', { threshold: true }),
  Mean: col1('required'),
  Sum: col1('required'),
  StandardDeviation: col1('required'),
  DistinctValuesCount: col1('required'),
  UniqueValueRatio: col1('required'),
  Entropy: col1('required'),
  // DataFreshness <COL_NAME> <EXPRESSION>: "A numeric expression in hours or days. You must specify the time
  // unit in your expression." (dqdl-rule-types-DataFreshness)
  DataFreshness: col1('required', { threshold: true }),
  ColumnCorrelation: { params: [2, 2], paramName: 'column name', expression: 'required', where: true, threshold: false },
  // RowCountMatch <REFERENCE_DATASET_ALIAS> <EXPRESSION>
  RowCountMatch: { params: [1, 1], paramName: 'reference dataset alias', expression: 'required', where: false, threshold: false },
  // ReferentialIntegrity <PRIMARY_COLS> <REFERENCE_DATASET_COLS> <EXPRESSION>, e.g. "city,state" "reference.{ref_city,ref_state}"
  ReferentialIntegrity: { params: [2, 2], paramName: 'column list', expression: 'required', where: false, threshold: false },
  // CustomSql <SQL_STATEMENT> <EXPRESSION>; the row-level form has no expression and may have a threshold
  // (dqdl-rule-types-CustomSql: CustomSql "select Name from primary where Age > 18" with threshold > 3).
  CustomSql: { params: [1, 1], paramName: 'SQL statement', expression: 'optional', where: false, threshold: true },
  // DetectAnomalies <RULE_NAME> <RULE_PARAMETERS> (dqdl-rule-types-DetectAnomalies)
  DetectAnomalies: { params: [1, 3], paramName: 'rule name or parameter', expression: 'none', where: false, threshold: false },
};

/** Rules DetectAnomalies accepts as RULE_NAME (dqdl-rule-types-DetectAnomalies). */
export const ANOMALY_RULES: ReadonlySet<string> = new Set([
  'RowCount', 'Completeness', 'Uniqueness', 'Mean', 'Sum', 'StandardDeviation', 'Entropy', 'DistinctValuesCount',
  'UniqueValueRatio', 'ColumnLength', 'ColumnValues', 'ColumnCorrelation', 'CustomSQL', 'ColumnCount',
]);

/** Analyzer parameter counts ("Supported as Analyzer?" column of the rule type reference). */
const ANALYZER_PARAMS: Readonly<Record<AnalyzerType, number>> = {
  RowCount: 0, ColumnCount: 0, Completeness: 1, Uniqueness: 1, Mean: 1, Sum: 1, StandardDeviation: 1,
  DistinctValuesCount: 1, UniqueValueRatio: 1, ColumnLength: 1, ColumnValues: 1, Entropy: 1,
  ColumnCorrelation: 2, CustomSql: 1, AllStatistics: 1,
};

const AGGREGATES: ReadonlySet<string> = new Set<AggregateFunction>(['avg', 'min', 'max', 'sum', 'std', 'median']);
const UNITS: Readonly<Record<string, DurationUnit>> = {
  minutes: 'minutes', minute: 'minutes', hours: 'hours', hour: 'hours', days: 'days', day: 'days',
};
const SPECIAL = new Set(['NULL', 'EMPTY', 'WHITESPACES_ONLY']);
const CONSTRAINT_START = '=, !=, >, >=, <, <=, between, in, not in or matches';

const describe = (t: Token): string => (t.kind === 'eof' ? 'the end of the document' : `"${t.raw}"`);
const ordinal = (n: number): string => (n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`);

class Parser {
  private pos = 0;
  private readonly variables: Record<string, Value | Value[]> = {};

  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private isWord(t: Token, ...words: string[]): boolean {
    return t.kind === 'ident' && words.includes(t.value);
  }
  private fail(at: Token, expected: string): never {
    throw new DqdlSyntaxError(at.line, at.column, expected);
  }
  private expectKind(kind: Token['kind'], what: string): Token {
    const t = this.peek();
    if (t.kind !== kind) this.fail(t, `expected ${what}, found ${describe(t)}`);
    return this.next();
  }

  parseDocument(): Ruleset {
    let rules: Rule[] | undefined;
    let analyzers: Analyzer[] | undefined;
    while (this.peek().kind !== 'eof') {
      const t = this.peek();
      if (t.kind !== 'ident') this.fail(t, `expected "Rules = [", "Analyzers = [" or a constant definition, found ${describe(t)}`);
      if (t.value === 'Rules' || t.value === 'Analyzers') {
        this.next();
        this.expectEquals(t.value);
        if (t.value === 'Rules') {
          if (rules) this.fail(t, 'expected only one Rules section');
          rules = this.parseList('rule', () => this.parseRuleExpression());
        } else {
          if (analyzers) this.fail(t, 'expected only one Analyzers section');
          analyzers = this.parseList('analyzer', () => this.parseAnalyzer());
        }
        continue;
      }
      if (t.value.toLowerCase() === 'rules' || t.value.toLowerCase() === 'analyzers') {
        // DQDL is case sensitive: "a list named Rules (capitalized)" (dqdl.html, "DQDL syntax").
        this.fail(t, `expected "${t.value.toLowerCase() === 'rules' ? 'Rules' : 'Analyzers'}" (DQDL is case sensitive), found "${t.value}"`);
      }
      this.parseConstant();
    }
    if (!rules && !analyzers) this.fail(this.peek(), 'expected a "Rules = [ ... ]" section');
    const ruleset: Ruleset = { rules: rules ?? [], analyzers: analyzers ?? [] };
    if (Object.keys(this.variables).length > 0) ruleset.variables = { ...this.variables };
    return ruleset;
  }

  private expectEquals(section: string): void {
    const eq = this.peek();
    if (eq.kind !== 'op' || eq.value !== '=') this.fail(eq, `expected "=" after ${section}, found ${describe(eq)}`);
    this.next();
  }

  /** `name = value` or `name = [values]`, referenced later as `$name`. */
  private parseConstant(): void {
    const name = this.next();
    if (SPECIAL.has(name.value) || this.isWord(name, 'and', 'or', 'between', 'in', 'not', 'matches', 'with', 'where', 'now')) {
      this.fail(name, `expected "Rules = [", "Analyzers = [" or a constant definition, found keyword "${name.value}"`);
    }
    const eq = this.peek();
    if (eq.kind !== 'op' || eq.value !== '=') {
      this.fail(eq, `expected "=" after constant name "${name.value}" (or "Rules = [" if "${name.value}" is a misspelled section), found ${describe(eq)}`);
    }
    this.next();
    if (name.value in this.variables) this.fail(name, `expected a new constant name; "${name.value}" is already defined`);
    this.variables[name.value] = this.peek().kind === '[' ? this.parseValueList() : this.parseValue('a constant value');
  }

  private parseList<T>(what: string, item: () => T): T[] {
    this.expectKind('[', `"[" to open the list of ${what}s`);
    const items: T[] = [];
    if (this.peek().kind === ']') {
      // "The list should contain one or more comma-separated DQDL rules" (dqdl.html, "DQDL syntax").
      this.fail(this.peek(), `expected at least one ${what}`);
    }
    for (;;) {
      items.push(item());
      const t = this.peek();
      if (t.kind === ',') {
        this.next();
        if (this.peek().kind === ']') this.fail(this.peek(), `expected a ${what} after ","`);
        continue;
      }
      if (t.kind === ']') {
        this.next();
        return items;
      }
      if (this.isWord(t, 'and', 'or', 'AND', 'OR')) {
        // "Each rule that you connect with the and operator must be enclosed in parentheses." (dqdl.html, "Composite rules")
        this.fail(t, `expected "," or "]"; rules joined with "${t.value}" must each be in parentheses, e.g. (IsComplete "id") and (IsUnique "id")`);
      }
      this.fail(t, `expected "," or "]" after the ${what}, found ${describe(t)}`);
    }
  }

  /**
   * A rule or a composite: `(A) and (B) and (C)`, `(A) or ((B) and (C))`. Operands of and/or must be in
   * parentheses, and one level mixes only one operator (dqdl.html, "Composite rules").
   */
  private parseRuleExpression(): Rule {
    const start = this.peek();
    if (start.kind !== '(') return this.parseSimpleRule();
    const first = this.parseParenthesized();
    const operands: Rule[] = [first];
    let op: 'and' | 'or' | undefined;
    while (this.isWord(this.peek(), 'and', 'or', 'AND', 'OR')) {
      const opTok = this.next();
      const thisOp = opTok.value.toLowerCase() as 'and' | 'or';
      if (op && op !== thisOp) {
        this.fail(opTok, `expected "${op}" to continue this composite rule; to mix "and" and "or", put parentheses around one side`);
      }
      op = thisOp;
      if (this.peek().kind !== '(') {
        this.fail(this.peek(), `expected "(" after "${opTok.value}": each rule joined with "${thisOp}" must be in parentheses`);
      }
      operands.push(this.parseParenthesized());
    }
    if (!op) return first;
    return { kind: 'composite', op, operands, position: pos(start) };
  }

  private parseParenthesized(): Rule {
    const open = this.next();
    if (this.peek().kind === ')') this.fail(this.peek(), 'expected a rule inside "( )"');
    const inner = this.parseRuleExpression();
    const close = this.peek();
    if (close.kind !== ')') {
      this.fail(close, `expected ")" to close the "(" at line ${open.line}, column ${open.column}, found ${describe(close)}`);
    }
    this.next();
    return inner;
  }

  private ruleType(t: Token, what: 'rule' | 'analyzer'): string {
    if (t.kind !== 'ident') this.fail(t, `expected a ${what} type such as RowCount or IsComplete "column", found ${describe(t)}`);
    return t.value;
  }

  private parseSimpleRule(): SimpleRule {
    const typeTok = this.next();
    const name = this.ruleType(typeTok, 'rule');
    if (!Object.hasOwn(RULE_SPECS, name)) {
      const alt = Object.keys(RULE_SPECS).find((k) => k.toLowerCase() === name.toLowerCase());
      this.fail(typeTok, alt
        ? `expected a rule type; "${name}" is spelled "${alt}" (DQDL is case sensitive)`
        : `expected a rule type (one of ${Object.keys(RULE_SPECS).join(', ')}), found "${name}"`);
    }
    const type = name as RuleType;
    const spec = RULE_SPECS[type];
    const parameters = this.parseParameters(type, spec.params, spec.paramName);
    const rule: SimpleRule = { kind: 'rule', type, parameters, position: pos(typeTok) };

    if (type === 'DetectAnomalies' && !ANOMALY_RULES.has(parameters[0]!)) {
      this.fail(this.tokens[this.pos - parameters.length]!, `expected a rule name DetectAnomalies supports (${[...ANOMALY_RULES].join(', ')}), found "${parameters[0]}"`);
    }

    if (this.startsConstraint(this.peek())) {
      if (spec.expression === 'none') {
        this.fail(this.peek(), `expected "," or "]": ${type} takes no expression, found ${describe(this.peek())}`);
      }
      const cTok = this.peek();
      rule.constraint = this.parseConstraint(`${type}${parameters.map((p) => ` "${p}"`).join('')}`);
      if (type === 'DataFreshness') this.checkDurations(rule.constraint, cTok);
    } else if (spec.expression === 'required') {
      const t = this.peek();
      const hint = t.kind === 'string' ? ` (${type} takes ${describeCount(spec.params)} ${spec.paramName}${spec.params[1] === 1 ? '' : 's'})` : '';
      this.fail(t, `expected an expression (${CONSTRAINT_START}) after ${type}${parameters.map((p) => ` "${p}"`).join('')}, found ${describe(t)}${hint}`);
    }
    this.parseClauses(rule, spec);
    return rule;
  }

  private parseParameters(type: string, [min, max]: [number, number], paramName: string): string[] {
    const parameters: string[] = [];
    while (this.peek().kind === 'string') {
      const t = this.peek();
      if (parameters.length >= max) {
        this.fail(t, `${type} takes ${describeCount([min, max])} ${paramName}${max === 1 ? '' : 's'}; expected an expression or the end of the rule, found a ${ordinal(parameters.length + 1)} parameter ${t.raw}`);
      }
      parameters.push(this.next().value);
    }
    if (parameters.length < min) {
      this.fail(this.peek(), `expected a quoted ${paramName} after ${type}${parameters.map((p) => ` "${p}"`).join('')} (${type} takes ${describeCount([min, max])}), found ${describe(this.peek())}`);
    }
    return parameters;
  }

  private parseClauses(rule: SimpleRule, spec: RuleSpec): void {
    for (;;) {
      const t = this.peek();
      if (this.isWord(t, 'where')) {
        if (!spec.where) this.fail(t, `expected "," or "]": ${rule.type} does not support a where clause`);
        if (rule.where !== undefined) this.fail(t, 'expected one where clause per rule');
        this.next();
        const s = this.peek();
        if (s.kind !== 'string') this.fail(s, `expected a quoted SQL condition after "where", found ${describe(s)}`);
        rule.where = this.next().value;
        continue;
      }
      if (this.isWord(t, 'with')) {
        this.next();
        const th = this.peek();
        if (!this.isWord(th, 'threshold')) this.fail(th, `expected "threshold" after "with", found ${describe(th)}`);
        if (!spec.threshold) this.fail(t, `expected "," or "]": ${rule.type} does not take "with threshold"`);
        if (rule.threshold) this.fail(t, 'expected one "with threshold" per rule');
        this.next();
        rule.threshold = this.parseThreshold();
        continue;
      }
      return;
    }
  }

  private parseThreshold(): Threshold {
    const t = this.peek();
    if (t.kind === 'op') {
      this.next();
      return { kind: 'compare', op: t.value as ComparisonOperator, value: this.parseValue(`a threshold value after "${t.value}"`) };
    }
    if (this.isWord(t, 'between')) {
      this.next();
      const low = this.parseValue('a threshold value after "between"');
      this.expectAnd();
      return { kind: 'between', low, high: this.parseValue('a threshold value after "and"') };
    }
    this.fail(t, `expected a comparison (=, !=, >, >=, <, <=) or between after "with threshold", found ${describe(t)}`);
  }

  private startsConstraint(t: Token): boolean {
    return t.kind === 'op' || this.isWord(t, 'between', 'in', 'not', 'NOT', 'matches');
  }

  private expectAnd(): void {
    const t = this.peek();
    if (!this.isWord(t, 'and', 'AND')) this.fail(t, `expected "and" in "between ... and ...", found ${describe(t)}`);
    this.next();
  }

  /** Expressions (dqdl.html, "Expressions"). */
  private parseConstraint(subject: string): Constraint {
    const t = this.next();
    if (t.kind === 'op') {
      return { kind: 'compare', op: t.value as ComparisonOperator, value: this.parseValue(`a value after "${t.value}"`) };
    }
    if (t.value === 'between') {
      // Glue's between is exclusive (issue 6 and the DQDL "Expressions" section); the AST records bounds only.
      const low = this.parseValue('a value after "between"');
      this.expectAnd();
      return { kind: 'between', low, high: this.parseValue('a value after "and"') };
    }
    if (t.value === 'matches') {
      const s = this.peek();
      if (s.kind !== 'string') this.fail(s, `expected a quoted regular expression after "matches", found ${describe(s)}`);
      this.next();
      try {
        new RegExp(s.value);
      } catch (e) {
        this.fail(s, `expected a valid regular expression after "matches": ${(e as Error).message}`);
      }
      return { kind: 'matches', pattern: s.value };
    }
    let negated = false;
    if (t.value === 'not' || t.value === 'NOT') {
      negated = true;
      const i = this.peek();
      // ColumnValues "Age" not in [21, 22, 23] (dqdl-rule-types-ColumnValues, "Null behavior").
      if (!this.isWord(i, 'in', 'IN')) this.fail(i, `expected "in" after "not", found ${describe(i)}`);
      this.next();
    }
    const l = this.peek();
    if (l.kind === 'variable') {
      this.next();
      this.checkVariable(l);
      return { kind: 'in', negated, values: { kind: 'variable', name: l.value } };
    }
    if (l.kind !== '[') this.fail(l, `expected "[" to start the list after "${negated ? 'not in' : 'in'}" in ${subject}, found ${describe(l)}`);
    return { kind: 'in', negated, values: this.parseValueList() };
  }

  private parseValueList(): Value[] {
    this.expectKind('[', '"["');
    const values: Value[] = [];
    if (this.peek().kind === ']') this.fail(this.peek(), 'expected at least one value in the list');
    for (;;) {
      values.push(this.parseValue('a value in the list'));
      const t = this.next();
      if (t.kind === ']') return values;
      if (t.kind !== ',') this.fail(t, `expected "," or "]" in the list, found ${describe(t)}`);
    }
  }

  /** value := term (('+'|'-') term)*; term := factor (('*'|'/') factor)* */
  private parseValue(what: string): Value {
    let left = this.parseTerm(what);
    while (this.peek().kind === 'arith' && (this.peek().value === '+' || this.peek().value === '-')) {
      const op = this.next().value as '+' | '-';
      left = { kind: 'binary', op, left, right: this.parseTerm(`a value after "${op}"`) };
    }
    return left;
  }

  private parseTerm(what: string): Value {
    let left = this.parseFactor(what);
    while (this.peek().kind === 'arith' && (this.peek().value === '*' || this.peek().value === '/')) {
      const op = this.next().value as '*' | '/';
      left = { kind: 'binary', op, left, right: this.parseFactor(`a value after "${op}"`) };
    }
    return left;
  }

  private parseFactor(what: string): Value {
    const t = this.peek();
    switch (t.kind) {
      case 'number': {
        this.next();
        const amount = Number(t.value);
        const u = this.peek();
        if (u.kind === 'ident' && Object.hasOwn(UNITS, u.value)) {
          this.next();
          return { kind: 'duration', amount, unit: UNITS[u.value]! };
        }
        return { kind: 'number', value: amount, raw: t.value };
      }
      case 'string':
        this.next();
        return { kind: 'string', value: t.value };
      case 'variable':
        this.next();
        this.checkVariable(t);
        return { kind: 'variable', name: t.value };
      case '(': {
        this.next();
        const inner = this.parseValue(what);
        const c = this.peek();
        if (c.kind !== ')') this.fail(c, `expected ")" to close the "(" at line ${t.line}, column ${t.column}, found ${describe(c)}`);
        this.next();
        return inner;
      }
      case 'ident': {
        if (SPECIAL.has(t.value)) {
          this.next();
          return { kind: 'special', value: t.value as 'NULL' | 'EMPTY' | 'WHITESPACES_ONLY' };
        }
        if (this.peek(1).kind === '(') return this.parseCall();
        return this.fail(t, `expected ${what}, found ${describe(t)}`);
      }
      default:
        this.fail(t, `expected ${what}, found ${describe(t)}`);
    }
  }

  /** now(), last(k), avg|min|max|sum|std|median(last(k)), index(last(k), i), abs(x) (dqdl.html, "Dynamic rules"). */
  private parseCall(): Value {
    const name = this.next();
    const open = this.next();
    const close = (): void => {
      const c = this.peek();
      if (c.kind !== ')') this.fail(c, `expected ")" to close "${name.value}(" at line ${open.line}, column ${open.column}, found ${describe(c)}`);
      this.next();
    };
    if (name.value === 'now') {
      close();
      return { kind: 'now' };
    }
    if (name.value === 'last') {
      const k = this.peek();
      if (k.kind !== 'number' || !/^[1-9][0-9]*$/.test(k.value)) this.fail(k, `expected a positive whole number of runs in last(...), found ${describe(k)}`);
      this.next();
      close();
      return { kind: 'last', count: Number(k.value) };
    }
    if (AGGREGATES.has(name.value)) {
      const a = this.peek();
      if (!(this.isWord(a, 'last') && this.peek(1).kind === '(')) {
        this.fail(a, `expected last(k) inside ${name.value}(...), e.g. ${name.value}(last(10)), found ${describe(a)}`);
      }
      const of = this.parseCall();
      close();
      return { kind: 'aggregate', fn: name.value as AggregateFunction, of };
    }
    if (name.value === 'index') {
      const a = this.peek();
      if (!(this.isWord(a, 'last') && this.peek(1).kind === '(')) this.fail(a, `expected last(k) as the first argument of index(...), found ${describe(a)}`);
      const of = this.parseCall();
      this.expectKind(',', '"," between the arguments of index(...)');
      const i = this.peek();
      if (i.kind !== 'number' || !/^[0-9]+$/.test(i.value)) this.fail(i, `expected a whole-number position in index(...), found ${describe(i)}`);
      this.next();
      close();
      return { kind: 'index', of, index: Number(i.value) };
    }
    if (name.value === 'abs') {
      const of = this.parseValue('a value inside abs(...)');
      close();
      return { kind: 'abs', of };
    }
    this.fail(name, `expected a value; "${name.value}(...)" is not a DQDL function (now, last, avg, min, max, sum, std, median, index, abs)`);
  }

  private checkVariable(t: Token): void {
    if (!(t.value in this.variables)) this.fail(t, `expected a defined constant; "$${t.value}" is not defined above the Rules section`);
  }

  private checkDurations(c: Constraint, at: Token): void {
    const values = c.kind === 'compare' ? [c.value] : c.kind === 'between' ? [c.low, c.high] : [];
    if (values.length === 0 || !values.every(isTimeValue)) {
      // "You must specify the time unit in your expression." (dqdl-rule-types-DataFreshness)
      throw new DqdlSyntaxError(at.line, at.column, 'expected DataFreshness to compare with a duration such as 24 hours or 2 days (the time unit is required)');
    }
  }

  private parseAnalyzer(): Analyzer {
    const t = this.next();
    const name = this.ruleType(t, 'analyzer');
    if (!Object.hasOwn(ANALYZER_PARAMS, name)) {
      this.fail(t, `expected an analyzer type (one of ${Object.keys(ANALYZER_PARAMS).join(', ')}), found "${name}"`);
    }
    const type = name as AnalyzerType;
    const n = ANALYZER_PARAMS[type];
    const parameters = this.parseParameters(type, [n, n], type === 'CustomSql' ? 'SQL statement' : 'column name');
    const analyzer: Analyzer = { type, parameters, position: pos(t) };
    if (this.startsConstraint(this.peek())) this.fail(this.peek(), `expected "," or "]": analyzers take no expression, found ${describe(this.peek())}`);
    if (this.isWord(this.peek(), 'where')) {
      this.next();
      const s = this.peek();
      if (s.kind !== 'string') this.fail(s, `expected a quoted SQL condition after "where", found ${describe(s)}`);
      analyzer.where = this.next().value;
    }
    return analyzer;
  }
}

function isTimeValue(v: Value): boolean {
  if (v.kind === 'duration') return true;
  if (v.kind === 'binary') return isTimeValue(v.left) || isTimeValue(v.right);
  return v.kind === 'variable' || v.kind === 'aggregate' || v.kind === 'last' || v.kind === 'index' || v.kind === 'abs';
}

function describeCount([min, max]: [number, number]): string {
  if (min === max) return min === 0 ? 'no' : `exactly ${min}`;
  if (max === Number.POSITIVE_INFINITY) return `at least ${min}`;
  return `${min} to ${max}`;
}

function pos(t: Token): SourcePosition {
  return { line: t.line, column: t.column };
}

/**
 * Parses a DQDL document into a {@link Ruleset}.
 *
 * @throws {DqdlSyntaxError} with the line, column and what was expected.
 * @example
 * parseDqdl('Rules = [ RowCount > 100, IsComplete "order_id" ]').rules.length; // 2
 */
export function parseDqdl(text: string): Ruleset {
  return new Parser(tokenize(text)).parseDocument();
}
