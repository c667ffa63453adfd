import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine, quoteLiteral } from '../../../core/engine/index.ts';
import { parseDqdl, type Rule } from '../../../core/quality/dqdl/index.ts';
import { evaluateRule, evaluateRuleset, isRowLevel, type EvaluationContext, type RuleResult } from '../../../core/quality/evaluator/index.ts';

const NOW = new Date('2026-01-10T12:00:00Z');
const HOUR_MS = 3_600_000;

interface Row {
  id: number; name: string | null; age: number | null; score: string | null; status: string | null; created: string | null;
  updated: string | null; code: string | null; grp: string; numText: string | null;
}
const ROWS: readonly Row[] = [
  { id: 1, name: 'Ann', age: 30, score: '10.50', status: 'active', created: '2026-01-09', updated: '2026-01-10 11:00:00', code: 'AB', grp: 'x', numText: '1' },
  { id: 2, name: 'bob', age: 21, score: '20.25', status: '', created: '2026-01-01', updated: '2026-01-10 06:00:00', code: 'ABC', grp: 'x', numText: '2.5' },
  { id: 3, name: null, age: null, score: null, status: '  ', created: null, updated: null, code: 'A', grp: 'y', numText: 'x' },
  { id: 4, name: 'Cy', age: 45, score: '7.00', status: 'inactive', created: '2025-12-01', updated: '2026-01-08 12:00:00', code: null, grp: 'y', numText: null },
  { id: 5, name: 'Dee', age: 21, score: '3.10', status: 'active', created: '2026-01-10', updated: '2026-01-10 11:59:00', code: 'ABCD', grp: 'z', numText: '42' },
  { id: 6, name: 'Ed1', age: 60, score: '99.99', status: null, created: '2026-01-08', updated: '2026-01-09 13:00:00', code: 'AB', grp: 'z', numText: ' 7 ' },
];
const REFERENCE = [
  { grp: 'x', code: 'AB' }, { grp: 'x', code: 'ABC' }, { grp: 'y', code: 'A' }, { grp: 'q', code: 'ZZ' },
];

// Independent TypeScript versions of the metrics, from the same arrays.
const total = ROWS.length;
const share = (pass: (row: Row) => boolean, rows: readonly Row[] = ROWS): number => rows.filter(pass).length / rows.length;
const nonNull = <T>(values: readonly (T | null)[]): T[] => values.filter((v): v is T => v !== null);
const ages = nonNull(ROWS.map((r) => r.age));
const scores = nonNull(ROWS.map((r) => r.score)).map(Number);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const counts = <T>(xs: readonly T[]): Map<T, number> => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<T, number>());
const lit = (v: string | number | null): string => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : quoteLiteral(v));

let engine: DuckDbEngine;
let context: EvaluationContext;
const histories = new Map<string, number[]>();
const asked: string[] = [];

beforeAll(async () => {
  engine = await DuckDbEngine.create();
  await engine.run(`CREATE TABLE t (id INTEGER, name VARCHAR, age INTEGER, score DECIMAL(6, 2), status VARCHAR, created DATE,
    updated TIMESTAMP, code VARCHAR, grp VARCHAR, num_text VARCHAR)`);
  await engine.run(`INSERT INTO t VALUES ${ROWS.map((r) => `(${[r.id, r.name, r.age, r.score, r.status, r.created, r.updated, r.code, r.grp, r.numText].map(lit).join(', ')})`).join(', ')}`);
  await engine.run('CREATE TABLE ref (grp VARCHAR, code VARCHAR)');
  await engine.run(`INSERT INTO ref VALUES ${REFERENCE.map((r) => `(${lit(r.grp)}, ${lit(r.code)})`).join(', ')}`);
  const describeTable = async (name: string) => (await engine.query(`DESCRIBE ${name}`)).rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
  context = {
    engine,
    primary: { relation: '"t"', columns: await describeTable('t') },
    references: { ref: { relation: '"ref"', columns: await describeTable('ref') } },
    now: NOW,
    history: async (metric) => {
      asked.push(metric);
      return histories.get(metric) ?? [];
    },
  };
});
afterAll(() => engine.close());

const rule = (text: string, constants = ''): Rule => parseDqdl(`${constants}Rules = [ ${text} ]`).rules[0]!;
const run = (text: string, constants = ''): Promise<RuleResult> => {
  const parsed = parseDqdl(`${constants}Rules = [ ${text} ]`);
  return evaluateRule(parsed.rules[0]!, context, parsed.variables);
};
/** Rows passing, failing and NULL under a result's row predicate. */
async function predicateCounts(result: RuleResult): Promise<{ pass: number; fail: number; nulls: number }> {
  expect(result.rowPredicate).toBeDefined();
  const { rows } = await engine.query(`SELECT count(*) FILTER (WHERE (${result.rowPredicate})) AS pass, count(*) FILTER (WHERE NOT (${result.rowPredicate})) AS fail,
    count(*) FILTER (WHERE (${result.rowPredicate}) IS NULL) AS nulls FROM t`);
  return rows[0] as { pass: number; fail: number; nulls: number };
}
async function expectRowLevel(text: string, passing: (row: Row) => boolean): Promise<RuleResult> {
  const result = await run(text);
  const expected = share(passing);
  expect(result.value).toBeCloseTo(expected, 10);
  expect(result.outcome).toBe(expected === 1 ? 'PASS' : 'FAIL');
  expect(await predicateCounts(result)).toEqual({ pass: ROWS.filter(passing).length, fail: ROWS.filter((r) => !passing(r)).length, nulls: 0 });
  return result;
}

describe('dataset-level rules', () => {
  it('RowCount counts rows, after the where filter', async () => {
    expect(await run(`RowCount = ${total}`)).toMatchObject({ outcome: 'PASS', metric: 'Dataset.*.RowCount', value: total, threshold: `= ${total}`, message: '' });
    expect(await run('RowCount > 6')).toMatchObject({ outcome: 'FAIL', value: 6, message: 'Value: 6 does not meet the constraint requirement!' });
    const older = ROWS.filter((r) => r.age !== null && r.age > 21).length;
    expect(await run(`RowCount = ${older} where "age > 21"`)).toMatchObject({ outcome: 'PASS', value: older });
    expect(await run('RowCount between 1 and 6')).toMatchObject({ outcome: 'FAIL', threshold: 'between 1 and 6' });
  });

  it('ColumnCount counts the dataset columns', async () => {
    expect(await run('ColumnCount = 10')).toMatchObject({ outcome: 'PASS', metric: 'Dataset.*.ColumnCount', value: 10 });
  });

  it('Completeness and IsComplete measure the non-NULL share; their row predicate is "not NULL"', async () => {
    const expected = share((r) => r.name !== null);
    const result = await run('Completeness "name" > 0.8');
    expect(result).toMatchObject({ outcome: 'PASS', metric: 'Column.name.Completeness' });
    expect(result.value).toBeCloseTo(expected, 10);
    expect(await run('Completeness "name" >= 0.9')).toMatchObject({ outcome: 'FAIL' });
    expect(await run('IsComplete "id"')).toMatchObject({ outcome: 'PASS', value: 1, threshold: '= 1.0' });
    const incomplete = await run('IsComplete "name"');
    expect(incomplete.outcome).toBe('FAIL');
    expect(await predicateCounts(incomplete)).toEqual({ pass: 5, fail: 1, nulls: 0 });
  });

  it('Uniqueness is the share of non-NULL rows whose value occurs once (Deequ); IsUnique needs 1.0', async () => {
    const once = [...counts(ages).values()].filter((n) => n === 1).length;
    const result = await run('Uniqueness "age" < 0.7');
    expect(result).toMatchObject({ outcome: 'PASS', metric: 'Column.age.Uniqueness' });
    expect(result.value).toBeCloseTo(once / ages.length, 10);
    expect(await run('IsUnique "id"')).toMatchObject({ outcome: 'PASS', value: 1 });
    expect(await run('IsUnique "age"')).toMatchObject({ outcome: 'FAIL' });
  });

  it('IsPrimaryKey needs every column complete and the combination unique', async () => {
    expect(await run('IsPrimaryKey "id"')).toMatchObject({ outcome: 'PASS', metric: 'Column.id.Uniqueness', value: 1 });
    expect(await run('IsPrimaryKey "grp"')).toMatchObject({ outcome: 'FAIL', value: 0 });
    const grpCode = await run('IsPrimaryKey "grp" "code"');
    expect(grpCode).toMatchObject({ outcome: 'FAIL', metric: 'Multicolumn.grp,code.Uniqueness', value: 1 });
    expect(grpCode.evaluatedMetrics['Column.code.Completeness']).toBeCloseTo(share((r) => r.code !== null), 10);
    expect(grpCode.message).toContain('Column.code.Completeness');
    expect(await run('IsPrimaryKey "grp" "id"')).toMatchObject({ outcome: 'PASS' });
  });

  it('Mean, Sum and StandardDeviation (population) over non-NULL values, decimals included', async () => {
    const m = mean(scores);
    const sd = Math.sqrt(mean(scores.map((s) => (s - m) ** 2)));
    const meanResult = await run('Mean "score" > 20');
    expect(meanResult).toMatchObject({ outcome: 'PASS', metric: 'Column.score.Mean' });
    expect(meanResult.value).toBeCloseTo(m, 9);
    expect((await run('Sum "score" > 0')).value).toBeCloseTo(scores.reduce((a, b) => a + b, 0), 9);
    const sdResult = await run('StandardDeviation "score" < 10');
    expect(sdResult).toMatchObject({ outcome: 'FAIL', metric: 'Column.score.StandardDeviation' });
    expect(sdResult.value).toBeCloseTo(sd, 9);
  });

  it('DistinctValuesCount, UniqueValueRatio and Entropy from value frequencies', async () => {
    const frequencies = counts(ages);
    expect(await run(`DistinctValuesCount "age" = ${frequencies.size}`)).toMatchObject({ outcome: 'PASS', metric: 'Column.age.DistinctValuesCount', value: frequencies.size });
    const ratio = await run('UniqueValueRatio "age" between 0.5 and 1');
    expect(ratio.value).toBeCloseTo([...frequencies.values()].filter((n) => n === 1).length / frequencies.size, 10);
    expect(ratio.outcome).toBe('PASS');
    const entropy = -[...frequencies.values()].reduce((sum, n) => sum + (n / ages.length) * Math.log(n / ages.length), 0);
    const result = await run('Entropy "age" > 1');
    expect(result.metric).toBe('Column.age.Entropy');
    expect(result.value).toBeCloseTo(entropy, 10);
    expect((await run('Entropy "grp" > 0')).value).toBeCloseTo(Math.log(3), 10);
  });

  it('ColumnCorrelation is Pearson over rows where both values are present', async () => {
    const pairs = ROWS.filter((r) => r.age !== null && r.score !== null).map((r) => [r.age!, Number(r.score)] as const);
    const mx = mean(pairs.map((p) => p[0]));
    const my = mean(pairs.map((p) => p[1]));
    const cov = pairs.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
    const r = cov / Math.sqrt(pairs.reduce((s, [x]) => s + (x - mx) ** 2, 0) * pairs.reduce((s, [, y]) => s + (y - my) ** 2, 0));
    const result = await run('ColumnCorrelation "age" "score" > 0.9');
    expect(result).toMatchObject({ metric: 'Multicolumn.age,score.ColumnCorrelation', outcome: r > 0.9 ? 'PASS' : 'FAIL' });
    expect(result.value).toBeCloseTo(r, 9);
  });

  it('ColumnExists looks at the dataset columns', async () => {
    expect(await run('ColumnExists "age"')).toMatchObject({ outcome: 'PASS', value: null, message: '' });
    expect(await run('ColumnExists "nope"')).toMatchObject({ outcome: 'FAIL', message: 'Column "nope" does not exist' });
  });

  it('ColumnDataType: the castable share of a text column, or the declared type of a typed one', async () => {
    const texts = nonNull(ROWS.map((r) => r.numText));
    const integers = texts.filter((t) => /^[+-]?\d+$/.test(t.trim())).length / texts.length;
    const result = await run('ColumnDataType "num_text" = "INTEGER"');
    expect(result).toMatchObject({ outcome: 'FAIL', metric: 'Column.num_text.ColumnDataType.Compliance', threshold: '= 1.0' });
    expect(result.value).toBeCloseTo(integers, 10);
    expect(await run(`ColumnDataType "num_text" = "INTEGER" with threshold >= ${integers}`)).toMatchObject({ outcome: 'PASS' });
    const numbers = texts.filter((t) => !Number.isNaN(Number(t.trim()))).length / texts.length;
    expect((await run('ColumnDataType "num_text" in ["INTEGER", "DOUBLE"]')).value).toBeCloseTo(numbers, 10);
    expect(await run('ColumnDataType "age" = "INTEGER"')).toMatchObject({ outcome: 'PASS', value: 1 });
    expect(await run('ColumnDataType "age" = "LONG"')).toMatchObject({ outcome: 'FAIL', value: 0 });
    expect(await run('ColumnDataType "age" = "COMPLEX"')).toMatchObject({ outcome: 'ERROR' });
  });
});

describe('ColumnValues and the other row-level rules', () => {
  it('lets NULL fail every comparison except != and not in', async () => {
    await expectRowLevel('ColumnValues "age" = 21', (r) => r.age === 21);
    await expectRowLevel('ColumnValues "age" != 21', (r) => r.age !== 21);
    await expectRowLevel('ColumnValues "age" > 25', (r) => r.age !== null && r.age > 25);
    await expectRowLevel('ColumnValues "age" in [21, 30]', (r) => r.age === 21 || r.age === 30);
    await expectRowLevel('ColumnValues "age" not in [21, 30]', (r) => r.age !== 21 && r.age !== 30);
    await expectRowLevel('ColumnValues "age" not in [21, 30, NULL]', (r) => r.age !== null && r.age !== 21 && r.age !== 30);
    await expectRowLevel('ColumnValues "age" = NULL', (r) => r.age === null);
    await expectRowLevel('ColumnValues "age" != NULL', (r) => r.age !== null);
    await expectRowLevel('ColumnValues "id" > 0', () => true);
  });

  it('reads EMPTY and WHITESPACES_ONLY in lists', async () => {
    await expectRowLevel('ColumnValues "status" in ["active", EMPTY]', (r) => r.status === 'active' || r.status === '');
    await expectRowLevel('ColumnValues "status" in ["active", EMPTY, WHITESPACES_ONLY]', (r) => r.status === 'active' || (r.status !== null && r.status.trim() === ''));
    await expectRowLevel('ColumnValues "status" in ["active", EMPTY, WHITESPACES_ONLY, NULL]', (r) => r.status === null || r.status === 'active' || r.status.trim() === '');
    await expectRowLevel('ColumnValues "status" != EMPTY', (r) => r.status !== '');
  });

  it('treats between as exclusive at both edges', async () => {
    await expectRowLevel('ColumnValues "age" between 21 and 60', (r) => r.age !== null && r.age > 21 && r.age < 60);
    await expectRowLevel('ColumnValues "age" between 20 and 61', (r) => r.age !== null);
  });

  it('matches the whole value, as Java does', async () => {
    await expectRowLevel('ColumnValues "name" matches "[A-Za-z]+"', (r) => r.name !== null && /^[A-Za-z]+$/.test(r.name));
    await expectRowLevel('ColumnValues "name" matches "[a-z]+"', (r) => r.name !== null && /^[a-z]+$/.test(r.name));
  });

  it('compares dates with date strings and with now() minus a duration', async () => {
    await expectRowLevel('ColumnValues "created" > "2026-01-05"', (r) => r.created !== null && r.created > '2026-01-05');
    const since = NOW.getTime() - 2 * 24 * HOUR_MS;
    await expectRowLevel('ColumnValues "created" >= now() - 2 days', (r) => r.created !== null && Date.parse(`${r.created}T00:00:00Z`) >= since);
    await expectRowLevel('ColumnValues "updated" > (now() - 90 minutes)', (r) => r.updated !== null && Date.parse(`${r.updated.replace(' ', 'T')}Z`) > NOW.getTime() - 1.5 * HOUR_MS);
  });

  it('compares the share of passing rows with the threshold, and reports the numeric range', async () => {
    const equal21 = share((r) => r.age === 21);
    const result = await run('ColumnValues "age" = 21 with threshold > 0.3');
    expect(result).toMatchObject({ outcome: 'PASS', metric: 'Column.age.ColumnValues.Compliance', threshold: '> 0.3', message: '' });
    expect(result.value).toBeCloseTo(equal21, 10);
    expect(result.evaluatedMetrics).toMatchObject({ 'Column.age.Maximum': Math.max(...ages), 'Column.age.Minimum': Math.min(...ages) });
    const failed = await run('ColumnValues "age" = 21 with threshold >= 0.5');
    expect(failed).toMatchObject({ outcome: 'FAIL', message: `${(equal21 * 100).toFixed(2)} % of rows passed the threshold` });
  });

  it('filters with where, and lets rows outside it pass the row predicate', async () => {
    const inY = ROWS.filter((r) => r.grp === 'y');
    const result = await run('ColumnValues "age" > 25 where "grp = \'y\'"');
    expect(result.value).toBeCloseTo(share((r) => r.age !== null && r.age > 25, inY), 10);
    const pass = ROWS.filter((r) => r.grp !== 'y' || (r.age !== null && r.age > 25)).length;
    expect(await predicateCounts(result)).toEqual({ pass, fail: total - pass, nulls: 0 });
  });

  it('ColumnLength checks string lengths per row, with NULL failing', async () => {
    const lengths = nonNull(ROWS.map((r) => r.code)).map((c) => c.length);
    const result = await expectRowLevel('ColumnLength "code" <= 3', (r) => r.code !== null && r.code.length <= 3);
    expect(result).toMatchObject({ metric: 'Column.code.ColumnLength.Compliance' });
    expect(result.evaluatedMetrics).toMatchObject({ 'Column.code.MaximumLength': Math.max(...lengths), 'Column.code.MinimumLength': Math.min(...lengths) });
    await expectRowLevel('ColumnLength "code" between 1 and 4', (r) => r.code !== null && r.code.length > 1 && r.code.length < 4);
  });

  it('DataFreshness passes rows whose age is within the duration, for timestamps and dates', async () => {
    const ageHours = (text: string | null): number | null => (text === null ? null : (NOW.getTime() - Date.parse(`${text.replace(' ', 'T')}${text.length === 10 ? 'T00:00:00' : ''}Z`)) / HOUR_MS);
    const fresh = await expectRowLevel('DataFreshness "updated" <= 6 hours', (r) => { const a = ageHours(r.updated); return a !== null && a <= 6; });
    expect(fresh.metric).toBe('Column.updated.DataFreshness.Compliance');
    await expectRowLevel('DataFreshness "updated" between 2 hours and 2 days', (r) => { const a = ageHours(r.updated); return a !== null && a > 2 && a < 48; });
    await expectRowLevel('DataFreshness "created" <= 2 days', (r) => { const a = ageHours(r.created); return a !== null && a <= 48; });
    expect(await run('DataFreshness "updated" <= 6 hours with threshold >= 0.5')).toMatchObject({ outcome: 'PASS' });
  });
});

describe('rules over reference datasets and custom SQL', () => {
  it('RowCountMatch divides the primary row count by the reference one', async () => {
    expect(await run(`RowCountMatch "ref" = ${total / REFERENCE.length}`)).toMatchObject({ outcome: 'PASS', metric: 'Dataset.ref.RowCountMatch', value: total / REFERENCE.length });
    expect(await run('RowCountMatch "nope" > 1')).toMatchObject({ outcome: 'ERROR', message: expect.stringContaining('no reference dataset "nope"') });
  });

  it('ReferentialIntegrity is the share of primary rows whose complete key is in the reference', async () => {
    const groups = new Set(REFERENCE.map((r) => r.grp));
    const single = await run('ReferentialIntegrity "grp" "ref.{grp}" >= 0.5');
    expect(single).toMatchObject({ outcome: 'PASS', metric: 'Column.ref.ReferentialIntegrity' });
    expect(single.value).toBeCloseTo(share((r) => groups.has(r.grp)), 10);
    expect((await run('ReferentialIntegrity "grp" "ref.grp" >= 0.5')).value).toBeCloseTo(share((r) => groups.has(r.grp)), 10);
    const keys = new Set(REFERENCE.map((r) => `${r.grp}|${r.code}`));
    const inReference = (r: Row): boolean => r.code !== null && keys.has(`${r.grp}|${r.code}`);
    const pair = await run('ReferentialIntegrity "grp,code" "ref.{grp,code}" = 1.0');
    expect(pair.outcome).toBe('FAIL');
    expect(pair.value).toBeCloseTo(share(inReference), 10);
    expect(await predicateCounts(pair)).toEqual({ pass: ROWS.filter(inReference).length, fail: ROWS.filter((r) => !inReference(r)).length, nulls: 0 });
  });

  it('CustomSql compares the single value its SQL returns; the SQL names primary and references', async () => {
    const older = ROWS.filter((r) => r.age !== null && r.age > 21).length;
    expect(await run(`CustomSql "select count(*) from primary where age > 21" = ${older}`)).toMatchObject({ outcome: 'PASS', metric: 'Dataset.*.CustomSQL', value: older });
    const joined = ROWS.reduce((n, r) => n + REFERENCE.filter((x) => x.grp === r.grp).length, 0);
    expect(await run('CustomSql "select count(*) from primary p join ref r on p.grp = r.grp" between 1 and 100')).toMatchObject({ outcome: 'PASS', value: joined });
    expect(await run('CustomSql "select avg(score) from primary" > 1')).toMatchObject({ outcome: 'PASS' });
  });

  it('CustomSql without an expression passes the rows its SQL returns', async () => {
    const older = (r: Row): boolean => r.age !== null && r.age > 21;
    const result = await expectRowLevel('CustomSql "select id from primary where age > 21"', older);
    expect(result.metric).toBe('Dataset.*.CustomSQL.Compliance');
    expect(await run('CustomSql "select id from primary where age > 21" with threshold >= 0.5')).toMatchObject({ outcome: 'PASS' });
  });
});

describe('errors', () => {
  it('gives ERROR with DuckDB\'s message for unknown columns, bad SQL and type mismatches', async () => {
    const unknown = await run('Completeness "nope" > 0.5');
    expect(unknown).toMatchObject({ outcome: 'ERROR', value: null });
    expect(unknown.message).toMatch(/nope/);
    expect(await run('RowCount > 0 where "age >>> ((("')).toMatchObject({ outcome: 'ERROR', message: expect.stringMatching(/syntax error/i) });
    expect(await run('Mean "name" > 1')).toMatchObject({ outcome: 'ERROR', message: expect.stringMatching(/convert|cast/i) });
    expect(await run('CustomSql "select nope from primary" > 0')).toMatchObject({ outcome: 'ERROR', message: expect.stringMatching(/nope/) });
    expect(await run('CustomSql "select id from primary" > 0')).toMatchObject({ outcome: 'ERROR', message: expect.stringContaining('single value') });
    expect(await run('ColumnValues "nope" = 1')).toMatchObject({ outcome: 'ERROR' });
  });
});

describe('composites', () => {
  it('combines outcomes with and / or, nested, and row predicates with AND / OR', async () => {
    expect(await run('(IsComplete "id") and (ColumnValues "age" > 25)')).toMatchObject({ ruleType: 'Composite', outcome: 'FAIL' });
    const either = await run('(IsComplete "id") or (ColumnValues "age" > 25)');
    expect(either.outcome).toBe('PASS');
    expect(either.operands?.map((o) => o.outcome)).toEqual(['PASS', 'FAIL']);
    const nested = await run('((ColumnValues "age" > 25) or (ColumnValues "age" = NULL)) and (IsComplete "id")');
    expect(nested.outcome).toBe('FAIL');
    const passes = (r: Row): boolean => r.age === null || r.age > 25;
    expect(await predicateCounts(nested)).toEqual({ pass: ROWS.filter(passes).length, fail: ROWS.filter((r) => !passes(r)).length, nulls: 0 });
    expect(nested.evaluatedMetrics).toHaveProperty('Column.id.Completeness', 1);
    expect(isRowLevel(rule('(ColumnValues "age" > 25) or (IsComplete "id")'))).toBe(true);
    const mixed = await run('(ColumnValues "age" > 25) or (RowCount > 0)');
    expect(isRowLevel(rule('(ColumnValues "age" > 25) or (RowCount > 0)'))).toBe(false);
    expect(mixed.rowPredicate).toBeUndefined();
    expect(await run('(RowCount > 0) and (Mean "name" > 1)')).toMatchObject({ outcome: 'ERROR' });
  });

  it('gives every row-level rule a predicate that is never NULL and splits the rows', async () => {
    const texts = [
      'ColumnValues "name" in ["Ann", NULL]', 'ColumnValues "score" between 5 and 50', 'ColumnLength "status" > 0 where "age > 21"',
      'DataFreshness "created" <= 30 days', 'Completeness "code" > 0.1', 'ColumnValues "status" matches "a.*"', 'ColumnValues "code" != "AB"',
    ];
    for (const text of texts) {
      const result = await run(text);
      expect(isRowLevel(rule(text))).toBe(true);
      const { pass, fail, nulls } = await predicateCounts(result);
      expect(nulls).toBe(0);
      expect(pass + fail).toBe(total);
    }
    expect(isRowLevel(rule('RowCount > 1'))).toBe(false);
    expect(isRowLevel(rule('CustomSql "select count(*) from primary" > 1'))).toBe(false);
  });
});

describe('dynamic rules and constants', () => {
  it('resolves last(k) against the newest k values of the rule\'s own metric', async () => {
    histories.set('Dataset.*.RowCount', [100, 5, 6, 7]);
    const result = await run('RowCount > avg(last(3)) * 0.8');
    expect(result).toMatchObject({ outcome: 'PASS', threshold: '> 4.8' });
    expect(asked).toContain('Dataset.*.RowCount');
    expect(await run('RowCount > index(last(3), 0)')).toMatchObject({ outcome: 'FAIL', threshold: '> 7' });
    expect(await run('RowCount between min(last(2)) - 1 and max(last(4)) + 1')).toMatchObject({ outcome: 'PASS', threshold: 'between 5 and 101' });
    histories.set('Column.name.Completeness', [0.9, 0.95]);
    expect(await run('Completeness "name" >= median(last(2))')).toMatchObject({ outcome: 'FAIL', threshold: '>= 0.925' });
    expect(await run('Completeness "name" >= std(last(2))')).toMatchObject({ outcome: 'PASS', threshold: `>= ${Number(Math.sqrt(2 * 0.025 ** 2).toPrecision(12))}` });
  });

  it('passes a dynamic rule with no history yet, saying so', async () => {
    const result = await run('Mean "age" > avg(last(5))');
    expect(result.outcome).toBe('PASS');
    expect(result.message).toMatch(/no earlier values/);
    expect(result).toMatchObject({ metric: 'Column.age.Mean', value: mean(ages) });
    const withoutHistory = await evaluateRule(rule('Mean "age" > avg(last(5))'), { ...context, history: undefined });
    expect(withoutHistory.outcome).toBe('PASS');
  });

  it('substitutes $constants from the ruleset', async () => {
    const constants = 'low = 5\nstates = ["active", "inactive"]\n';
    expect(await run('RowCount > $low', constants)).toMatchObject({ outcome: 'PASS', threshold: '> 5' });
    const result = await run('ColumnValues "status" in $states', constants);
    expect(result.value).toBeCloseTo(share((r) => r.status === 'active' || r.status === 'inactive'), 10);
  });
});

describe('evaluateRuleset', () => {
  it('scores the share of passing rules and runs the analyzers', async () => {
    const ruleset = parseDqdl(`Rules = [ RowCount = ${total}, IsComplete "id", IsComplete "name", Mean "name" > 1 ]
      Analyzers = [ RowCount, Completeness "name", Mean "age" where "grp = 'x'", AllStatistics "age", Mean "nope" ]`);
    const result = await evaluateRuleset(ruleset, context);
    expect(result.results.map((r) => r.outcome)).toEqual(['PASS', 'PASS', 'FAIL', 'ERROR']);
    expect(result.score).toBe(0.5);
    expect(result.analyzers.map((a) => a.analyzer)).toEqual(['RowCount', 'Completeness "name"', 'Mean "age" where "grp = \'x\'"', 'AllStatistics "age"', 'Mean "nope"']);
    expect(result.analyzers[0]!.metrics).toEqual({ 'Dataset.*.RowCount': total });
    expect(result.analyzers[1]!.metrics['Column.name.Completeness']).toBeCloseTo(share((r) => r.name !== null), 10);
    expect(result.analyzers[2]!.metrics['Column.age.Mean']).toBeCloseTo(mean(nonNull(ROWS.filter((r) => r.grp === 'x').map((r) => r.age))), 10);
    expect(result.analyzers[3]!.metrics).toMatchObject({ 'Dataset.*.RowCount': total, 'Column.age.Maximum': 60, 'Column.age.DistinctValuesCount': 4 });
    expect(result.analyzers[3]!.metrics['Column.age.Mean']).toBeCloseTo(mean(ages), 10);
    expect(result.analyzers[4]!.metrics).toEqual({});
    expect((await evaluateRuleset({ rules: [], analyzers: [] }, context)).score).toBe(1);
  });
});

describe('evaluateRuleset, aggregates computed together', () => {
  it('reads the rows once for the aggregates its rules ask for, with the values each rule gives alone', async () => {
    const queries: string[] = [];
    const counting: EvaluationContext = {
      ...context,
      engine: { ...engine, query: (sql: string) => (queries.push(sql), engine.query(sql)) } as unknown as DuckDbEngine,
    };
    const text = 'Rules = [ RowCount > 0, Completeness "name" >= 0.5, ColumnValues "age" between 20 and 50, Mean "age" > 0, IsComplete "id" ]';
    const together = await evaluateRuleset(parseDqdl(text), counting);
    const alone = await Promise.all(parseDqdl(text).rules.map((rule) => evaluateRule(rule, context)));
    expect(together.results).toEqual(alone);
    expect(together.results.map((result) => result.outcome)).toEqual(['PASS', 'PASS', 'FAIL', 'PASS', 'PASS']);
    expect(queries.filter((sql) => sql.includes('FROM "t"'))).toHaveLength(1);
  });

  it('keeps an error to the rule that caused it when the combined query fails', async () => {
    const result = await evaluateRuleset(parseDqdl('Rules = [ RowCount > 0, Mean "name" > 0, Completeness "age" > 0.5 ]'), context);
    expect(result.results.map((entry) => entry.outcome)).toEqual(['PASS', 'ERROR', 'PASS']);
    expect(result.results[0]!.value).toBe(total);
    expect(result.results[2]!.value).toBeCloseTo(share((r) => r.age !== null), 10);
  });
});

describe('DetectAnomalies', () => {
  it('fails a metric far outside its history, passes one inside it, and passes while warming up', async () => {
    const steady = Array.from({ length: 30 }, (_, i) => 100 + (i % 3));
    histories.set('Dataset.*.RowCount', steady);
    const anomalous = await run('DetectAnomalies "RowCount"');
    expect(anomalous).toMatchObject({ outcome: 'FAIL', metric: 'Dataset.*.RowCount', value: total });
    expect(anomalous.threshold).toMatch(/^between \S+ and \S+$/);
    expect(anomalous.message).not.toBe('');
    histories.set('Dataset.*.RowCount', Array.from({ length: 30 }, () => total));
    expect(await run('DetectAnomalies "RowCount"')).toMatchObject({ outcome: 'PASS', message: '' });
    histories.set('Dataset.*.RowCount', [100, 101]);
    const warming = await run('DetectAnomalies "RowCount"');
    expect(warming.outcome).toBe('PASS');
    expect(warming.message).toMatch(/warming up/);
    histories.set('Column.code.MaximumLength', Array.from({ length: 30 }, () => 4));
    expect(await run('DetectAnomalies "ColumnLength" "code"')).toMatchObject({ outcome: 'PASS', metric: 'Column.code.MaximumLength', value: 4 });
  });
});

describe('rules over no rows', () => {
  it('completeness, uniqueness and compliance of no rows pass (none selected by the where clause), saying so; a rule that needs rows fails', async () => {
    const none = 'where "id > 100"';
    for (const text of [
      `ColumnValues "age" <= 1 ${none}`, `ColumnLength "code" <= 2 ${none}`, `IsComplete "name" ${none}`, `Completeness "name" > 0.9 ${none}`,
      `IsUnique "grp" ${none}`, `Uniqueness "grp" > 0.5 ${none}`, `IsPrimaryKey "id" ${none}`, `DataFreshness "updated" <= 1 hours ${none}`,
    ]) {
      const result = await run(text);
      expect(result, text).toMatchObject({ outcome: 'PASS', value: null });
      expect(result.message, text).toMatch(/^No rows to check/);
    }
    // Rows with only NULL values are rows: measured (and failed, as a NULL does not compare), not vacuous.
    expect(await run('ColumnValues "age" <= 100 where "age is null"')).toMatchObject({ outcome: 'FAIL', value: 0 });
    expect(await run(`RowCount > 0 ${none}`)).toMatchObject({ outcome: 'FAIL' });
    expect(await run(`Mean "age" > 0 ${none}`)).toMatchObject({ outcome: 'FAIL', message: expect.stringMatching(/^No value to compare/) });
  });
});
