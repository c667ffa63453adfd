import { describe, expect, it } from 'vitest';
import { parseDqdl, printRule, printRuleset, printValue, type Rule, type Ruleset } from '../../../core/quality/dqdl/index.ts';

function strip(rule: Rule): unknown {
  if (rule.kind === 'composite') return { op: rule.op, operands: rule.operands.map(strip) };
  const { position: _position, ...rest } = rule;
  return rest;
}
function stripRuleset(ruleset: Ruleset): unknown {
  return { ...ruleset, rules: ruleset.rules.map(strip), analyzers: ruleset.analyzers.map(({ position: _position, ...rest }) => rest) };
}
const CONSTANTS = 'low = 10\nallowed = ["A", "B"]\n';
const parseOne = (text: string): Rule => parseDqdl(`${CONSTANTS}Rules = [ ${text} ]`).rules[0]!;

const RULES = [
  'RowCount > 100',
  'RowCount between 1 and 50 where "Customer_ID < 10"',
  'RowCount > avg(last(10)) * 0.8',
  'RowCount > $low',
  'ColumnCount = 12',
  'Completeness "email" >= 0.95 where "weightinkgs > 10"',
  'IsComplete "order-id"',
  'IsUnique "id"',
  'IsPrimaryKey "tenant" "id"',
  'Uniqueness "id" = 1.0',
  'ColumnValues "Country" in ["US", "CA", NULL, EMPTY, WHITESPACES_ONLY]',
  'ColumnValues "Age" not in [21, 22, -23]',
  'ColumnValues "colA" in $allowed where "colB > 10" with threshold >= 0.8',
  'ColumnValues "First_Name" matches "[a-zA-Z]*\\\\d+\\"q\\""',
  'ColumnValues "Load_Date" > now() - 3 days',
  'ColumnValues "Load_Date" > (now() - 3 days)',
  'ColumnValues "units" <= index(last(3), 0) * 1.5',
  'ColumnValues "d" = "2024-01-01"',
  'ColumnValues "x" != NULL',
  'ColumnLength "code" between 2 and 5 with threshold > 0.9',
  'ColumnExists "id"',
  'ColumnDataType "d" in ["DATE", "STRING"] with threshold > 0.9',
  'Mean "x" > abs(min(last(3)) - 2) / 2',
  'Mean "x" > 10 - (2 - 1)',
  'Mean "x" > (10 - 2) * 3 / (4 * 5)',
  'Sum "amount" >= -10.5',
  'StandardDeviation "colA" between min(last(10)) - 1 and max(last(10)) + 1',
  'StandardDeviation "colA" < median(last(5)) + std(last(5)) * 2',
  'DistinctValuesCount "state" > sum(last(2))',
  'UniqueValueRatio "id" between 0.9 and 1.1',
  'Entropy "c" > 1.5',
  'ColumnCorrelation "a" "b" > 0.8',
  'DataFreshness "Order_Date" <= 24 hours',
  'DataFreshness "Order_Date" between 2 days and 90 minutes with threshold > 0.5',
  'RowCountMatch "reference" >= 0.9',
  'ReferentialIntegrity "city,state" "reference.{ref_city,ref_state}" = 1.0',
  'CustomSql "select count(*) from primary" between 10 and 20',
  'CustomSql "select Name from primary where Age > 18" with threshold > 3',
  'DetectAnomalies "ColumnLength" "id"',
  '(IsComplete "id") and (IsUnique "id")',
  '(RowCount > 0) or ((IsComplete "colA") and (IsUnique "colA"))',
  '((ColumnValues "a" > 1) or (ColumnValues "a" = NULL)) and (Mean "b" < 5) and (RowCount > 1)',
];

describe('printRule', () => {
  it.each(RULES)('prints %s so that it parses back to the same rule', (text) => {
    const rule = parseOne(text);
    const printed = printRule(rule);
    expect(strip(parseOne(printed))).toEqual(strip(rule));
    // Canonical: printing the reparsed rule gives the same text.
    expect(printRule(parseOne(printed))).toBe(printed);
  });

  it('writes canonical text: single spaces, lowercase composites, where before threshold, minimal parentheses', () => {
    expect(printRule(parseOne('ColumnValues  "colA"   in ["A","B"] with threshold >= 0.8 where "colB > 10"'))).toBe(
      'ColumnValues "colA" in ["A", "B"] where "colB > 10" with threshold >= 0.8',
    );
    expect(printRule(parseOne('(IsComplete "id") AND (RowCount>5)'))).toBe('(IsComplete "id") and (RowCount > 5)');
    expect(printRule(parseOne('Mean "x" > (1 + 2) * 3 - (4 - 5)'))).toBe('Mean "x" > (1 + 2) * 3 - (4 - 5)');
    expect(printRule(parseOne('Mean "x" > (1 * 2) + 3'))).toBe('Mean "x" > 1 * 2 + 3');
    expect(printRule(parseOne('Uniqueness "id" = 1.0'))).toBe('Uniqueness "id" = 1.0');
  });

  it('escapes quotes, backslashes, newlines and tabs in strings', () => {
    expect(printValue({ kind: 'string', value: 'a"b\\c\nd\te' })).toBe('"a\\"b\\\\c\\nd\\te"');
    const rule = parseOne('CustomSql "select \\"x\\" from primary where y = \'a\\\\b\'" > 0');
    expect(strip(parseOne(printRule(rule)))).toEqual(strip(rule));
  });
});

describe('printRuleset', () => {
  it('prints constants, rules and analyzers that parse back to the same ruleset', () => {
    const text = `${CONSTANTS}Rules = [ RowCount > $low, ColumnValues "c" in $allowed, (IsComplete "a") or (Mean "b" > 1) ]
      Analyzers = [ RowCount, Completeness "id" where "id > 3", AllStatistics "amount" ]`;
    const ruleset = parseDqdl(text);
    const printed = printRuleset(ruleset);
    expect(stripRuleset(parseDqdl(printed))).toEqual(stripRuleset(ruleset));
    expect(printed).toBe([
      'low = 10', 'allowed = ["A", "B"]', '',
      'Rules = [', '    RowCount > $low,', '    ColumnValues "c" in $allowed,', '    (IsComplete "a") or (Mean "b" > 1)', ']', '',
      'Analyzers = [', '    RowCount,', '    Completeness "id" where "id > 3",', '    AllStatistics "amount"', ']', '',
    ].join('\n'));
  });

  it('prints an analyzers-only ruleset without a Rules section', () => {
    const ruleset = parseDqdl('Analyzers = [ Mean "x" ]');
    expect(printRuleset(ruleset)).toBe('Analyzers = [\n    Mean "x"\n]\n');
    expect(stripRuleset(parseDqdl(printRuleset(ruleset)))).toEqual(stripRuleset(ruleset));
  });
});
