import type { Analyzer, ArithmeticOperator, Constraint, Rule, Ruleset, Value } from './ast.ts';

/**
 * Canonical DQDL text for the AST: what {@link parseDqdl} reads back into the same tree (positions aside).
 * Results name their rule with it, so one rule always prints the same way.
 *
 * @example
 * printRule(parseDqdl('Rules = [ColumnValues  "a" between 1 and 5]').rules[0]); // 'ColumnValues "a" between 1 and 5'
 */
export function printRule(rule: Rule): string {
  if (rule.kind === 'composite') return rule.operands.map((operand) => `(${printRule(operand)})`).join(` ${rule.op} `);
  let text = [rule.type, ...rule.parameters.map(printString)].join(' ');
  if (rule.constraint) text += ` ${printConstraint(rule.constraint)}`;
  if (rule.where !== undefined) text += ` where ${printString(rule.where)}`;
  if (rule.threshold) text += ` with threshold ${printConstraint(rule.threshold)}`;
  return text;
}

export function printAnalyzer(analyzer: Analyzer): string {
  let text = [analyzer.type, ...analyzer.parameters.map(printString)].join(' ');
  if (analyzer.where !== undefined) text += ` where ${printString(analyzer.where)}`;
  return text;
}

/** Constants first, then `Rules = [...]` and `Analyzers = [...]`, one entry per line. */
export function printRuleset(ruleset: Ruleset): string {
  const sections: string[] = [];
  const constants = Object.entries(ruleset.variables ?? {}).map(
    ([name, value]) => `${name} = ${Array.isArray(value) ? `[${value.map(printValue).join(', ')}]` : printValue(value)}`,
  );
  if (constants.length > 0) sections.push(constants.join('\n'));
  const list = (name: string, items: string[]): string => `${name} = [\n${items.map((item) => `    ${item}`).join(',\n')}\n]`;
  // The parser refuses an empty list; an empty ruleset still prints a Rules section so the text says what it is.
  if (ruleset.rules.length > 0 || ruleset.analyzers.length === 0) sections.push(list('Rules', ruleset.rules.map(printRule)));
  if (ruleset.analyzers.length > 0) sections.push(list('Analyzers', ruleset.analyzers.map(printAnalyzer)));
  return `${sections.join('\n\n')}\n`;
}

export function printConstraint(constraint: Constraint): string {
  switch (constraint.kind) {
    case 'compare':
      return `${constraint.op} ${printValue(constraint.value)}`;
    case 'between':
      return `between ${printValue(constraint.low)} and ${printValue(constraint.high)}`;
    case 'in': {
      const keyword = constraint.negated ? 'not in' : 'in';
      const values = Array.isArray(constraint.values) ? `[${constraint.values.map(printValue).join(', ')}]` : `$${constraint.values.name}`;
      return `${keyword} ${values}`;
    }
    case 'matches':
      return `matches ${printString(constraint.pattern)}`;
  }
}

const PRECEDENCE: Readonly<Record<ArithmeticOperator, number>> = { '+': 1, '-': 1, '*': 2, '/': 2 };

export function printValue(value: Value): string {
  switch (value.kind) {
    case 'number':
      return value.raw;
    case 'string':
      return printString(value.value);
    case 'special':
      return value.value;
    case 'duration':
      return `${value.amount} ${value.unit}`;
    case 'now':
      return 'now()';
    case 'last':
      return `last(${value.count})`;
    case 'aggregate':
      return `${value.fn}(${printValue(value.of)})`;
    case 'index':
      return `index(${printValue(value.of)}, ${value.index})`;
    case 'abs':
      return `abs(${printValue(value.of)})`;
    case 'variable':
      return `$${value.name}`;
    case 'binary': {
      const precedence = PRECEDENCE[value.op];
      // The parser groups left to right, so a right operand of equal precedence needs parentheses to stay where it is.
      const left = value.left.kind === 'binary' && PRECEDENCE[value.left.op] < precedence ? `(${printValue(value.left)})` : printValue(value.left);
      const right = value.right.kind === 'binary' && PRECEDENCE[value.right.op] <= precedence ? `(${printValue(value.right)})` : printValue(value.right);
      return `${left} ${value.op} ${right}`;
    }
  }
}

/** A DQDL string literal; the tokenizer reads `\\`, `\"`, `\n` and `\t` back. */
function printString(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n').replaceAll('\t', '\\t')}"`;
}
