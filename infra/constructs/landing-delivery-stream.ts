import { ArnFormat, type CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Effect, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, LogStream } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';
import { LANDING_PREFIX } from './lake-storage.ts';
import { firehoseErrorPrefix } from '../../core/index.ts';
import type { SourceName } from './source-tables.ts';

export interface LandingDeliveryStreamProps {
  readonly config: InfraConfig;
  readonly source: SourceName;
  /** The Kinesis data stream carrying this source table's changes, and the key it is encrypted with. */
  readonly stream: IStream;
  readonly streamKey: IKey;
  /** The landing+bronze bucket, and the key its objects are encrypted with. */
  readonly bucket: IBucket;
  readonly bucketKey: IKey;
}

/** Where Firehose writes a source's objects: `landing/<source>/YYYY/MM/DD/HH/`. */
export const landingPrefix = (source: SourceName): string => `${LANDING_PREFIX}${source}/!{timestamp:yyyy/MM/dd/HH}/`;
/** Where Firehose writes records it could not deliver, by error type. */
export const landingErrorPrefix = (source: SourceName): string =>
  `${firehoseErrorPrefix(source)}!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/`;

/**
 * One Firehose delivery stream from a source's Kinesis stream to `landing/<source>/`, gzip, one
 * record per line, with a role that can touch only that stream, that prefix, and those keys.
 *
 * @example
 * new LandingDeliveryStream(stack, 'TasksDelivery', { config, source: 'tasks', stream, streamKey, bucket, bucketKey });
 */
export class LandingDeliveryStream extends Construct {
  readonly deliveryStream: CfnDeliveryStream;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LandingDeliveryStreamProps) {
    super(scope, id);
    const { config, source, stream, streamKey, bucket, bucketKey } = props;
    const stack = Stack.of(this);
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // Firehose's delivery errors name objects and records: encrypted with the source's key, which CloudWatch Logs may
    // use for this log group only.
    const logGroupName = `/medallion/${config.envName}/firehose/${source}`;
    streamKey.addToResourcePolicy(new PolicyStatement({
      sid: `EncryptFirehoseLogs${source[0]!.toUpperCase()}${source.slice(1)}`,
      principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }) } },
    }));
    this.logGroup = new LogGroup(this, 'DeliveryLogs', { logGroupName, retention: config.logRetentionDays, encryptionKey: streamKey, removalPolicy });
    const logStream = new LogStream(this, 'S3DeliveryLogStream', { logGroup: this.logGroup, removalPolicy });
    const logStreamArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `${this.logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `Firehose delivery of the ${source} change stream to ${LANDING_PREFIX}${source}/`,
    });

    // The error output is inside the source's prefix (landing/<source>/errors/), where bronze quarantines it.
    const objectPrefixes = [`${LANDING_PREFIX}${source}/`];
    const objectArns = objectPrefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
    const policy = new Policy(this, 'Policy', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          sid: 'ReadSourceStream',
          actions: ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards'],
          resources: [stream.streamArn],
        }),
        new PolicyStatement({
          sid: 'DecryptSourceStream',
          actions: ['kms:Decrypt'],
          resources: [streamKey.keyArn],
          conditions: { StringEquals: { 'kms:EncryptionContext:aws:kinesis:arn': stream.streamArn } },
        }),
        new PolicyStatement({
          sid: 'LocateLandingBucket',
          actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
          resources: [bucket.bucketArn],
        }),
        new PolicyStatement({
          sid: 'ListLandingPrefix',
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': objectPrefixes.map((prefix) => `${prefix}*`) } },
        }),
        new PolicyStatement({
          sid: 'WriteLandingPrefix',
          actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
          resources: objectArns,
        }),
        new PolicyStatement({
          sid: 'EncryptLandingObjects',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [bucketKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
        }),
        new PolicyStatement({
          sid: 'WriteDeliveryLogs',
          effect: Effect.ALLOW,
          actions: ['logs:PutLogEvents'],
          resources: [logStreamArn],
        }),
      ],
    });
    // cdk-nag names each wildcard finding by the resource as it renders it: `<BucketLogicalId.Arn>/prefix*`.
    const bucketLogicalId: unknown = stack.resolve((bucket.node.defaultChild as CfnResource).logicalId);
    for (const prefix of objectPrefixes) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${String(bucketLogicalId)}.Arn>/${prefix}*]`,
        reason:
          'Firehose names every object it writes (time folders plus a random suffix), so the role may write any key under this one source prefix, and nowhere else in the bucket.',
      });
    }

    this.deliveryStream = new CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: this.role.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: bucket.bucketArn,
        roleArn: this.role.roleArn,
        prefix: landingPrefix(source),
        errorOutputPrefix: landingErrorPrefix(source),
        compressionFormat: 'GZIP',
        bufferingHints: {
          intervalInSeconds: config.firehoseBufferingIntervalSeconds,
          sizeInMBs: config.firehoseBufferingSizeMiB,
        },
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: bucketKey.keyArn } },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: this.logGroup.logGroupName,
          logStreamName: logStream.logStreamName,
        },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              // Firehose concatenates records with no separator by default; the bronze readers
              // accept both, but one record per line is what Athena and humans can read.
              type: 'AppendDelimiterToRecord',
              parameters: [{ parameterName: 'Delimiter', parameterValue: '\\n' }],
            },
          ],
        },
      },
    });
    // Firehose checks its role when the stream is created, so the policy must exist first.
    this.deliveryStream.node.addDependency(policy);
    Validations.of(this.deliveryStream).acknowledge({
      id: 'AwsSolutions-KDF1',
      reason:
        'Firehose server-side encryption cannot be set on a delivery stream whose source is a Kinesis data stream; the source stream is KMS-encrypted and delivered objects are encrypted with the lake key.',
    });
  }
}
