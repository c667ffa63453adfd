import { createHash } from 'node:crypto';
import type { Column, PartitionInput, StorageDescriptor, TableInput } from '@aws-sdk/client-glue';
import { ConfigError } from '../errors.ts';
import { LAYERS, dataColumns, layerOf, shortNameOf, type DataFile, type Layer, type PartitionEntry, type TableName, type TableSpec } from '../table/index.ts';
import { glueTypes } from './glue-types.ts';
import { symlinkCurrentFolder, symlinkPartitionPath, symlinkRoot } from '../layout/index.ts';

export { symlinkPartitionPath };
import { parseS3Uri, type S3Location } from '../storage/s3-uri.ts';

/**
 * How Athena reads a medallion table: through symlink manifests, never by listing folders.
 *
 * A committed partition's files can lie in several run folders (`silver/tasks/<run>/...`), next to
 * files of runs that never committed and files that later commits superseded, so no folder holds
 * exactly the committed files. Instead, every time a partition's committed file list changes the
 * catalog writes a small immutable text object, `<layer>/_symlink/<table>/<partition>/v<version>/manifest`,
 * listing the `s3://bucket/key` URI of each committed file, and points the Glue partition (or an
 * unpartitioned table) at that folder. Hive's `SymlinkTextInputFormat` with the Parquet SerDe reads
 * the files the manifests name, as Delta Lake does for Presto and Athena (`_symlink_format_manifest`).
 * Old manifests stay valid until a vacuum removes the files they name, so a query that started on the
 * previous version finishes on it.
 */
export const SYMLINK_PARQUET_FORMAT = {
  inputFormat: 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
  serdeParameters: { 'serialization.format': '1' } as Readonly<Record<string, string>>,
} as const;

/** Table parameters the catalog reads back: the published table version and each partition's file list digest. */
export const GLUE_PARAMETERS = {
  table: 'medallion.table',
  version: 'medallion.version',
  filesDigest: 'medallion.files_sha256',
} as const;

/** One place in S3: a bucket and a key prefix inside it ('' or ending in '/'), as S3Storage maps a folder. */
export type S3LakeLocation = S3Location;

/**
 * Where each layer's lake keys live in S3, by the same rule as S3Storage: a lake key keeps its whole
 * name under its layer's prefix, so `silver/tasks/x.parquet` with silver at `s3://lake-silver/prod/` is
 * `s3://lake-silver/prod/silver/tasks/x.parquet`. Symlink manifests live beside the tables (`<layer>/_symlink/...`).
 */
export type S3LakeLayout = Readonly<Record<Layer, S3LakeLocation>>;

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DATABASE_PREFIX = /^[a-z][a-z0-9_]*$/;
/** Glue's limits on a column comment and a table description. */
const MAX_COMMENT = 255;
const MAX_DESCRIPTION = 2048;

/**
 * A layout from S3Storage-style locations: `s3://bucket[/prefix]` per layer, `default` for the others.
 *
 * @example
 * s3LakeLayout({ default: 's3://example-lake-bucket/lake' }).gold; // { bucket: 'example-lake-bucket', prefix: 'lake/' }
 */
export function s3LakeLayout(locations: Readonly<Record<string, string>>): S3LakeLayout {
  const problems: string[] = [];
  const layout: Partial<Record<Layer, S3LakeLocation>> = {};
  for (const layer of LAYERS) {
    const uri = locations[layer] ?? locations.default;
    const location = uri === undefined ? undefined : parseS3Uri(uri);
    if (location) layout[layer] = location;
    else problems.push(`${layer}: ${uri === undefined ? 'no location (and no default)' : `${JSON.stringify(uri)} is not s3://bucket[/prefix]`}`);
  }
  if (problems.length > 0) throw new ConfigError('S3_LOCATION_INVALID', problems.join('; '), { hint: 'e.g. --location s3://example-lake-bucket/lake' });
  return checkLayout(layout as S3LakeLayout);
}

/** Checks every bucket name and prefix of a layout, reporting all problems at once. */
export function checkLayout(layout: S3LakeLayout): S3LakeLayout {
  const problems: string[] = [];
  for (const layer of LAYERS) {
    const location = layout[layer];
    if (!location) {
      problems.push(`${layer}: no location`);
      continue;
    }
    if (!BUCKET_NAME.test(location.bucket)) problems.push(`${layer}: bucket ${JSON.stringify(location.bucket)} is not a valid S3 bucket name`);
    if (location.prefix !== '' && (!location.prefix.endsWith('/') || location.prefix.startsWith('/'))) {
      problems.push(`${layer}: prefix ${JSON.stringify(location.prefix)} must be empty or end with / (and not start with one)`);
    }
  }
  if (problems.length > 0) throw new ConfigError('S3_LOCATION_INVALID', problems.join('; '));
  return layout;
}

/** The `s3://` URI of a lake key (`silver/tasks/run-1/data_0.parquet`). */
export function s3Uri(layout: S3LakeLayout, lakeKey: string): string {
  const layer = lakeKey.slice(0, Math.max(lakeKey.indexOf('/'), 0)) as Layer;
  const location = layout[layer];
  if (!location) throw new ConfigError('S3_LAYOUT_NO_LOCATION', `lake key ${JSON.stringify(lakeKey)} is in no layer of the S3 layout (${LAYERS.join(', ')})`);
  return `s3://${location.bucket}/${location.prefix}${lakeKey}`;
}

/** Glue database of a layer: one per layer, `<prefix>_<layer>` (e.g. `medallion_gold`). */
export function glueDatabaseName(databasePrefix: string, layer: Layer): string {
  if (!DATABASE_PREFIX.test(databasePrefix)) {
    throw new ConfigError('GLUE_DATABASE_PREFIX_INVALID', `database prefix ${JSON.stringify(databasePrefix)} must be lowercase snake_case (Glue and Athena lowercase names)`, {
      hint: 'e.g. --database-prefix medallion',
    });
  }
  return `${databasePrefix}_${layer}`;
}

/** The symlink manifest's text: one `s3://` URI per committed file, sorted, newline-terminated. */
export function renderSymlinkManifest(layout: S3LakeLayout, files: readonly DataFile[]): string {
  return files.map((file) => `${s3Uri(layout, file.key)}\n`).sort().join('');
}

/** SHA-256 of a symlink manifest's text: equal digests mean the partition's committed files did not change. */
export function filesDigest(manifestText: string): string {
  return createHash('sha256').update(manifestText).digest('hex');
}

export interface GlueTableOptions {
  readonly layout: S3LakeLayout;
  /**
   * The table version the definition describes (its `medallion.version` parameter; 0 in the stack's
   * definition). The Location does not depend on it (see tableLocation).
   */
  readonly version: number;
}

function comment(text: string, limit: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1)}…`;
}

/** Data columns and partition keys with Glue types; every unmapped column is reported in one error. */
export function glueColumns(spec: TableSpec): { readonly columns: Column[]; readonly partitionKeys: Column[] } {
  const types = glueTypes(spec.columns.map((column) => ({ name: `${spec.name}.${column.name}`, type: column.type })));
  const toColumn = (column: TableSpec['columns'][number]): Column => ({
    Name: column.name,
    Type: types.get(`${spec.name}.${column.name}`) as string,
    Comment: comment(column.description, MAX_COMMENT),
  });
  const byName = new Map(spec.columns.map((column) => [column.name, column]));
  return {
    columns: dataColumns(spec).map(toColumn),
    partitionKeys: spec.partitionBy.map((key) => toColumn(byName.get(key) as TableSpec['columns'][number])),
  };
}

function storageDescriptor(columns: Column[], location: string): StorageDescriptor {
  return {
    Columns: columns,
    Location: location,
    InputFormat: SYMLINK_PARQUET_FORMAT.inputFormat,
    OutputFormat: SYMLINK_PARQUET_FORMAT.outputFormat,
    Compressed: false,
    SerdeInfo: {
      SerializationLibrary: SYMLINK_PARQUET_FORMAT.serializationLibrary,
      Parameters: { ...SYMLINK_PARQUET_FORMAT.serdeParameters },
    },
  };
}

/**
 * The Location of a table: a partitioned table's symlink root (its partitions have locations of their own),
 * an unpartitioned table's `current/` folder, whose manifest each publish rewrites. It never changes with a
 * commit, so the stack's definition and the runtime's agree, and a deploy keeps Athena on the current version.
 */
export function tableLocation(spec: TableSpec, options: Pick<GlueTableOptions, 'layout'>): string {
  return s3Uri(options.layout, spec.partitionBy.length > 0 ? symlinkRoot(spec.name) : symlinkCurrentFolder(spec.name));
}

/**
 * Glue's TableInput for a table spec: an external Parquet table read through symlink manifests (see
 * SYMLINK_PARQUET_FORMAT), columns and partition keys with Glue types and the spec's descriptions.
 *
 * @example
 * const input = glueTableInput(dailyTaskKpisTable, { layout: s3LakeLayout({ default: 's3://example-lake-bucket/lake' }), version: 3 });
 * await glue.send(new CreateTableCommand({ DatabaseName: glueDatabaseName('medallion', 'gold'), TableInput: input }));
 */
export function glueTableInput(spec: TableSpec, options: GlueTableOptions): TableInput {
  const { columns, partitionKeys } = glueColumns(spec);
  return {
    Name: shortNameOf(spec.name),
    Description: comment(spec.description, MAX_DESCRIPTION),
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      EXTERNAL: 'TRUE',
      classification: 'parquet',
      [GLUE_PARAMETERS.table]: spec.name,
      [GLUE_PARAMETERS.version]: String(options.version),
    },
    PartitionKeys: partitionKeys,
    StorageDescriptor: storageDescriptor(columns, tableLocation(spec, options)),
  };
}

/**
 * Glue's PartitionInput for one committed partition whose symlink manifest lies in `symlinkFolderKey`
 * (a lake key prefix, see symlinkFolder). `digest` is filesDigest of that manifest's text; `version` the
 * table version whose commit wrote these files (a publisher of an older version leaves the partition alone).
 */
export function gluePartitionInput(
  spec: TableSpec,
  partition: PartitionEntry,
  options: { readonly layout: S3LakeLayout; readonly symlinkFolderKey: string; readonly digest: string; readonly version: number },
): PartitionInput {
  const { columns } = glueColumns(spec);
  return {
    Values: spec.partitionBy.map((key) => partition.values[key] ?? ''),
    Parameters: { [GLUE_PARAMETERS.filesDigest]: options.digest, [GLUE_PARAMETERS.version]: String(options.version) },
    StorageDescriptor: storageDescriptor(columns, s3Uri(options.layout, options.symlinkFolderKey)),
  };
}
