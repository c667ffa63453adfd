import type { Constraint, Ruleset, Threshold, Value } from '../dqdl/index.ts';
import { printConstraint } from '../dqdl/index.ts';

/** A rule that cannot be evaluated as written (wrong value kind, unknown alias, bad SQL result): outcome ERROR. */
export class RuleEvaluationError extends Error {
  override readonly name = 'RuleEvaluationError';
}

/** A dynamic value asked for history that does not exist yet: the rule passes until there is some. */
export class NoHistoryError extends Error {
  override readonly name = 'NoHistoryError';
}

const SECONDS: Readonly<Record<'minutes' | 'hours' | 'days', number>> = { minutes: 60, hours: 3600, days: 86_400 };

/**
 * Turns DQDL values into numbers: constants, arithmetic and the dynamic functions over the rule's own
 * metric history (`last(k)` is the newest k values, newest first, so `index(last(3), 0)` is the latest run).
 */
export class ValueResolver {
  private history: readonly number[] | undefined;

  constructor(
    private readonly variables: Ruleset['variables'],
    private readonly loadHistory: (() => Promise<readonly number[]>) | undefined,
  ) {}

  /** Durations become seconds when `durations` is 'seconds' (DataFreshness); elsewhere they are refused. */
  async number(value: Value, durations: 'seconds' | 'refuse' = 'refuse'): Promise<number> {
    switch (value.kind) {
      case 'number':
        return value.value;
      case 'string': {
        const parsed = Number(value.value);
        if (value.value.trim() === '' || Number.isNaN(parsed)) throw new RuleEvaluationError(`expected a number, found the string "${value.value}"`);
        return parsed;
      }
      case 'duration':
        if (durations === 'refuse') throw new RuleEvaluationError(`expected a number, found the duration ${value.amount} ${value.unit}`);
        return value.amount * SECONDS[value.unit];
      case 'variable':
        return this.number(this.variable(value.name), durations);
      case 'abs':
        return Math.abs(await this.number(value.of, durations));
      case 'binary': {
        const left = await this.number(value.left, durations);
        const right = await this.number(value.right, durations);
        switch (value.op) {
          case '+': return left + right;
          case '-': return left - right;
          case '*': return left * right;
          case '/': return left / right;
        }
      }
      case 'last': {
        // A bare last(k) stands for the newest of those k runs.
        const values = await this.last(value.count);
        return values[0]!;
      }
      case 'index': {
        const values = await this.last(value.of.kind === 'last' ? value.of.count : 1);
        if (value.index >= values.length) throw new NoHistoryError(`index(last(${values.length}), ${value.index}) needs ${value.index + 1} earlier values; ${values.length} recorded so far`);
        return values[value.index]!;
      }
      case 'aggregate':
        return aggregate(value.fn, await this.last(value.of.kind === 'last' ? value.of.count : 1));
      case 'special':
        throw new RuleEvaluationError(`expected a number, found ${value.value}`);
      case 'now':
        throw new RuleEvaluationError('expected a number, found now()');
    }
  }

  variable(name: string): Value {
    const found = this.variables?.[name];
    if (found === undefined) throw new RuleEvaluationError(`the constant $${name} is not defined in the ruleset`);
    if (Array.isArray(found)) throw new RuleEvaluationError(`expected a single value, found the list $${name}`);
    return found;
  }

  list(values: Value[] | { kind: 'variable'; name: string }): Value[] {
    if (Array.isArray(values)) return values;
    const found = this.variables?.[values.name];
    if (found === undefined) throw new RuleEvaluationError(`the constant $${values.name} is not defined in the ruleset`);
    return Array.isArray(found) ? found : [found];
  }

  /** The newest `count` values of the metric, newest first; at least one or NoHistoryError. */
  private async last(count: number): Promise<readonly number[]> {
    this.history ??= this.loadHistory ? await this.loadHistory() : [];
    if (this.history.length === 0) throw new NoHistoryError('no earlier values of this metric are recorded yet, so the dynamic rule passes');
    return this.history.slice(-count).reverse();
  }
}

function aggregate(fn: 'avg' | 'min' | 'max' | 'sum' | 'std' | 'median', values: readonly number[]): number {
  const sum = values.reduce((total, v) => total + v, 0);
  switch (fn) {
    case 'avg': return sum / values.length;
    case 'min': return Math.min(...values);
    case 'max': return Math.max(...values);
    case 'sum': return sum;
    case 'std': {
      // Sample standard deviation (n - 1); a single value has none, so 0.
      if (values.length < 2) return 0;
      const mean = sum / values.length;
      return Math.sqrt(values.reduce((total, v) => total + (v - mean) ** 2, 0) / (values.length - 1));
    }
    case 'median': {
      const sorted = [...values].sort((a, b) => a - b);
      const middle = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    }
  }
}

/** True when the value needs the metric's history. */
export function isDynamic(value: Value): boolean {
  switch (value.kind) {
    case 'last': case 'aggregate': case 'index': return true;
    case 'abs': return isDynamic(value.of);
    case 'binary': return isDynamic(value.left) || isDynamic(value.right);
    default: return false;
  }
}

/** A number as results show it: no float noise such as 0.30000000000000004. */
export function formatNumber(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** What a number constraint became once resolved: whether the value passes and the constraint as text. */
export interface Judgement {
  readonly pass: boolean;
  readonly threshold: string;
}

/**
 * Compares a measured number with a constraint. `between` is exclusive, as in Glue. Literal numbers keep
 * their written form in the threshold text ('= 1.0'); computed ones are printed resolved ('> 950.5').
 */
export async function judge(value: number, constraint: Constraint | Threshold, resolver: ValueResolver): Promise<Judgement> {
  const resolve = async (v: Value): Promise<Value> => {
    if (v.kind === 'number') return v;
    const n = await resolver.number(v);
    return { kind: 'number', value: n, raw: formatNumber(n) };
  };
  const num = (v: Value): number => (v as { value: number }).value;
  switch (constraint.kind) {
    case 'compare': {
      const target = await resolve(constraint.value);
      return { pass: compare(value, constraint.op, num(target)), threshold: printConstraint({ ...constraint, value: target }) };
    }
    case 'between': {
      const low = await resolve(constraint.low);
      const high = await resolve(constraint.high);
      return { pass: value > num(low) && value < num(high), threshold: printConstraint({ kind: 'between', low, high }) };
    }
    case 'in': {
      const values: Value[] = [];
      for (const v of resolver.list(constraint.values)) values.push(await resolve(v));
      const found = values.some((v) => num(v) === value);
      return { pass: constraint.negated ? !found : found, threshold: printConstraint({ kind: 'in', negated: constraint.negated, values }) };
    }
    case 'matches':
      throw new RuleEvaluationError('"matches" compares text; this rule measures a number');
  }
}

export function compare(left: number, op: '=' | '!=' | '>' | '>=' | '<' | '<=', right: number): boolean {
  switch (op) {
    case '=': return left === right;
    case '!=': return left !== right;
    case '>': return left > right;
    case '>=': return left >= right;
    case '<': return left < right;
    case '<=': return left <= right;
  }
}
