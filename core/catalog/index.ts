export type { Catalog, PublishOptions } from './catalog.ts';
export { attachTables, readManifests, tableRelation } from './attach-tables.ts';
export { LocalCatalog } from './local-catalog.ts';
export { GlueTypeError, SCALAR_TYPES, glueType, glueTypes, parseDuckDbType, type DuckDbType } from './glue-types.ts';
export {
  GLUE_PARAMETERS, SYMLINK_PARQUET_FORMAT, checkLayout, filesDigest, glueColumns, glueDatabaseName, gluePartitionInput, glueTableInput,
  renderSymlinkManifest, s3LakeLayout, s3Uri, symlinkPartitionPath, tableLocation,
  type GlueTableOptions, type S3LakeLayout, type S3LakeLocation,
} from './glue-table-input.ts';
// GlueCatalog (and withEvolvedColumns, planPartitions, GLUE_BATCH_LIMITS) is imported from './glue-catalog.ts': it loads the
// AWS SDK's Glue client, which a folder lake never needs.
export { athenaTableDdl, quoteAthenaIdentifier, quoteAthenaString, type AthenaDdlOptions } from './athena-ddl.ts';
