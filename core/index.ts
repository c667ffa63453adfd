/**
 * medallion for job authors: define jobs and their tables, name their sources, quote SQL, and run a job
 * over a folder lake to test it. Everything else in core (the runner's phases, the state store, the
 * catalog, the quality evaluator, the AWS adapters) is the framework's own; the CLI and infra import it
 * from its folders' front doors (`core/runner/index.ts`, `core/layout/index.ts`, ...).
 *
 * @example
 * import { defineJob, defineTable, tableSource } from '../../core/index.ts';
 */
export { defineJob, landingSource, tableSource, type Job, type JobPlan, type PlanStep, type SourceSpec, type TransformContext } from './job/index.ts';
export { defineTable, type ColumnSpec, type TableName, type TableSpec } from './table/index.ts';
export { quoteIdentifier, quoteLiteral } from './engine/index.ts';
export { LANDING_RECORD_COLUMNS, firehoseErrorPrefix } from './landing/index.ts';
export { ConfigError, JobDefinitionError } from './errors.ts';
export { openLocalLake, type Lake, type LocalLakeOptions } from './lake.ts';
export { runJob, type JobRunResult } from './runner/index.ts';
