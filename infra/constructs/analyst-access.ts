import { type CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import { AccountRootPrincipal, Policy, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { TableSpec } from '../../core/index.ts';
import type { InfraConfig } from '../config.ts';
import { locateLakePrefix } from '../lake-layout.ts';
import { ATHENA_RESULTS_PREFIX, type AnalystWorkgroup } from './analyst-workgroup.ts';
import { glueDatabaseName } from './lake-catalog.ts';
import type { LakeStorage } from './lake-storage.ts';

export interface AnalystAccessProps {
  readonly config: InfraConfig;
  readonly lake: LakeStorage;
  readonly workgroup: AnalystWorkgroup;
  /** Every table the lake holds: a granted layer's tables are checked for personal data. */
  readonly tables: readonly TableSpec[];
}

/**
 * The analysts' way in: a role (`medallion-<env>-analyst`, assumable by this account's identities that are allowed
 * to assume it) that queries through the analysts' Athena workgroup and reads exactly the layers `analystLayers`
 * names (gold by default): their Glue databases and tables, their objects and symlink manifests, decrypting through
 * S3 only, plus the workgroup's results prefix. Never bronze, the quarantine or quality.rejected_rows: those hold the
 * raw records. A layer with a column of direct personal data (silver.users' e-mail and name) is granted only when
 * `analystPersonalData` says so, and synthesis fails naming the columns otherwise.
 *
 * @example
 * new AnalystAccess(stack, 'AnalystAccess', { config, lake, workgroup: analysts, tables: PIPELINE_TABLES });
 */
export class AnalystAccess extends Construct {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: AnalystAccessProps) {
    super(scope, id);
    const { config, lake, workgroup, tables } = props;
    const stack = Stack.of(this);
    const layers = [...new Set(config.analystLayers)];
    const personal = tables
      .filter((table) => layers.includes(table.name.split('.')[0] as 'gold' | 'silver'))
      .flatMap((table) => table.columns.filter((column) => column.personalData === 'direct').map((column) => `${table.name}.${column.name}`));
    if (personal.length > 0 && !config.analystPersonalData) {
      throw new Error(
        `medallion ${config.envName}: analystLayers ${layers.join(', ')} hold direct personal data (${personal.join(', ')}); ` +
          'grant them only with analystPersonalData: true, a decision to record (docs/deploy.md, "Analysts")',
      );
    }

    this.role = new Role(this, 'Role', {
      roleName: `medallion-${config.envName}-analyst`,
      assumedBy: new AccountRootPrincipal(),
      maxSessionDuration: Duration.hours(4),
      description: `medallion ${config.envName} analysts: Athena queries over ${layers.join(' and ')}`,
    });
    const policy = new Policy(this, 'Policy', { roles: [this.role] });
    const workGroupArn = stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: workgroup.workGroup.ref });
    const databases = layers.map((layer) => glueDatabaseName(config, layer));
    const locations = layers.map((layer) => locateLakePrefix(lake.layout, `${layer}/`));
    const results: IBucket = lake.buckets.athenaResults;
    const bucketArns = [...new Set([...locations.map((location) => location.bucket), results])].map((bucket) => bucket.bucketArn);
    policy.addStatements(
      new PolicyStatement({
        sid: 'QueryThroughWorkgroup',
        actions: [
          'athena:StartQueryExecution', 'athena:StopQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:GetQueryResultsStream',
          'athena:ListQueryExecutions', 'athena:BatchGetQueryExecution', 'athena:GetWorkGroup', 'athena:ListNamedQueries', 'athena:GetNamedQuery', 'athena:BatchGetNamedQuery',
        ],
        resources: [workGroupArn],
      }),
      new PolicyStatement({
        sid: 'ReadLayerCatalog',
        actions: ['glue:GetDatabase', 'glue:GetDatabases', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          ...databases.map((database) => stack.formatArn({ service: 'glue', resource: 'database', resourceName: database })),
          ...databases.map((database) => stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/*` })),
        ],
      }),
      ...locations.map((location, index) => new PolicyStatement({
        sid: `ListLayer${index}`,
        actions: ['s3:ListBucket'],
        resources: [location.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${location.prefix}*`] } },
      })),
      // A layer's tables and their symlink manifests (`<layer>/_symlink/...`), which Athena reads for the analyst.
      new PolicyStatement({ sid: 'ReadLayers', actions: ['s3:GetObject'], resources: locations.map((location) => location.bucket.arnForObjects(`${location.prefix}*`)) }),
      // GetBucketLocation names no prefix: on the buckets themselves, unconditioned (Athena checks the results bucket).
      new PolicyStatement({ sid: 'LocateBuckets', actions: ['s3:GetBucketLocation'], resources: [...new Set([...locations.map((location) => location.bucket), results])].map((bucket) => bucket.bucketArn) }),
      new PolicyStatement({ sid: 'ListResults', actions: ['s3:ListBucket'], resources: [results.bucketArn], conditions: { StringLike: { 's3:prefix': [`${ATHENA_RESULTS_PREFIX}*`] } } }),
      new PolicyStatement({
        sid: 'WriteResults',
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [results.arnForObjects(`${ATHENA_RESULTS_PREFIX}*`)],
      }),
      new PolicyStatement({
        sid: 'DecryptThroughS3',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [lake.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucketArns.flatMap((arn) => [arn, `${arn}/*`]) },
        },
      }),
    );
    const reasons: Record<string, string> = {};
    for (const location of locations) reasons[`<${String(stack.resolve((location.bucket.node.defaultChild as CfnResource).logicalId))}.Arn>/${location.prefix}*`] = `the analysts read every table of ${location.prefix} and its symlink manifests, and no other prefix of the bucket`;
    reasons[`<${String(stack.resolve((results.node.defaultChild as CfnResource).logicalId))}.Arn>/${ATHENA_RESULTS_PREFIX}*`] = 'Athena names each query\'s result objects itself, under the workgroup\'s results prefix';
    for (const database of databases) reasons[`arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*`] = `every table of ${database}, whose tables the analysts query, and no other database`;
    for (const [resource, reason] of Object.entries(reasons)) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason: `${reason}.` });
  }
}
