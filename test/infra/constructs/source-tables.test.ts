import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV_DEFAULTS } from '../../../infra/index.ts';
import { ENVS, resourceByPrefix, useTemplates } from '../infra-fixtures.ts';

const templates = useTemplates();

describe.each(ENVS)('source tables (%s)', (envName) => {
  const isProd = envName === 'prod';

  it.each([
    ['Users', [{ AttributeName: 'userId', KeyType: 'HASH' }]],
    ['Tasks', [{ AttributeName: 'userId', KeyType: 'HASH' }, { AttributeName: 'taskId', KeyType: 'RANGE' }]],
  ])('%s is on-demand, recoverable, encrypted with the source key and streams microsecond changes to its own stream', (name, keySchema) => {
    const template = templates()[envName];
    const key = resourceByPrefix(template, 'AWS::KMS::Key', 'SourcesKey');
    const stream = resourceByPrefix(template, 'AWS::Kinesis::Stream', `Sources${name}ChangeStream`);
    const table = resourceByPrefix(template, 'AWS::DynamoDB::Table', `Sources${name}Table`).resource;
    expect(table.Properties).toMatchObject({
      TableName: `medallion-${envName}-${name}`,
      KeySchema: keySchema,
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
      KinesisStreamSpecification: {
        StreamArn: { 'Fn::GetAtt': [stream.logicalId, 'Arn'] },
        ApproximateCreationDateTimePrecision: 'MICROSECOND',
      },
      DeletionProtectionEnabled: isProd,
    });
    expect(table.DeletionPolicy).toBe(isProd ? 'Retain' : 'Delete');
    expect(table.UpdateReplacePolicy).toBe(isProd ? 'Retain' : 'Delete');
  });

  it('encrypts both change streams with the rotating customer key', () => {
    const template = templates()[envName];
    const key = resourceByPrefix(template, 'AWS::KMS::Key', 'SourcesKey');
    expect(key.resource.Properties).toMatchObject({ EnableKeyRotation: true });
    template.resourceCountIs('AWS::Kinesis::Stream', 2);
    template.allResourcesProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: ENV_DEFAULTS[envName].kinesisRetentionHours,
    });
  });

  it('keeps its keys, streams and tables when the prod stack is deleted', () => {
    const template = templates()[envName];
    for (const type of ['AWS::KMS::Key', 'AWS::Kinesis::Stream', 'AWS::DynamoDB::Table']) {
      const own = Object.entries(template.findResources(type)).filter(([logicalId]) => logicalId.startsWith('Sources'));
      expect(own.length, type).toBeGreaterThan(0);
      for (const [, resource] of own) {
        expect(resource.DeletionPolicy, type).toBe(isProd ? 'Retain' : 'Delete');
      }
    }
  });

  it('rotates every KMS key in the stack', () => {
    templates()[envName].allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    expect(Object.keys(templates()[envName].findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: Match.absent() } }))).toEqual([]);
  });
});
