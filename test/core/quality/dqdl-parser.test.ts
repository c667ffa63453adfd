import { describe, expect, it } from 'vitest';
import { DqdlSyntaxError, parseDqdl, tokenize, type Rule, type SimpleRule } from '../../../core/quality/dqdl/index.ts';
import { MedallionError } from '../../../core/errors.ts';

/** Parses one rule inside `Rules = [ ... ]` and returns it without positions. */
function rule(text: string): unknown {
  const { rules } = parseDqdl(`Rules = [ ${text} ]`);
  expect(rules).toHaveLength(1);
  return strip(rules[0]!);
}
function strip(r: Rule): unknown {
  if (r.kind === 'composite') return { op: r.op, operands: r.operands.map(strip) };
  const { position: _p, kind: _k, ...rest } = r;
  return rest;
}
/** The DqdlSyntaxError thrown for `text`. */
function refusal(text: string): DqdlSyntaxError {
  try {
    parseDqdl(text);
  } catch (e) {
    expect(e).toBeInstanceOf(DqdlSyntaxError);
    return e as DqdlSyntaxError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}
const num = (value: number) => ({ kind: 'number', value, raw: String(value) });
const str = (value: string) => ({ kind: 'string', value });

describe('tokenize', () => {
  it('gives each token its line and column, skips # comments, and reads escapes, decimals and negatives', () => {
    const tokens = tokenize('# header\nRules = [\n  ColumnValues "a\\"b" >= -0.5 # trailing\n]');
    expect(tokens.map((t) => [t.kind, t.value, t.line, t.column])).toEqual([
      ['ident', 'Rules', 2, 1], ['op', '=', 2, 7], ['[', '[', 2, 9],
      ['ident', 'ColumnValues', 3, 3], ['string', 'a"b', 3, 16], ['op', '>=', 3, 23], ['number', '-0.5', 3, 26],
      [']', ']', 4, 1], ['eof', '', 4, 2],
    ]);
  });

  it('reads "-" after a value as minus, keeps regex escapes, and reads $constants', () => {
    expect(tokenize('now() - 3 days').map((t) => t.kind)).toEqual(['ident', '(', ')', 'arith', 'number', 'ident', 'eof']);
    expect(tokenize('max(last(10)) -1').map((t) => t.value).slice(-3)).toEqual(['-', '1', '']);
    expect(tokenize('"\\d+\\\\"')[0]!.value).toBe('\\d+\\');
    expect(tokenize('$limit')[0]).toMatchObject({ kind: 'variable', value: 'limit' });
  });

  it('refuses an unterminated string and a stray character at their position', () => {
    expect(() => tokenize('Rules = [ IsComplete "id ]')).toThrow('line 1, column 22: expected a closing "');
    expect(() => tokenize('Rules = [\n  RowCount > 5 ; ]')).toThrow('line 2, column 16: unexpected character ";"');
  });
});

describe('parseDqdl: Glue documentation examples', () => {
  it('parses the DQDL syntax example (dqdl.html, "DQDL syntax")', () => {
    const ruleset = parseDqdl('Rules = [ IsComplete "order-id", IsUnique "order-id" ]');
    expect(ruleset.analyzers).toEqual([]);
    expect(ruleset.rules.map(strip)).toEqual([
      { type: 'IsComplete', parameters: ['order-id'] },
      { type: 'IsUnique', parameters: ['order-id'] },
    ]);
    expect(ruleset.rules[1]!.position).toEqual({ line: 1, column: 34 });
  });

  it('parses the composite rule examples (dqdl.html, "Composite rules")', () => {
    expect(rule('(IsComplete "id") and (IsUnique "id")')).toEqual({
      op: 'and', operands: [{ type: 'IsComplete', parameters: ['id'] }, { type: 'IsUnique', parameters: ['id'] }],
    });
    expect(rule('(Mean "Star_Rating" > 3) and (Mean "Order_Total" > 500) and (IsComplete "Order_Id")')).toEqual({
      op: 'and',
      operands: [
        { type: 'Mean', parameters: ['Star_Rating'], constraint: { kind: 'compare', op: '>', value: num(3) } },
        { type: 'Mean', parameters: ['Order_Total'], constraint: { kind: 'compare', op: '>', value: num(500) } },
        { type: 'IsComplete', parameters: ['Order_Id'] },
      ],
    });
    expect(rule('(Mean "Star_Rating" > 3) and ((Mean "Order_Total" > 500) or (IsComplete "Order_Id"))')).toEqual({
      op: 'and',
      operands: [
        { type: 'Mean', parameters: ['Star_Rating'], constraint: { kind: 'compare', op: '>', value: num(3) } },
        {
          op: 'or',
          operands: [
            { type: 'Mean', parameters: ['Order_Total'], constraint: { kind: 'compare', op: '>', value: num(500) } },
            { type: 'IsComplete', parameters: ['Order_Id'] },
          ],
        },
      ],
    });
    expect(rule('(RowCount > 0) or ((IsComplete "colA") and (IsUnique "colA"))')).toMatchObject({ op: 'or' });
  });

  it('parses the ColumnValues examples (dqdl-rule-types-ColumnValues.html)', () => {
    const doc = `Rules = [
      ColumnValues "Country" in [ "US", "CA", "UK", NULL, EMPTY, WHITESPACES_ONLY ],
      ColumnValues "gender" in ["F", "M"] where "weightinkgs < 10",
      ColumnValues "First_Name" matches "[a-zA-Z]*",
      ColumnValues "Load_Date" > (now() - 3 days),
      ColumnValues "Customer_ID" between 1 and 2000,
      (ColumnValues "Age" > 21) OR (ColumnValues "Age" = NULL),
      ColumnValues "Age" != 21,
      ColumnValues "Age" not in [21, 22, 23],
      (ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL),
      ColumnValues "Age" not in [21, 22, 23, NULL]
    ]`;
    const rules = parseDqdl(doc).rules.map(strip);
    expect(rules[0]).toEqual({
      type: 'ColumnValues', parameters: ['Country'],
      constraint: {
        kind: 'in', negated: false,
        values: [str('US'), str('CA'), str('UK'), { kind: 'special', value: 'NULL' }, { kind: 'special', value: 'EMPTY' }, { kind: 'special', value: 'WHITESPACES_ONLY' }],
      },
    });
    expect(rules[1]).toEqual({
      type: 'ColumnValues', parameters: ['gender'], where: 'weightinkgs < 10',
      constraint: { kind: 'in', negated: false, values: [str('F'), str('M')] },
    });
    expect(rules[2]).toEqual({ type: 'ColumnValues', parameters: ['First_Name'], constraint: { kind: 'matches', pattern: '[a-zA-Z]*' } });
    expect(rules[3]).toEqual({
      type: 'ColumnValues', parameters: ['Load_Date'],
      constraint: { kind: 'compare', op: '>', value: { kind: 'binary', op: '-', left: { kind: 'now' }, right: { kind: 'duration', amount: 3, unit: 'days' } } },
    });
    expect(rules[4]).toEqual({ type: 'ColumnValues', parameters: ['Customer_ID'], constraint: { kind: 'between', low: num(1), high: num(2000) } });
    expect(rules[5]).toMatchObject({ op: 'or' });
    expect(rules[7]).toEqual({ type: 'ColumnValues', parameters: ['Age'], constraint: { kind: 'in', negated: true, values: [num(21), num(22), num(23)] } });
    expect(rules[8]).toMatchObject({ op: 'and' });
    expect(rules).toHaveLength(10);
  });

  it('parses RowCount, StandardDeviation and DataFreshness examples, dynamic ones included', () => {
    // dqdl-rule-types-RowCount.html
    expect(rule('RowCount between 1 and 50 where "Customer_ID < 10"')).toEqual({
      type: 'RowCount', parameters: [], where: 'Customer_ID < 10', constraint: { kind: 'between', low: num(1), high: num(50) },
    });
    expect(rule('RowCount > avg(last(10)) *0.8')).toEqual({
      type: 'RowCount', parameters: [],
      constraint: {
        kind: 'compare', op: '>',
        value: { kind: 'binary', op: '*', left: { kind: 'aggregate', fn: 'avg', of: { kind: 'last', count: 10 } }, right: { kind: 'number', value: 0.8, raw: '0.8' } },
      },
    });
    // dqdl-rule-types-StandardDeviation.html
    expect(rule('StandardDeviation "Salary" < 3500 where "Customer_ID < 10"')).toMatchObject({ where: 'Customer_ID < 10' });
    expect(rule('StandardDeviation "colA" between min(last(10)) - 1 and max(last(10)) + 1')).toEqual({
      type: 'StandardDeviation', parameters: ['colA'],
      constraint: {
        kind: 'between',
        low: { kind: 'binary', op: '-', left: { kind: 'aggregate', fn: 'min', of: { kind: 'last', count: 10 } }, right: num(1) },
        high: { kind: 'binary', op: '+', left: { kind: 'aggregate', fn: 'max', of: { kind: 'last', count: 10 } }, right: num(1) },
      },
    });
    // dqdl-rule-types-DataFreshness.html
    expect(rule('DataFreshness "Order_Date" <= 24 hours')).toEqual({
      type: 'DataFreshness', parameters: ['Order_Date'], constraint: { kind: 'compare', op: '<=', value: { kind: 'duration', amount: 24, unit: 'hours' } },
    });
    expect(rule('DataFreshness "Order_Date" between 2 days and 5 days')).toMatchObject({
      constraint: { kind: 'between', low: { kind: 'duration', amount: 2, unit: 'days' }, high: { kind: 'duration', amount: 5, unit: 'days' } },
    });
    expect(rule('(DataFreshness "Order_Date" <= 24 hours) OR (ColumnValues "Order_Date" = NULL)')).toMatchObject({ op: 'or' });
  });

  it('parses RowCountMatch, ReferentialIntegrity, CustomSql and DetectAnomalies examples', () => {
    // dqdl-rule-types-RowCountMatch.html
    expect(rule('RowCountMatch "reference" >= 0.9')).toEqual({
      type: 'RowCountMatch', parameters: ['reference'], constraint: { kind: 'compare', op: '>=', value: num(0.9) },
    });
    // dqdl-rule-types-ReferentialIntegrity.html
    expect(rule('ReferentialIntegrity "zipcode" "reference.zipcode" >= 0.9')).toMatchObject({ parameters: ['zipcode', 'reference.zipcode'] });
    expect(rule('ReferentialIntegrity "city,state" "reference.{ref_city,ref_state}" = 1.0')).toEqual({
      type: 'ReferentialIntegrity', parameters: ['city,state', 'reference.{ref_city,ref_state}'],
      constraint: { kind: 'compare', op: '=', value: { kind: 'number', value: 1, raw: '1.0' } },
    });
    expect(rule('ReferentialIntegrity "city,state" "reference.{ref_city,ref_state}" > avg(last(10))')).toMatchObject({
      constraint: { value: { kind: 'aggregate', fn: 'avg' } },
    });
    // dqdl-rule-types-CustomSql.html
    expect(rule('CustomSql "select count(*) from primary" between 10 and 20')).toEqual({
      type: 'CustomSql', parameters: ['select count(*) from primary'], constraint: { kind: 'between', low: num(10), high: num(20) },
    });
    expect(rule('CustomSql "select Name from primary where Age > 18"')).toEqual({ type: 'CustomSql', parameters: ['select Name from primary where Age > 18'] });
    expect(rule('CustomSql "select Name from primary where Age > 18" with threshold > 3')).toEqual({
      type: 'CustomSql', parameters: ['select Name from primary where Age > 18'], threshold: { kind: 'compare', op: '>', value: num(3) },
    });
    // dqdl-rule-types-DetectAnomalies.html
    expect(rule('DetectAnomalies "RowCount"')).toEqual({ type: 'DetectAnomalies', parameters: ['RowCount'] });
    expect(rule('DetectAnomalies "ColumnLength" "id"')).toEqual({ type: 'DetectAnomalies', parameters: ['ColumnLength', 'id'] });
  });

  it('parses the Rules and Analyzers example of the EMR data quality guide (emr-dq-key-capabilities)', () => {
    const ruleset = parseDqdl('Rules = [\n    RowCount > 1000\n]\n\nAnalyzers = [\n    RowCount,\n    Completeness "id", AllStatistics "amount"\n]');
    expect(ruleset.rules.map(strip)).toEqual([{ type: 'RowCount', parameters: [], constraint: { kind: 'compare', op: '>', value: num(1000) } }]);
    expect(ruleset.analyzers).toEqual([
      { type: 'RowCount', parameters: [], position: { line: 6, column: 5 } },
      { type: 'Completeness', parameters: ['id'], position: { line: 7, column: 5 } },
      { type: 'AllStatistics', parameters: ['amount'], position: { line: 7, column: 24 } },
    ]);
  });
});

describe('parseDqdl: the other rule types, thresholds, constants and comments', () => {
  it('parses each remaining rule type with its parameter shape', () => {
    const doc = `# every rule type
      Rules = [
        ColumnCount = 12,
        Completeness "email" > 0.95,
        Uniqueness "id" = 1.0,
        IsPrimaryKey "tenant" "id",
        ColumnLength "code" between 2 and 5 with threshold > 0.9,
        ColumnExists "id",
        ColumnDataType "d" in ["DATE", "STRING"] with threshold > 0.9,
        Sum "amount" >= -10.5,
        DistinctValuesCount "state" > 3,
        UniqueValueRatio "id" between 0.9 and 1.1,
        ColumnValues "units" <= index(last(3), 0) * 1.5,
        Mean "x" > abs(min(last(3)) - 2) / 2,
        ColumnValues "colA" in ["A", "B"] where "colB > 10" with threshold >= 0.8
      ]`;
    const rules = parseDqdl(doc).rules as SimpleRule[];
    expect(rules.map((r) => [r.type, r.parameters.length])).toEqual([
      ['ColumnCount', 0], ['Completeness', 1], ['Uniqueness', 1], ['IsPrimaryKey', 2], ['ColumnLength', 1], ['ColumnExists', 1],
      ['ColumnDataType', 1], ['Sum', 1], ['DistinctValuesCount', 1], ['UniqueValueRatio', 1], ['ColumnValues', 1], ['Mean', 1], ['ColumnValues', 1],
    ]);
    expect(rules[4]!.threshold).toEqual({ kind: 'compare', op: '>', value: num(0.9) });
    expect(rules[7]!.constraint).toEqual({ kind: 'compare', op: '>=', value: { kind: 'number', value: -10.5, raw: '-10.5' } });
    expect(rules[10]!.constraint).toMatchObject({ value: { op: '*', left: { kind: 'index', index: 0, of: { kind: 'last', count: 3 } } } });
    expect(rules[12]).toMatchObject({ where: 'colB > 10', threshold: { op: '>=' } });
    expect(rules[0]!.position).toEqual({ line: 3, column: 9 });
  });

  it('reads constants and their $references', () => {
    const ruleset = parseDqdl('low = 10\nallowed = ["A", "B"]\nRules = [ RowCount > $low, ColumnValues "c" in $allowed ]');
    expect(ruleset.variables).toEqual({ low: num(10), allowed: [str('A'), str('B')] });
    expect(ruleset.rules.map(strip)).toEqual([
      { type: 'RowCount', parameters: [], constraint: { kind: 'compare', op: '>', value: { kind: 'variable', name: 'low' } } },
      { type: 'ColumnValues', parameters: ['c'], constraint: { kind: 'in', negated: false, values: { kind: 'variable', name: 'allowed' } } },
    ]);
  });
});

describe('parseDqdl: refusals', () => {
  it.each([
    // Documented typo: dqdl-rule-types-StandardDeviation.html shows `avg(last(10) + 0.1` with an unclosed "(".
    ['Rules = [ StandardDeviation "colA" > avg(last(10) + 0.1 ]', 1, 51, 'expected ")" to close "avg(" at line 1, column 41, found "+"'],
    // "Each rule that you connect with the and operator must be enclosed in parentheses." (dqdl.html)
    ['Rules = [ IsComplete "id" and IsUnique "id" ]', 1, 27, 'rules joined with "and" must each be in parentheses'],
    ['Rules = [ (IsComplete "id") and IsUnique "id" ]', 1, 33, 'expected "(" after "and"'],
    // "DQDL is case sensitive" and the list is named Rules (capitalized) (dqdl.html)
    ['rules = [ RowCount > 1 ]', 1, 1, 'expected "Rules" (DQDL is case sensitive)'],
    ['Rules = [ iscomplete "id" ]', 1, 11, '"iscomplete" is spelled "IsComplete"'],
    ['Rules = [ ]', 1, 11, 'expected at least one rule'],
    ['Rules = [ RowCount > 1, ]', 1, 25, 'expected a rule after ","'],
    ['Rules = [\n  RowCount > 1\n  IsComplete "a"\n]', 3, 3, 'expected "," or "]" after the rule, found "IsComplete"'],
    ['Rules = [\n  ColumnValues "a" in ["x"],\n  Completeness "b" > 0.5 with threshold > 0.9\n]', 3, 26, 'expected "," or "]": Completeness does not take "with threshold"'],
    ['Rules = [\n  ColumnValues "a" in ["x"],\n  ColumnValues "b" = 1 with threshold >\n]', 4, 1, 'expected a threshold value after ">", found "]"'],
    ['Rules = [ ColumnValues "a" > ]', 1, 30, 'expected a value after ">"'],
    ['Rules = [ Completeness > 0.9 ]', 1, 24, 'expected a quoted column name after Completeness (Completeness takes exactly 1)'],
    ['Rules = [ Completeness "a" "b" > 0.9 ]', 1, 28, 'Completeness takes exactly 1 column name; expected an expression or the end of the rule, found a 2nd parameter "b"'],
    // dqdl.html's "or" example writes (RowCount "id" > 100) or (IsPrimaryKey "id"), but RowCount's own page
    // (dqdl-rule-types-RowCount.html) gives it no parameter: RowCount <EXPRESSION>. We follow the rule-type page.
    ['Rules = [ RowCount "id" > 100 ]', 1, 20, 'RowCount takes no parameter'],
    ['Rules = [ IsComplete "a" > 0.5 ]', 1, 26, 'IsComplete takes no expression'],
    ['Rules = [ Mean "a" ]', 1, 20, 'expected an expression (=, !=, >, >=, <, <=, between, in, not in or matches) after Mean "a", found "]"'],
    ['Rules = [ ReferentialIntegrity "a" >= 0.9 ]', 1, 36, 'expected a quoted column list after ReferentialIntegrity "a"'],
    ['Rules = [ ColumnValues "a" between 1 2 ]', 1, 38, 'expected "and" in "between ... and ..."'],
    ['Rules = [ ColumnValues "a" not matches "x" ]', 1, 32, 'expected "in" after "not"'],
    ['Rules = [ ColumnValues "a" matches "[a-" ]', 1, 36, 'expected a valid regular expression'],
    ['Rules = [ DataFreshness "d" <= 24 ]', 1, 29, 'the time unit is required'],
    ['Rules = [ DetectAnomalies "Rowcount" ]', 1, 27, 'expected a rule name DetectAnomalies supports'],
    ['Rules = [ ColumnExists "a" where "b > 1" ]', 1, 28, 'ColumnExists does not support a where clause'],
    ['Rules = [ RowCount > foo(last(3)) ]', 1, 22, '"foo(...)" is not a DQDL function'],
    ['Rules = [ RowCount > avg(10) ]', 1, 26, 'expected last(k) inside avg(...)'],
    ['Rules = [ RowCount > avg(last(0)) ]', 1, 31, 'expected a positive whole number of runs in last(...)'],
    ['Rules = [ RowCount > $missing ]', 1, 22, '"$missing" is not defined'],
    ['Rules = [ (RowCount > 1) and (RowCount < 9) or (IsComplete "a") ]', 1, 45, 'to mix "and" and "or", put parentheses around one side'],
    ['Rules = [ (RowCount > 1 ]', 1, 25, 'expected ")" to close the "(" at line 1, column 11'],
    ['Analyzers = [ RowCount > 3 ]', 1, 24, 'analyzers take no expression'],
    ['Analyzers = [ IsComplete "a" ]', 1, 15, 'expected an analyzer type'],
    ['Rules = [ RowCount > 1 ] Rules = [ RowCount > 2 ]', 1, 26, 'expected only one Rules section'],
    ['', 1, 1, 'expected a "Rules = [ ... ]" section'],
  ])('refuses %j at line %i, column %i', (text, line, column, message) => {
    const error = refusal(text);
    expect({ line: error.line, column: error.column }).toEqual({ line, column });
    expect(error.message).toContain(message);
    expect(error.message.startsWith(`line ${line}, column ${column}: `)).toBe(true);
  });

  it('is a MedallionError with code DQDL_SYNTAX and says what was expected', () => {
    const error = refusal('Rules = [\n  ColumnValues "a" in ["x"],\n  ColumnValues "b" = 1 with threshold > \n]');
    expect(error).toBeInstanceOf(MedallionError);
    expect(error.code).toBe('DQDL_SYNTAX');
    expect(error.expected).toBe('expected a threshold value after ">", found "]"');
    expect(error.describe()).toMatch(/^DQDL_SYNTAX: line 4, column 1: /);
  });
});
