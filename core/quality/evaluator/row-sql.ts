import { quoteLiteral } from '../../engine/index.ts';
import type { Constraint, Value } from '../dqdl/index.ts';
import { RuleEvaluationError, isDynamic, type ValueResolver } from './values.ts';

/** How a column's values compare: decides how strings in a rule are read. */
export type ColumnKind = 'number' | 'string' | 'temporal' | 'other';

export function columnKind(type: string | undefined): ColumnKind {
  const t = (type ?? '').toUpperCase();
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC|INT)/.test(t)) return 'number';
  if (/^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)/.test(t)) return 'string';
  if (/^(DATE|TIMESTAMP|TIME)/.test(t)) return 'temporal';
  return 'other';
}

/** `TIMESTAMP '2026-01-02 03:04:05.678'` for the evaluation's now (the session runs in UTC). */
export function timestampLiteral(instant: Date): string {
  return `TIMESTAMP '${instant.toISOString().replace('T', ' ').replace('Z', '')}'`;
}

/** What a per-row check compares: an SQL expression and the kind of its values. */
export interface Subject {
  readonly sql: string;
  readonly kind: ColumnKind;
}

const ORDERING = new Set(['>', '>=', '<', '<=']);

/**
 * A per-row check for ColumnValues and ColumnLength, TRUE when the row passes and never NULL. Following
 * Glue's null behavior, a NULL value fails every check except `!=` and `not in`, which let it pass unless the
 * right-hand side names NULL itself; `between` is exclusive.
 */
export async function rowCheckSql(subject: Subject, constraint: Constraint, resolver: ValueResolver, now: Date): Promise<string> {
  const render = (value: Value, ordering: boolean): Promise<string> => renderValue(value, subject.kind, ordering, resolver, now);
  // A string column compared by order with numbers is read as numbers, as Glue reads "12" > 5.
  const ordered = (values: Value[]): Subject =>
    subject.kind === 'string' && values.every((v) => isNumeric(v, resolver)) ? { sql: `TRY_CAST(${subject.sql} AS DOUBLE)`, kind: 'number' } : subject;
  switch (constraint.kind) {
    case 'compare': {
      const target = resolveVariable(constraint.value, resolver);
      if (target.kind === 'special') {
        const test = specialTest(subject, target.value);
        if (constraint.op === '=') return test;
        if (constraint.op === '!=') return target.value === 'NULL' ? `(${subject.sql} IS NOT NULL)` : `coalesce(NOT ${test}, true)`;
        throw new RuleEvaluationError(`${target.value} can only be compared with = or !=`);
      }
      if (ORDERING.has(constraint.op)) {
        const s = ordered([target]);
        return `coalesce(${s.sql} ${constraint.op} ${await render(target, true)}, false)`;
      }
      const sqlOp = constraint.op === '=' ? '=' : '<>';
      return `coalesce(${subject.sql} ${sqlOp} ${await render(target, false)}, ${constraint.op === '!=' ? 'true' : 'false'})`;
    }
    case 'between': {
      const low = resolveVariable(constraint.low, resolver);
      const high = resolveVariable(constraint.high, resolver);
      const s = ordered([low, high]);
      return `coalesce(${s.sql} > ${await render(low, true)} AND ${s.sql} < ${await render(high, true)}, false)`;
    }
    case 'in': {
      const values = resolver.list(constraint.values).map((v) => resolveVariable(v, resolver));
      const plain = values.filter((v) => v.kind !== 'special');
      const tests: string[] = [];
      if (plain.length > 0) tests.push(`${subject.sql} IN (${(await Promise.all(plain.map((v) => render(v, false)))).join(', ')})`);
      for (const v of values) if (v.kind === 'special') tests.push(specialTest(subject, v.value));
      const found = `coalesce(${tests.join(' OR ')}, false)`;
      return constraint.negated ? `(NOT ${found})` : found;
    }
    case 'matches':
      // Glue matches the whole value, as Java's String.matches does.
      return `coalesce(regexp_full_match(CAST(${subject.sql} AS VARCHAR), ${quoteLiteral(constraint.pattern)}), false)`;
  }
}

function specialTest(subject: Subject, special: 'NULL' | 'EMPTY' | 'WHITESPACES_ONLY'): string {
  if (special === 'NULL') return `(${subject.sql} IS NULL)`;
  // Only text can be empty or blank.
  if (subject.kind !== 'string') return 'false';
  if (special === 'EMPTY') return `coalesce(${subject.sql} = '', false)`;
  return `coalesce(regexp_full_match(${subject.sql}, '\\s+'), false)`;
}

function resolveVariable(value: Value, resolver: ValueResolver): Value {
  return value.kind === 'variable' ? resolveVariable(resolver.variable(value.name), resolver) : value;
}

function isNumeric(value: Value, resolver: ValueResolver): boolean {
  const v = resolveVariable(value, resolver);
  if (v.kind === 'number' || isDynamic(v)) return true;
  if (v.kind === 'binary') return isNumeric(v.left, resolver) && isNumeric(v.right, resolver);
  if (v.kind === 'abs') return isNumeric(v.of, resolver);
  return false;
}

function hasTime(value: Value): boolean {
  if (value.kind === 'now' || value.kind === 'duration') return true;
  if (value.kind === 'binary') return hasTime(value.left) || hasTime(value.right);
  if (value.kind === 'abs') return hasTime(value.of);
  return false;
}

async function renderValue(value: Value, kind: ColumnKind, ordering: boolean, resolver: ValueResolver, now: Date): Promise<string> {
  const v = resolveVariable(value, resolver);
  if (v.kind === 'string') {
    if (kind === 'temporal') return `CAST(${quoteLiteral(v.value)} AS TIMESTAMP)`;
    if (kind === 'number' && v.value.trim() !== '' && !Number.isNaN(Number(v.value))) return v.value.trim();
    return quoteLiteral(v.value);
  }
  if (v.kind === 'special') throw new RuleEvaluationError(`${v.value} cannot be used in arithmetic or between`);
  if (hasTime(v)) return renderTime(v, resolver, now);
  const n = await resolver.number(v);
  // Equality on a text column compares text: "7" = 7.
  if (kind === 'string' && !ordering) return quoteLiteral(v.kind === 'number' ? v.raw : String(n));
  return Number.isFinite(n) ? String(n) : 'NULL';
}

async function renderTime(value: Value, resolver: ValueResolver, now: Date): Promise<string> {
  switch (value.kind) {
    case 'now': return timestampLiteral(now);
    case 'duration': return `INTERVAL '${await resolver.number(value, 'seconds')} seconds'`;
    case 'binary': return `(${await renderTime(value.left, resolver, now)} ${value.op} ${await renderTime(value.right, resolver, now)})`;
    case 'variable': return renderTime(resolver.variable(value.name), resolver, now);
    case 'string': return `CAST(${quoteLiteral(value.value)} AS TIMESTAMP)`;
    default: return String(await resolver.number(value));
  }
}
