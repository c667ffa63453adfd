export type * from './ast.ts';
export { DqdlSyntaxError } from './errors.ts';
export { ANOMALY_RULES, RULE_SPECS, parseDqdl } from './parser.ts';
export { KEYWORDS, tokenize, type Token, type TokenKind } from './tokenizer.ts';
export { printAnalyzer, printConstraint, printRule, printRuleset, printValue } from './printer.ts';
