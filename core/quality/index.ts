export * from './dqdl/index.ts';
export * from './rule-sets.ts';
export * from './quality-gate.ts';
export * from './evaluate-tables.ts';
export * from './evaluator/index.ts';
export * from './anomaly.ts';
