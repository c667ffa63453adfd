import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV_DEFAULTS } from '../../../infra/index.ts';
import { ENVS, buildApp, flatten, resourceByPrefix, stackOf, useTemplates } from '../infra-fixtures.ts';

/**
 * The analysts' role reads gold (by default) through the Athena workgroup and nothing raw; a layer with direct
 * personal data is granted only when the deployment says so.
 */

const templates = useTemplates();
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
const asList = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);

function analystStatements(template: Template): Statement[] {
  return resourceByPrefix(template, 'AWS::IAM::Policy', 'AnalystAccessPolicy').resource.Properties!.PolicyDocument.Statement as Statement[];
}

describe.each(ENVS)('analyst access (%s)', (envName) => {
  const template = () => templates()[envName];

  it('is a role of this account that queries through the analysts\' workgroup only', () => {
    const role = resourceByPrefix(template(), 'AWS::IAM::Role', 'AnalystAccessRole').resource.Properties!;
    expect(role.RoleName).toBe(`medallion-${envName}-analyst`);
    expect(flatten(role.AssumeRolePolicyDocument.Statement[0].Principal.AWS)).toMatch(/^arn:<AWS::Partition>:iam::<AWS::AccountId>:root$/);
    const athena = analystStatements(template()).find((statement) => statement.Sid === 'QueryThroughWorkgroup')!;
    const workgroup = resourceByPrefix(template(), 'AWS::Athena::WorkGroup', 'Analysts').logicalId;
    expect(flatten(athena.Resource)).toBe(`arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/<${workgroup}>`);
    expect(asList(athena.Action).every((action) => action.startsWith('athena:'))).toBe(true);
  });

  it('reads the gold layer\'s objects, tables and manifests, writes only Athena\'s results, decrypts through S3; never bronze, silver, the quarantine or quality', () => {
    const statements = analystStatements(template());
    const resources = statements.flatMap((statement) => asList(statement.Resource).map(flatten));
    const gold = resourceByPrefix(template(), 'AWS::S3::Bucket', 'LakeGoldBucket').logicalId;
    const results = resourceByPrefix(template(), 'AWS::S3::Bucket', 'LakeAthenaResultsBucket').logicalId;
    expect(asList(statements.find((statement) => statement.Sid === 'ReadLayers')!.Resource).map(flatten)).toEqual([`<${gold}.Arn>/gold/*`]);
    expect(asList(statements.find((statement) => statement.Sid === 'WriteResults')!.Resource).map(flatten)).toEqual([`<${results}.Arn>/results/*`]);
    const database = `${ENV_DEFAULTS[envName].glueDatabasePrefix}_gold`;
    expect(asList(statements.find((statement) => statement.Sid === 'ReadLayerCatalog')!.Resource).map(flatten).filter((arn) => arn.includes(':table/'))).toEqual([`arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*`]);
    for (const other of ['LakeLandingBronzeBucket', 'LakeSilverBucket', 'LakeQuarantineBucket']) {
      const logicalId = resourceByPrefix(template(), 'AWS::S3::Bucket', other).logicalId;
      expect(resources.filter((resource) => resource.includes(logicalId)), other).toEqual([]);
    }
    expect(resources.filter((resource) => /_(bronze|silver|quarantine|quality)\b/.test(resource))).toEqual([]);
    // Athena locates the buckets with a call that names no prefix: unconditioned, on the buckets only.
    const locate = statements.find((statement) => statement.Sid === 'LocateBuckets')!;
    expect(locate).toMatchObject({ Action: 's3:GetBucketLocation' });
    expect(locate.Condition).toBeUndefined();
    expect(asList(locate.Resource).map(flatten).sort()).toEqual([`<${gold}.Arn>`, `<${results}.Arn>`].sort());
    const kms = statements.find((statement) => statement.Sid === 'DecryptThroughS3')!;
    expect(flatten(kms.Condition!.StringEquals!['kms:ViaService'])).toBe('s3.<AWS::Region>.amazonaws.com');
    expect(resources).not.toContain('*');
  });
});

describe('analyst access configuration', () => {
  it('refuses to grant a layer with direct personal data unless the deployment says so, naming the columns', () => {
    expect(() => buildApp(['dev'], { medallion: { dev: { analystLayers: ['gold', 'silver'] } } })).toThrow(
      /analystLayers gold, silver hold direct personal data \(silver\.user_events\.email, silver\.user_events\.name, silver\.users\.email, silver\.users\.name, silver\.users_history\.email, silver\.users_history\.name\); grant them only with analystPersonalData: true/,
    );
    const granted = Template.fromStack(stackOf(buildApp(['dev'], { medallion: { dev: { analystLayers: ['gold', 'silver'], analystPersonalData: true } } }), 'dev'));
    const silver = resourceByPrefix(granted, 'AWS::S3::Bucket', 'LakeSilverBucket').logicalId;
    const reads = analystStatements(granted).find((statement) => statement.Sid === 'ReadLayers')!;
    expect(asList(reads.Resource).map(flatten)).toContain(`<${silver}.Arn>/silver/*`);
  });
});
