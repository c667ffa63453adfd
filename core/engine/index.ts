export type { Engine, QueryResult, ResultColumn, ResultRow, ResultValue } from './engine.ts';
export { DuckDbEngine, type DuckDbEngineOptions } from './duckdb-engine.ts';
export { literalList, quoteIdentifier, quoteLiteral } from './sql.ts';
export { availableMemoryBytes, defaultMemoryLimit, engineTempDirectory } from './memory-budget.ts';
