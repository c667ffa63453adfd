export type { AnalyzerResult, EvaluationContext, Outcome, QualityDataset, RuleResult, RulesetResult } from './types.ts';
export { evaluateRule, evaluateRuleset, isRowLevel } from './evaluate.ts';
