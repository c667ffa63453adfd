import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ENVS, buildApp, stackOf, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();

/**
 * Every cdk-nag finding we acknowledge, by construct path (below the stack) and rule id. A new
 * acknowledgment must be added here, on purpose, with its reason in the code that makes it.
 */
const EXPECTED_ACKNOWLEDGMENTS: readonly (readonly [string, string])[] = [
  ['Sources/UsersChangeStream', 'AwsSolutions-KDS3'],
  ['Sources/TasksChangeStream', 'AwsSolutions-KDS3'],
  ['Lake/AccessLogBucket', 'AwsSolutions-S1'],
  ['UsersDelivery/DeliveryStream', 'AwsSolutions-KDF1'],
  ['TasksDelivery/DeliveryStream', 'AwsSolutions-KDF1'],
  ['UsersDelivery/Policy', 'AwsSolutions-IAM5[Resource::<LakeLandingBronzeBucket5A7D0508.Arn>/landing/users/*]'],
  ['UsersDelivery/Policy', 'AwsSolutions-IAM5[Resource::<LakeLandingBronzeBucket5A7D0508.Arn>/landing-errors/users/*]'],
  ['TasksDelivery/Policy', 'AwsSolutions-IAM5[Resource::<LakeLandingBronzeBucket5A7D0508.Arn>/landing/tasks/*]'],
  ['TasksDelivery/Policy', 'AwsSolutions-IAM5[Resource::<LakeLandingBronzeBucket5A7D0508.Arn>/landing-errors/tasks/*]'],
];

/**
 * The only Allow statements that may name `*` as an action or resource, and why. A KMS key policy
 * is attached to one key, so its `Resource: "*"` means "this key"; CDK's default key policy gives
 * the account (and so IAM) administration of the key, which is how every other grant is made.
 */
const WILDCARD_EXCEPTIONS: readonly { readonly type: string; readonly logicalIdPrefix: string; readonly reason: string }[] = [
  { type: 'AWS::KMS::Key', logicalIdPrefix: 'SourcesKey', reason: 'key policy: Resource "*" is this key; the account root administers it (kms:*)' },
  { type: 'AWS::KMS::Key', logicalIdPrefix: 'LakeKey', reason: 'key policy: Resource "*" is this key; the account root administers it (kms:*)' },
];

interface Statement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
}

/** Every policy statement in a template, with the resource that holds it. */
function statementsOf(resources: CfnResources): { type: string; logicalId: string; statement: Statement }[] {
  const found: { type: string; logicalId: string; statement: Statement }[] = [];
  const add = (type: string, logicalId: string, document: { Statement?: Statement[] } | undefined) => {
    for (const statement of document?.Statement ?? []) found.push({ type, logicalId, statement });
  };
  for (const [logicalId, resource] of Object.entries(resources)) {
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::S3::BucketPolicy':
        add(resource.Type, logicalId, properties.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        for (const inline of properties.Policies ?? []) add(resource.Type, logicalId, inline.PolicyDocument);
        break;
      case 'AWS::KMS::Key':
        add(resource.Type, logicalId, properties.KeyPolicy);
        break;
    }
  }
  return found;
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

describe.each(ENVS)('medallion stack (%s)', (envName) => {
  it('passes cdk-nag AwsSolutions with no unacknowledged error or warning', () => {
    const built = buildApp([envName]);
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    const findings = report.violations.map(
      (violation) => `${violation.severity} ${violation.ruleName} at ${violation.violatingResources.map((resource) => resource.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    // The same pack runs as a synthesis-time validation plugin: synth must succeed too.
    expect(() => built.app.synth()).not.toThrow();
  });

  it('has no CDK error or warning annotations', () => {
    const built = buildApp([envName]);
    const annotations = Annotations.fromStack(stackOf(built, envName));
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges exactly the expected findings, each with a specific reason', () => {
    const built = buildApp([envName]);
    const stackPath = stackOf(built, envName).node.path;
    const acknowledged: [string, string][] = [];
    for (const construct of built.app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [qualifiedId, reason] of Object.entries(entry.data as Record<string, string>)) {
          const ruleId = qualifiedId.replace(/^annotation::/i, '');
          expect(typeof reason === 'string' && reason.length >= 60, `reason for ${ruleId} at ${construct.node.path}: "${reason}"`).toBe(true);
          acknowledged.push([construct.node.path.slice(stackPath.length + 1), ruleId]);
        }
      }
    }
    expect(acknowledged.sort()).toEqual([...EXPECTED_ACKNOWLEDGMENTS].map(([path, id]) => [path, id]).sort());
  });

  it('grants no "*" action or resource in any Allow statement, beyond the documented exceptions', () => {
    const template = templates()[envName];
    const resources = template.toJSON().Resources as CfnResources;
    const offending: string[] = [];
    const excepted = new Set<string>();
    for (const { type, logicalId, statement } of statementsOf(resources)) {
      if (statement.Effect !== 'Allow') continue;
      const wildcardAction = asList(statement.Action).some((action) => action === '*');
      const serviceWildcard = asList(statement.Action).filter((action) => typeof action === 'string' && action.endsWith(':*'));
      const wildcardResource = asList(statement.Resource).some((resource) => resource === '*');
      if (!wildcardAction && !wildcardResource && serviceWildcard.length === 0) continue;
      const exception = WILDCARD_EXCEPTIONS.find((candidate) => candidate.type === type && logicalId.startsWith(candidate.logicalIdPrefix));
      if (exception) excepted.add(exception.logicalIdPrefix);
      else offending.push(`${type} ${logicalId}: ${JSON.stringify(statement)}`);
    }
    expect(offending).toEqual([]);
    // Each exception still describes something real; drop it when it no longer does.
    expect([...excepted].sort()).toEqual(WILDCARD_EXCEPTIONS.map((exception) => exception.logicalIdPrefix).sort());
  });

  it('denies, in every bucket policy, only with conditions (TLS), never allows anyone', () => {
    const template = templates()[envName];
    for (const policy of Object.values(template.findResources('AWS::S3::BucketPolicy') as CfnResources)) {
      for (const statement of policy.Properties!.PolicyDocument.Statement as Record<string, any>[]) {
        if (statement.Effect === 'Allow') {
          // The only Allow is S3 log delivery writing into the access-log bucket.
          expect(statement.Principal).toEqual({ Service: 'logging.s3.amazonaws.com' });
          expect(statement.Action).toBe('s3:PutObject');
        } else {
          expect(statement.Condition).toBeDefined();
        }
      }
    }
  });

  it('needs no Docker image and no file asset besides its own template', () => {
    const built = buildApp([envName]);
    const assembly = built.app.synth();
    const artifact = assembly.getStackByName(`medallion-${envName}`);
    expect(artifact.assets).toEqual([]);
  });
});
