import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  StorageClass,
  type LifecycleRule,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

/** The lake's data buckets, by the layer (or use) they hold. */
export const LAKE_BUCKET_NAMES = ['landingBronze', 'silver', 'gold', 'quarantine', 'athenaResults'] as const;
export type LakeBucketName = (typeof LAKE_BUCKET_NAMES)[number];

/** Key prefixes inside the landing+bronze bucket. */
export const LANDING_PREFIX = 'landing/';
export const BRONZE_PREFIX = 'bronze/';
/** quarantine.records' prefix inside the quarantine bucket, which also holds quality/ (quality.results). */
export const QUARANTINE_PREFIX = 'quarantine/';

export interface LakeStorageProps {
  readonly config: InfraConfig;
}

/**
 * Lifecycle tiers per bucket. Lake data never expires (only old versions do); Athena results are
 * scratch and expire. Transitions honour S3's minimums (30 days before Standard-IA). Every rule that
 * tiers part of a bucket names its prefix, so a new folder in that bucket is not tiered by accident.
 */
function tiersFor(name: LakeBucketName, config: InfraConfig): LifecycleRule[] {
  switch (name) {
    case 'landingBronze':
      return [
        {
          id: 'landing-tiers',
          prefix: LANDING_PREFIX,
          // Landing files are read once by the bronze jobs, then only for replays.
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
            { storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
          ],
        },
        {
          id: 'bronze-tiers',
          prefix: BRONZE_PREFIX,
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(90) },
            { storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(365) },
          ],
        },
      ];
    case 'silver':
    case 'gold':
      // Analysts' access patterns are unknown ahead of time: let S3 move objects by use.
      return [
        {
          id: `${name}-tiers`,
          transitions: [{ storageClass: StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(30) }],
        },
      ];
    case 'quarantine':
      // The operations bucket: quarantine/ (records set aside, read when someone investigates them) tiers
      // down; quality/ (quality.results, the history of every rule evaluation) stays in Standard and never
      // expires: every job run and the quality step read the whole history (dynamic rules, anomaly
      // detection), its objects are small (S3 bills IA and Glacier IR objects as at least 128 KB, and
      // charges for each read), and losing it resets every rule that compares against the past.
      return [
        {
          id: 'quarantine-tiers',
          prefix: QUARANTINE_PREFIX,
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
            { storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(180) },
          ],
        },
      ];
    case 'athenaResults':
      return [{ id: 'athena-results-expiry', expiration: Duration.days(config.athenaResultsExpirationDays) }];
  }
}

/**
 * The lake's S3 buckets: landing+bronze, silver, gold, quarantine and Athena results, all
 * encrypted with one rotating customer key (with S3 bucket keys), TLS-only, private, versioned,
 * and logging their access to a separate access-log bucket.
 *
 * @example
 * const lake = new LakeStorage(stack, 'Lake', { config });
 * lake.buckets.landingBronze.bucketArn;
 */
export class LakeStorage extends Construct {
  readonly key: Key;
  readonly accessLogBucket: Bucket;
  readonly buckets: Readonly<Record<LakeBucketName, Bucket>>;

  constructor(scope: Construct, id: string, props: LakeStorageProps) {
    super(scope, id);
    const { config } = props;
    // Prod never deletes data with the stack; dev buckets are removed on destroy once emptied.
    // autoDeleteObjects is deliberately not used anywhere: it adds a Lambda custom resource.
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const housekeeping: LifecycleRule[] = [
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays) },
    ];

    this.key = new Key(this, 'Key', {
      description: `medallion ${config.envName}: lake buckets (landing, bronze, silver, gold, quarantine, Athena results)`,
      enableKeyRotation: true,
      removalPolicy,
    });

    this.accessLogBucket = new Bucket(this, 'AccessLogBucket', {
      // S3 server access logging cannot deliver to a bucket whose default encryption is SSE-KMS.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        ...housekeeping,
        { id: 'access-log-expiry', expiration: Duration.days(config.accessLogExpirationDays) },
      ],
      removalPolicy,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log target bucket; logging its own access would loop into itself.',
    });

    const makeBucket = (name: LakeBucketName): Bucket =>
      new Bucket(this, `${name[0]!.toUpperCase()}${name.slice(1)}Bucket`, {
        encryption: BucketEncryption.KMS,
        encryptionKey: this.key,
        bucketKeyEnabled: true,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned: true,
        serverAccessLogsBucket: this.accessLogBucket,
        serverAccessLogsPrefix: `${name}/`,
        lifecycleRules: [...housekeeping, ...tiersFor(name, config)],
        removalPolicy,
      });

    this.buckets = {
      landingBronze: makeBucket('landingBronze'),
      silver: makeBucket('silver'),
      gold: makeBucket('gold'),
      quarantine: makeBucket('quarantine'),
      athenaResults: makeBucket('athenaResults'),
    };
  }
}
