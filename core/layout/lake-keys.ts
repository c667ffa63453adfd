import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, layerOf, shortNameOf, type TableName } from '../table/index.ts';

/**
 * The lake's key space, in one place. Every object the runtime writes or reads has its key from these
 * functions, and infra grants each role exactly the prefixes `jobLakeAccess` derives from them, so the two
 * cannot drift (test/integration/lake-access.test.ts records every key a pipeline run touches and checks
 * it against its role's grant).
 *
 * ```
 * landing/<source>/YYYY/MM/DD/HH/<object>          Firehose objects (errors/ for what it could not deliver)
 * <layer>/<table>/<run id>/[batch-00000/][col=v/]*.parquet   a table's files, staged and kept by run
 * quarantine/records/<job>/<run id>/...            the quarantine, one folder per job
 * quality/results/<job>/<run id>/...               quality.results, one folder per job (and `quality`)
 * <layer>/_symlink/<table>/[<partition>/]v<version>/manifest   Athena's view of a committed version
 * reports/medallion-report-<day>.html               the operations report (`medallion report`)
 * reports/latest-summary.json                       the last report's summary (subject, message, where)
 * ```
 * (The folder lake also keeps `_state/`, `_catalog/` and `_metrics/`, which are not lake keys.)
 */
export const LAKE_FOLDERS = ['landing', 'bronze', 'silver', 'gold', 'quarantine', 'quality', 'reports'] as const;
export type LakeFolder = (typeof LAKE_FOLDERS)[number];

/** The job name the quality step (`medallion quality`) records its evaluations under. */
export const QUALITY_JOB = 'quality';

/** Where `medallion report` writes the report of the range ending on `day` (YYYY-MM-DD). */
export function reportKey(day: string): string {
  return `${REPORTS_PREFIX}medallion-report-${day}.html`;
}

/** The operations reports' folder. */
export const REPORTS_PREFIX = 'reports/';

/** The last report's summary, which the AWS pipeline publishes to the warning topic (`ReportSummaryObject`). */
export const REPORT_SUMMARY_KEY = `${REPORTS_PREFIX}latest-summary.json`;

/** Where a landing source's objects arrive: `landing/tasks/`. */
export function landingPrefix(source: string): string {
  return `landing/${source}/`;
}

/** A table's folder: `silver/tasks/`. */
export function tablePrefix(table: TableName): string {
  return `${layerOf(table)}/${shortNameOf(table)}/`;
}

/** Where a run of a job stages an output: `silver/tasks/<run id>` (committed files stay there). */
export function tableStagingPrefix(table: TableName, runId: string): string {
  return `${tablePrefix(table)}${runId}`;
}

/** A job's folder of the quarantine, which every job appends to: `quarantine/records/<job>/`. */
export function jobQuarantinePrefix(job: string): string {
  return `${tablePrefix(QUARANTINE_TABLE.name)}${job}/`;
}

/** Where a run stages its quarantine rows: under the job's folder, so cleanup finds a job's own leftovers. */
export function quarantineStagingPrefix(job: string, runId: string): string {
  return `${jobQuarantinePrefix(job)}${runId}`;
}

/** A job's folder of quality.results (the quality step's is `quality/results/quality/`). */
export function jobQualityResultsPrefix(job: string): string {
  return `${tablePrefix(QUALITY_RESULTS_TABLE.name)}${job}/`;
}

/** A job's folder of quality.rejected_rows. */
export function jobRejectedRowsPrefix(job: string): string {
  return `${tablePrefix(QUALITY_REJECTED_TABLE.name)}${job}/`;
}

/** Where a run stopped by a fail rule stages the rows it refused. */
export function rejectedRowsStagingPrefix(job: string, runId: string): string {
  return `${jobRejectedRowsPrefix(job)}${runId}`;
}

/** Where a run stages its quality results: under the job's folder, like its quarantine. */
export function qualityStagingPrefix(job: string, runId: string): string {
  return `${jobQualityResultsPrefix(job)}${runId}`;
}

/** The folder above every version's symlink manifests of a table; a partitioned table's own Glue Location. */
export function symlinkRoot(table: TableName): string {
  return `${layerOf(table)}/_symlink/${shortNameOf(table)}/`;
}

/**
 * The folder of an unpartitioned table's current symlink manifest: its Glue location, the same in the stack's
 * definition and every publish, so a deploy never points Athena away from the current version.
 */
export function symlinkCurrentFolder(table: TableName): string {
  return `${symlinkRoot(table)}current/`;
}

/**
 * The folder of a partition's symlink manifest at a table version: under the partition's own folder
 * (`_symlink/records/job=silver.tasks/v12/`), so the writer of a partition of a shared table (the
 * quarantine, quality.results, quality.rejected_rows: one partition per job) can be granted exactly its own.
 * (Lakes published before this kept `_symlink/<table>/v<version>/<partition>/`; the catalog reads those where
 * they are until the partition changes, and the vacuum knows both.)
 */
export function symlinkFolder(table: TableName, version: number, partitionPath = ''): string {
  return `${symlinkRoot(table)}${partitionPath === '' ? '' : `${partitionPath}/`}v${version}/`;
}

/** A partition's folder of symlink manifests, every version's: `job=silver.tasks/` for `{ job: 'silver.tasks' }`. */
export function symlinkPartitionFolder(table: TableName, partitionBy: readonly string[], values: Readonly<Record<string, string>>): string {
  return `${symlinkRoot(table)}${symlinkPartitionPath(partitionBy, values)}/`;
}

/** A partition's path in Hive style (`ingest_date=2025-11-01`), each value percent-encoded, so a value cannot add folders to a symlink path. */
export function symlinkPartitionPath(partitionBy: readonly string[], values: Readonly<Record<string, string>>): string {
  return partitionBy.map((column) => `${column}=${encodeURIComponent(values[column] ?? '')}`).join('/');
}

/** The folders a job's runs write to and leave files in: each output's, and its quarantine and quality results folders. */
export function jobRunFolders(job: { readonly name: string; readonly outputs: readonly { readonly name: TableName }[] }): string[] {
  return [...job.outputs.map((output) => tablePrefix(output.name)), jobQuarantinePrefix(job.name), jobQualityResultsPrefix(job.name), jobRejectedRowsPrefix(job.name)];
}
