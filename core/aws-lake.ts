import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { s3LakeLayout, type Catalog } from './catalog/index.ts';
import { GlueCatalog } from './catalog/glue-catalog.ts';
import { DuckDbEngine, defaultMemoryLimit, engineTempDirectory } from './engine/index.ts';
import { ConfigError } from './errors.ts';
import type { Lake } from './lake.ts';
import { EmfMetricsSink } from './metrics/index.ts';
import { CloudWatchMetricsSink } from './metrics/cloudwatch-metrics-sink.ts';
import { DynamoDbStateStore } from './state/dynamodb-state-store.ts';
import { parseS3Uri } from './storage/index.ts';
import { S3Storage } from './storage/s3-storage.ts';
import type { TableSpec } from './table/index.ts';

export const AwsLakeConfigSchema = z.object({
  /** Where the lake's folders live: `default` and/or one per first folder (`landing`, `bronze`, ...), each `s3://bucket[/prefix]`. */
  locations: z.record(z.string(), z.string().refine((uri) => parseS3Uri(uri) !== undefined, 'must be s3://bucket[/prefix] with a valid bucket name'))
    .refine((locations) => Object.keys(locations).length > 0, 'at least one location is needed'),
  /** The DynamoDB table holding commits, bookmarks, locks and run records. */
  stateTable: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)'),
  region: z.string().min(1).optional(),
  /** An S3- and DynamoDB-compatible endpoint (a local stand-in); otherwise the SDK's own resolution. */
  endpointUrl: z.url().optional(),
  /** When set, every commit is published to the Glue Data Catalog, databases `<prefix>_<layer>`. */
  glueDatabasePrefix: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower snake_case').optional(),
  metricsNamespace: z.string().min(1).default('Medallion'),
  /** `emf` (default): Embedded Metric Format lines on stdout, for a log driver; `cloudwatch`: PutMetricData. */
  metrics: z.enum(['emf', 'cloudwatch']).default('emf'),
  tempDirectory: z.string().min(1).optional(),
  memoryLimit: z.string().min(1).optional(),
});
export type AwsLakeConfig = z.input<typeof AwsLakeConfigSchema>;

/** A catalog that publishes nowhere: a lake without `glueDatabasePrefix` is read through the state store only. */
const NO_CATALOG: Catalog = { publish: async () => undefined };

/**
 * The lake as the job container runs it: objects in S3, state in DynamoDB, metrics as CloudWatch Embedded
 * Metric Format on stdout, and (with `glueDatabasePrefix`) the Glue Data Catalog kept on the committed
 * versions. Credentials come from the SDK's default chain; a bad configuration is refused with every
 * problem listed.
 *
 * @example
 * const lake = openAwsLake({ locations: { default: 's3://my-lake/prod/' }, stateTable: 'medallion-state' }, PIPELINE_TABLES);
 */
export function openAwsLake(input: AwsLakeConfig, tables: readonly TableSpec[] = []): Lake {
  const parsed = AwsLakeConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`);
    throw new ConfigError('AWS_LAKE_CONFIG_INVALID', problems.join('; '), { hint: 'see the README, "Run in AWS"' });
  }
  const config = parsed.data;
  // A stand-in endpoint (s3rver, MinIO, LocalStack) addresses buckets by path, not by host name.
  const endpoint = config.endpointUrl ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const common = { ...(config.region ? { region: config.region } : {}), ...(config.endpointUrl ? { endpoint: config.endpointUrl } : {}) };
  const s3 = new S3Client({ ...common, ...(endpoint ? { forcePathStyle: true } : {}) });
  const scratch = config.tempDirectory ?? path.join(tmpdir(), `medallion-${process.pid}`);
  const storage = new S3Storage(s3, { locations: config.locations, tempDirectory: config.tempDirectory ?? tmpdir() });
  const state = new DynamoDbStateStore(new DynamoDBClient(common), config.stateTable);
  const catalog = config.glueDatabasePrefix
    ? new GlueCatalog({ glue: new GlueClient(common), storage, state, layout: s3LakeLayout(config.locations), databasePrefix: config.glueDatabasePrefix, tables })
    : NO_CATALOG;
  return {
    storage,
    state,
    catalog,
    metrics: config.metrics === 'cloudwatch' ? new CloudWatchMetricsSink(new CloudWatchClient(common), config.metricsNamespace) : new EmfMetricsSink(config.metricsNamespace),
    createEngine: () => DuckDbEngine.create({ tempDirectory: engineTempDirectory(scratch), memoryLimit: config.memoryLimit ?? defaultMemoryLimit() }),
  };
}
