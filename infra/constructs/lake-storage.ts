import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
  StorageClass,
  type LifecycleRule,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { LakeAccess } from '../../core/layout/index.ts';
import type { InfraConfig } from '../config.ts';
import { type LakeLayout, type LakeLocation, lakeLayout, locateLakePrefix } from '../lake-layout.ts';

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
  /** Where each folder of the lake's key space lives (core/layout's keys, in these buckets). */
  readonly layout: LakeLayout;

  constructor(scope: Construct, id: string, props: LakeStorageProps) {
    super(scope, id);
    const { config } = props;
    // Prod never deletes data with the stack; dev buckets are removed on destroy once emptied.
    // autoDeleteObjects is deliberately not used anywhere: it adds a Lambda custom resource.
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const housekeeping: LifecycleRule[] = [
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      // An expired object of a versioned bucket leaves a delete marker; once its old versions are gone, it goes too
      // (in the same rule: S3 takes no rule whose only action is removing delete markers).
      { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpirationDays), expiredObjectDeleteMarker: true },
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
    this.layout = lakeLayout(this.buckets);
  }

  /**
   * Lets the holder of `policy` (`who`, in the reasons cdk-nag is given) list, read and write exactly the
   * lake prefixes `access` names (core/layout's `jobLakeAccess` or `qualityStepLakeAccess`), through the
   * lake key: decrypt what it reads, encrypt only into the buckets it writes.
   */
  grantLakeAccess(policy: Policy, who: string, access: LakeAccess): void {
    const stack = Stack.of(this);
    const reads = access.reads.map((prefix) => locateLakePrefix(this.layout, prefix));
    const lists = access.lists.map((prefix) => locateLakePrefix(this.layout, prefix));
    const writes = access.writes.map((prefix) => locateLakePrefix(this.layout, prefix));

    const buckets = new Map<IBucket, string[]>();
    for (const location of [...reads, ...lists, ...writes]) buckets.set(location.bucket, [...(buckets.get(location.bucket) ?? []), location.prefix]);
    const objectArns = (locations: readonly LakeLocation[]) => locations.map((location) => location.bucket.arnForObjects(`${location.prefix}*`));
    const bucketArns = (locations: readonly LakeLocation[]) => [...new Set(locations.map((location) => location.bucket))].map((bucket) => bucket.bucketArn);

    policy.addStatements(
      ...[...buckets].map(
        ([bucket, prefixes], index) =>
          new PolicyStatement({
            sid: `ListOwnPrefixes${index}`,
            actions: ['s3:ListBucket'],
            resources: [bucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
          }),
      ),
      ...(reads.length > 0 ? [new PolicyStatement({ sid: 'ReadSources', actions: ['s3:GetObject'], resources: objectArns(reads) })] : []),
      // (A read-only step, such as reconcile, writes nothing.)
      ...(writes.length > 0
        ? [new PolicyStatement({
            sid: 'WriteOwnTables',
            actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
            resources: objectArns(writes),
          })]
        : []),
      new PolicyStatement({
        sid: 'DecryptLakeObjects',
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
          // With S3 bucket keys the encryption context is the bucket ARN (object ARNs for older objects).
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucketArns([...reads, ...writes]).flatMap((arn) => [arn, `${arn}/*`]) },
        },
      }),
      ...(writes.length > 0
        ? [new PolicyStatement({
            sid: 'EncryptOwnTables',
            actions: ['kms:GenerateDataKey'],
            resources: [this.key.keyArn],
            conditions: {
              StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
              StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucketArns(writes).flatMap((arn) => [arn, `${arn}/*`]) },
            },
          })]
        : []),
    );

    // cdk-nag names each wildcard finding by the resource as it renders it: `<BucketLogicalId.Arn>/prefix*`.
    const acknowledged = new Set<string>();
    for (const location of [...reads, ...writes]) {
      const bucketLogicalId = String(stack.resolve((location.bucket.node.defaultChild as CfnResource).logicalId));
      const findingId = `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${location.prefix}*]`;
      if (acknowledged.has(findingId)) continue;
      acknowledged.add(findingId);
      Validations.of(policy).acknowledge({
        id: findingId,
        reason: `A run names its objects itself (run folders, partitions, part files), so ${who} may use any key under this one table or landing prefix, and no other prefix of the bucket.`,
      });
    }
  }
}
