export { applyWrite, commitTables, type CommitRequest, type CommitResult, type TableWrite } from './commit.ts';
export { emptyManifest, fileSchema, filesHoldManifestColumns, manifestFiles, manifestRows, partitionKey, type DataFile, type PartitionEntry, type TableManifest } from './manifest.ts';
export { tableVersionSql } from './table-relation.ts';
export { renderTableReference } from './table-reference.ts';
export {
  LAYERS, TableSpecSchema, dataColumns, defineTable, layerOf, shortNameOf, withAddedColumns,
  type ColumnSpec, type Layer, type TableName, type TableSpec,
} from './table-spec.ts';
export { castColumns, copyToStaging, countQuery, countRows, persistStage, SOURCE_OBJECT_COLUMN, type CopyOptions, type OutputStage } from './table-staging.ts';
export { JOB_PARTITIONED_TABLES, QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, REJECTED_ROWS_PER_RULE } from './framework-tables.ts';
export {
  DEFAULT_RETAIN_MS, firstRetainedCommit, parseAsOf, rootAsOf, tableHistory, VACUUM_RECORD, type AsOf, type TableVersion, type VacuumHorizon,
} from './table-history.ts';
