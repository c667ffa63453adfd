import { describe, expect, it } from 'vitest';
import { ENV_DEFAULTS } from '../../../infra/index.ts';
import { ENVS, resourceByPrefix, useTemplates } from '../infra-fixtures.ts';

const templates = useTemplates();

describe.each(ENVS)('analyst workgroup (%s)', (envName) => {
  it('enforces engine v3, KMS-encrypted results in the results bucket, a scan cutoff and CloudWatch metrics', () => {
    const template = templates()[envName];
    const bucket = resourceByPrefix(template, 'AWS::S3::Bucket', 'LakeAthenaResultsBucket');
    const key = resourceByPrefix(template, 'AWS::KMS::Key', 'LakeKey');
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    const workGroup = resourceByPrefix(template, 'AWS::Athena::WorkGroup', 'AnalystsWorkGroup').resource;
    expect(workGroup.Properties).toMatchObject({
      Name: `medallion-${envName}`,
      State: 'ENABLED',
      RecursiveDeleteOption: envName !== 'prod',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: ENV_DEFAULTS[envName].athenaBytesScannedCutoffPerQuery,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: bucket.logicalId }, '/results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      },
    });
  });

});
