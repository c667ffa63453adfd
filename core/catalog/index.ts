export type { Catalog, PublishOptions } from './catalog.ts';
export { attachTables, readManifests, tableRelation } from './attach-tables.ts';
export { LocalCatalog } from './local-catalog.ts';
export { GlueTypeError, SCALAR_TYPES, glueType, glueTypes, parseDuckDbType, type DuckDbType } from './glue-types.ts';
export {
  GLUE_PARAMETERS, SYMLINK_PARQUET_FORMAT, checkLayout, filesDigest, glueColumns, glueDatabaseName, gluePartitionInput, glueTableInput,
  renderSymlinkManifest, s3LakeLayout, s3Uri, symlinkPartitionPath, tableLocation,
  type GlueTableOptions, type S3LakeLayout, type S3LakeLocation,
} from './glue-table-input.ts';
export { GLUE_BATCH_LIMITS, GlueCatalog, GlueCatalogError, planPartitions, type GlueCatalogOptions } from './glue-catalog.ts';
export { athenaTableDdl, quoteAthenaIdentifier, quoteAthenaString, type AthenaDdlOptions } from './athena-ddl.ts';
export { withEvolvedColumns } from './glue-catalog.ts';
