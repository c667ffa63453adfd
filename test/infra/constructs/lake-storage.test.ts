import { describe, expect, it } from 'vitest';
import { ENV_DEFAULTS } from '../../../infra/index.ts';
import { ENVS, resourceByPrefix, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
const DATA_BUCKETS = ['LandingBronze', 'Silver', 'Gold', 'Quarantine', 'AthenaResults'] as const;
const LAKE_DATA = ['LandingBronze', 'Silver', 'Gold', 'Quarantine'] as const;

type Rule = Record<string, any>;
const rulesOf = (resource: CfnResources[string]): Rule[] => resource.Properties?.LifecycleConfiguration?.Rules ?? [];
const ruleById = (resource: CfnResources[string], id: string): Rule => {
  const rule = rulesOf(resource).find((candidate) => candidate.Id === id);
  if (!rule) throw new Error(`no lifecycle rule ${id}`);
  return rule;
};

describe.each(ENVS)('lake storage (%s)', (envName) => {
  const isProd = envName === 'prod';
  const bucket = (name: string) => resourceByPrefix(templates()[envName], 'AWS::S3::Bucket', `Lake${name}Bucket`);

  it('has the five lake buckets and the access-log bucket, and no auto-delete custom resource or Lambda', () => {
    const template = templates()[envName];
    template.resourceCountIs('AWS::S3::Bucket', 6);
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it.each(DATA_BUCKETS)('%s: KMS with bucket keys, private, versioned, owner-enforced, logging to the log bucket', (name) => {
    const key = resourceByPrefix(templates()[envName], 'AWS::KMS::Key', 'LakeKey');
    const logBucket = bucket('AccessLog');
    expect(key.resource.Properties).toMatchObject({ EnableKeyRotation: true });
    expect(bucket(name).resource.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
          },
        ],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: logBucket.logicalId } },
    });
  });

  it('access-log bucket: SSE-S3 (log delivery cannot use SSE-KMS), private, versioned, not logging into itself', () => {
    const properties = bucket('AccessLog').resource.Properties!;
    expect(properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(properties.LoggingConfiguration).toBeUndefined();
    expect(ruleById(bucket('AccessLog').resource, 'access-log-expiry')).toMatchObject({ ExpirationInDays: ENV_DEFAULTS[envName].accessLogExpirationDays });
  });

  it.each([...DATA_BUCKETS, 'AccessLog'])('%s: its bucket policy denies plain HTTP and TLS below 1.2', (name) => {
    const template = templates()[envName];
    const { logicalId } = bucket(name);
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy') as CfnResources).filter(
      (policy) => policy.Properties?.Bucket?.Ref === logicalId,
    );
    expect(policies).toHaveLength(1);
    const statements: Rule[] = policies[0]!.Properties!.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
    );
  });

  it.each([...DATA_BUCKETS, 'AccessLog'])('%s: aborts incomplete uploads, expires old versions, and removes the delete markers of expired objects', (name) => {
    const resource = bucket(name).resource;
    expect(ruleById(resource, 'abort-incomplete-multipart-uploads')).toMatchObject({ Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } });
    expect(ruleById(resource, 'expire-noncurrent-versions')).toMatchObject({
      Status: 'Enabled',
      ExpiredObjectDeleteMarker: true,
      NoncurrentVersionExpiration: { NoncurrentDays: ENV_DEFAULTS[envName].noncurrentVersionExpirationDays },
    });
  });

  it('tiers each layer by how it is read', () => {
    const landingBronze = bucket('LandingBronze').resource;
    expect(ruleById(landingBronze, 'landing-tiers')).toMatchObject({
      Prefix: 'landing/',
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
      ],
    });
    expect(ruleById(landingBronze, 'bronze-tiers')).toMatchObject({
      Prefix: 'bronze/',
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 90 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 365 },
      ],
    });
    for (const name of ['Silver', 'Gold']) {
      expect(ruleById(bucket(name).resource, `${name.toLowerCase()}-tiers`)).toMatchObject({
        Transitions: [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 30 }],
      });
    }
    // The quarantine bucket tiers quarantine/ only: quality/ (quality.results, read whole by every run) stays in Standard.
    expect(ruleById(bucket('Quarantine').resource, 'quarantine-tiers')).toMatchObject({ Prefix: 'quarantine/' });
    expect(ruleById(bucket('Quarantine').resource, 'quarantine-tiers').Transitions).toHaveLength(2);
    for (const rule of rulesOf(bucket('Quarantine').resource)) {
      if (rule.Transitions) expect(rule.Prefix, rule.Id).toBe('quarantine/');
    }
    expect(ruleById(bucket('AthenaResults').resource, 'athena-results-expiry')).toMatchObject({
      ExpirationInDays: ENV_DEFAULTS[envName].athenaResultsExpirationDays,
    });
  });

  it.each(LAKE_DATA)('%s: no lifecycle rule ever expires current lake data', (name) => {
    for (const rule of rulesOf(bucket(name).resource)) {
      expect(rule.ExpirationInDays, rule.Id).toBeUndefined();
      expect(rule.ExpirationDate, rule.Id).toBeUndefined();
    }
  });

  it(`${isProd ? 'retains' : 'removes'} every bucket and the lake key when the stack is deleted`, () => {
    const template = templates()[envName];
    for (const resource of Object.values(template.findResources('AWS::S3::Bucket'))) {
      expect(resource.DeletionPolicy).toBe(isProd ? 'Retain' : 'Delete');
      expect(resource.UpdateReplacePolicy).toBe(isProd ? 'Retain' : 'Delete');
    }
    expect(resourceByPrefix(template, 'AWS::KMS::Key', 'LakeKey').resource.DeletionPolicy).toBe(isProd ? 'Retain' : 'Delete');
  });
});
