import { LAKE_FOLDERS, type LakeFolder } from '../core/layout/index.ts';
import type { IBucket } from 'aws-cdk-lib/aws-s3';

/** One place in S3: a bucket and a key prefix inside it ('' or ending in '/'). */
export interface LakeLocation {
  readonly bucket: IBucket;
  readonly prefix: string;
}



/**
 * Where each part of the lake's key space lives in S3, by the rule `S3Storage` (core/storage) follows:
 * a lake key keeps its whole name under the location of its first folder, so with silver at
 * `s3://<silver bucket>/`, `silver/tasks/<run>/part-0.parquet` is `s3://<silver bucket>/silver/tasks/<run>/part-0.parquet`.
 * The Glue tables point at the same places.
 */
export type LakeLayout = Readonly<Record<LakeFolder, LakeLocation>>;

/** The S3 location of a lake key prefix (`silver/tasks/` is the silver bucket's `silver/tasks/`). */
export function locateLakePrefix(layout: LakeLayout, lakePrefix: string): LakeLocation {
  const root = lakePrefix.slice(0, Math.max(lakePrefix.indexOf('/'), 0)) as LakeFolder;
  const location = layout[root];
  if (!location) throw new Error(`lake key ${JSON.stringify(lakePrefix)} starts with no known folder (${LAKE_FOLDERS.join(', ')})`);
  return { bucket: location.bucket, prefix: `${location.prefix}${lakePrefix}` };
}

/**
 * The layout the stack builds: landing and bronze share the landing+bronze bucket; silver and gold have a
 * bucket each; quarantine and quality (quality.results, the history of every rule evaluation) share the
 * quarantine bucket, the lake's operations bucket: neither is analyst data, and both are small. The operations
 * reports (`reports/`) live there too.
 */
export function lakeLayout(buckets: {
  readonly landingBronze: IBucket;
  readonly silver: IBucket;
  readonly gold: IBucket;
  readonly quarantine: IBucket;
}): LakeLayout {
  return {
    landing: { bucket: buckets.landingBronze, prefix: '' },
    bronze: { bucket: buckets.landingBronze, prefix: '' },
    silver: { bucket: buckets.silver, prefix: '' },
    gold: { bucket: buckets.gold, prefix: '' },
    quarantine: { bucket: buckets.quarantine, prefix: '' },
    quality: { bucket: buckets.quarantine, prefix: '' },
    reports: { bucket: buckets.quarantine, prefix: '' },
  };
}
