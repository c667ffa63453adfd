import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV_DEFAULTS } from '../../../infra/index.ts';
import { ENVS, buildApp, resourceByPrefix, stackOf, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
const SOURCES = [
  ['users', 'Users', 'tasks'],
  ['tasks', 'Tasks', 'users'],
] as const;

/** Every string and logical id a value mentions, flattened, so a policy can be searched for names. */
const mentions = (value: unknown): string => JSON.stringify(value);

describe.each(ENVS)('landing delivery streams (%s)', (envName) => {
  describe.each(SOURCES)('%s', (source, name, otherSource) => {
    const delivery = () => {
      const template = templates()[envName];
      return {
        template,
        stream: resourceByPrefix(template, 'AWS::KinesisFirehose::DeliveryStream', `${name}DeliveryDeliveryStream`).resource,
        role: resourceByPrefix(template, 'AWS::IAM::Role', `${name}DeliveryRole`),
        policy: resourceByPrefix(template, 'AWS::IAM::Policy', `${name}DeliveryPolicy`).resource,
        sourceStream: resourceByPrefix(template, 'AWS::Kinesis::Stream', `Sources${name}ChangeStream`),
        bucket: resourceByPrefix(template, 'AWS::S3::Bucket', 'LakeLandingBronzeBucket'),
        lakeKey: resourceByPrefix(template, 'AWS::KMS::Key', 'LakeKey'),
        logGroup: resourceByPrefix(template, 'AWS::Logs::LogGroup', `${name}DeliveryDeliveryLogs`),
      };
    };

    it('logs its delivery errors to a log group of its own, encrypted with the sources\' key, which CloudWatch Logs may use for that group only', () => {
      const { template, logGroup } = delivery();
      const sourcesKey = resourceByPrefix(template, 'AWS::KMS::Key', 'SourcesKey');
      expect(logGroup.resource.Properties).toMatchObject({ LogGroupName: `/medallion/${envName}/firehose/${source}`, KmsKeyId: { 'Fn::GetAtt': [sourcesKey.logicalId, 'Arn'] } });
      const statement = (sourcesKey.resource.Properties!.KeyPolicy.Statement as Record<string, any>[]).find((candidate) => candidate.Sid === `EncryptFirehoseLogs${source[0]!.toUpperCase()}${source.slice(1)}`)!;
      expect(JSON.stringify(statement.Condition.ArnEquals['kms:EncryptionContext:aws:logs:arn'])).toContain(`:log-group:/medallion/${envName}/firehose/${source}`);
    });

    it('reads its own Kinesis stream and writes gzip, newline-delimited objects under landing/<source>/ time folders', () => {
      const { stream, role, sourceStream, bucket, lakeKey, logGroup } = delivery();
      const s3 = stream.Properties!.ExtendedS3DestinationConfiguration;
      expect(stream.Properties).toMatchObject({
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: {
          KinesisStreamARN: { 'Fn::GetAtt': [sourceStream.logicalId, 'Arn'] },
          RoleARN: { 'Fn::GetAtt': [role.logicalId, 'Arn'] },
        },
      });
      expect(s3).toMatchObject({
        BucketARN: { 'Fn::GetAtt': [bucket.logicalId, 'Arn'] },
        Prefix: `landing/${source}/!{timestamp:yyyy/MM/dd/HH}/`,
        ErrorOutputPrefix: `landing/${source}/errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/`,
        CompressionFormat: 'GZIP',
        BufferingHints: {
          IntervalInSeconds: ENV_DEFAULTS[envName].firehoseBufferingIntervalSeconds,
          SizeInMBs: ENV_DEFAULTS[envName].firehoseBufferingSizeMiB,
        },
        EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: { 'Fn::GetAtt': [lakeKey.logicalId, 'Arn'] } } },
        CloudWatchLoggingOptions: { Enabled: true, LogGroupName: { Ref: logGroup.logicalId } },
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [{ Type: 'AppendDelimiterToRecord', Parameters: [{ ParameterName: 'Delimiter', ParameterValue: '\\n' }] }],
        },
      });
      expect(logGroup.resource.Properties).toMatchObject({ RetentionInDays: ENV_DEFAULTS[envName].logRetentionDays });
    });

    it('has a role only Firehose in this account can assume', () => {
      const { role } = delivery();
      expect(role.resource.Properties!.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'firehose.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ]);
      expect(role.resource.Properties!.ManagedPolicyArns).toBeUndefined();
    });

    it('grants only this stream, this source prefix and these keys', () => {
      const { policy, sourceStream, bucket, lakeKey, template } = delivery();
      const sourceKey = resourceByPrefix(template, 'AWS::KMS::Key', 'SourcesKey');
      const statements: Record<string, any>[] = policy.Properties!.PolicyDocument.Statement;
      const bySid = Object.fromEntries(statements.map((statement) => [statement.Sid, statement]));
      const bucketArn = { 'Fn::GetAtt': [bucket.logicalId, 'Arn'] };
      const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}*`]] });

      expect(Object.keys(bySid).sort()).toEqual(
        ['DecryptSourceStream', 'EncryptLandingObjects', 'ListLandingPrefix', 'LocateLandingBucket', 'ReadSourceStream', 'WriteDeliveryLogs', 'WriteLandingPrefix'].sort(),
      );
      expect(bySid.ReadSourceStream.Resource).toEqual({ 'Fn::GetAtt': [sourceStream.logicalId, 'Arn'] });
      expect(bySid.DecryptSourceStream).toMatchObject({
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [sourceKey.logicalId, 'Arn'] },
        Condition: { StringEquals: { 'kms:EncryptionContext:aws:kinesis:arn': { 'Fn::GetAtt': [sourceStream.logicalId, 'Arn'] } } },
      });
      expect(bySid.LocateLandingBucket).toMatchObject({ Action: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'], Resource: bucketArn });
      // Listing, only under the source's own prefix.
      expect(bySid.ListLandingPrefix).toMatchObject({ Action: 's3:ListBucket', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [`landing/${source}/*`] } } });
      expect(bySid.WriteLandingPrefix).toMatchObject({
        Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
        Resource: objects(`landing/${source}/`),
      });
      expect(bySid.EncryptLandingObjects).toMatchObject({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [lakeKey.logicalId, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
      });
      expect(bySid.WriteDeliveryLogs.Action).toBe('logs:PutLogEvents');

      // Nothing of the other source: neither its stream nor its prefixes.
      const otherStream = resourceByPrefix(template, 'AWS::Kinesis::Stream', `Sources${otherSource === 'users' ? 'Users' : 'Tasks'}ChangeStream`);
      expect(mentions(statements)).not.toContain(otherStream.logicalId);
      expect(mentions(statements)).not.toContain(`/${otherSource}/`);
    });

    it('is created only after its role policy exists (Firehose checks the role at creation)', () => {
      const { stream, template } = delivery();
      const policyId = resourceByPrefix(template, 'AWS::IAM::Policy', `${name}DeliveryPolicy`).logicalId;
      expect((stream as CfnResources[string] & { DependsOn?: string[] }).DependsOn).toContain(policyId);
    });
  });
});

describe('landing delivery buffering', () => {
  it('takes its buffering limits from the environment config', () => {
    const built = buildApp(['prod'], { medallion: { prod: { firehoseBufferingIntervalSeconds: 120, firehoseBufferingSizeMiB: 16 } } });
    Template.fromStack(stackOf(built, 'prod')).allResourcesProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: { BufferingHints: { IntervalInSeconds: 120, SizeInMBs: 16 } },
    });
  });
});
