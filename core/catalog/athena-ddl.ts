import type { Column } from '@aws-sdk/client-glue';
import { layerOf, type TableSpec } from '../table/index.ts';
import { glueDatabaseName, glueTableInput, type S3LakeLayout } from './glue-table-input.ts';

/** A Hive/Athena DDL identifier: backticks, a backtick inside doubled. */
export function quoteAthenaIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** A Hive/Athena DDL string literal: single quotes, with `\` and `'` escaped by a backslash (Hive's rule). */
export function quoteAthenaString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n').replaceAll('\r', '\\r')}'`;
}

function columnList(columns: readonly Column[]): string {
  return columns.map((column) => `  ${quoteAthenaIdentifier(column.Name as string)} ${column.Type} COMMENT ${quoteAthenaString(column.Comment ?? '')}`).join(',\n');
}

export interface AthenaDdlOptions {
  readonly databasePrefix: string;
  readonly layout: S3LakeLayout;
  /** The version an unpartitioned table's LOCATION names (default 0: empty until the catalog publishes). */
  readonly version?: number;
}

/**
 * Athena DDL that creates the same table GlueCatalog creates, rendered from the same TableInput: the
 * columns with Glue types and comments, partition keys, the Parquet SerDe read through symlink
 * manifests, the location and table properties. Partitions are not part of it: GlueCatalog registers
 * them at each commit's symlink manifests (do not run MSCK REPAIR TABLE on these tables).
 *
 * @example
 * athenaTableDdl(dailyTaskKpisTable, { databasePrefix: 'medallion', layout: s3LakeLayout({ default: 's3://example-lake-bucket/lake' }) });
 * // CREATE EXTERNAL TABLE IF NOT EXISTS `medallion_gold`.`daily_task_kpis` (...) ...
 */
export function athenaTableDdl(spec: TableSpec, options: AthenaDdlOptions): string {
  const input = glueTableInput(spec, { layout: options.layout, version: options.version ?? 0 });
  const storage = input.StorageDescriptor ?? {};
  const database = glueDatabaseName(options.databasePrefix, layerOf(spec.name));
  const lines = [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${quoteAthenaIdentifier(database)}.${quoteAthenaIdentifier(input.Name as string)} (`,
    columnList(storage.Columns ?? []),
    ')',
    `COMMENT ${quoteAthenaString(input.Description ?? '')}`,
  ];
  if ((input.PartitionKeys ?? []).length > 0) lines.push('PARTITIONED BY (', columnList(input.PartitionKeys ?? []), ')');
  const serdeParameters = Object.entries(storage.SerdeInfo?.Parameters ?? {});
  lines.push(
    `ROW FORMAT SERDE ${quoteAthenaString(storage.SerdeInfo?.SerializationLibrary ?? '')}`,
    ...(serdeParameters.length > 0 ? [`WITH SERDEPROPERTIES (${serdeParameters.map(([key, value]) => `${quoteAthenaString(key)}=${quoteAthenaString(value)}`).join(', ')})`] : []),
    `STORED AS INPUTFORMAT ${quoteAthenaString(storage.InputFormat ?? '')}`,
    `OUTPUTFORMAT ${quoteAthenaString(storage.OutputFormat ?? '')}`,
    `LOCATION ${quoteAthenaString(storage.Location ?? '')}`,
    // EXTERNAL is implied by CREATE EXTERNAL TABLE; Athena refuses it as a property.
    `TBLPROPERTIES (${Object.entries(input.Parameters ?? {}).filter(([key]) => key !== 'EXTERNAL').map(([key, value]) => `${quoteAthenaString(key)}=${quoteAthenaString(value)}`).join(', ')})`,
  );
  return `${lines.join('\n')};\n`;
}
