import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../core/index.ts';
import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, shortNameOf } from '../../../core/table/index.ts';
import { jobLakeAccess, qualityStepLakeAccess } from '../../../core/layout/index.ts';
import { ENV_DEFAULTS, IMAGE_CONTEXT_EXCLUDES, jobConstructId, jobRunCommand, jobTaskFamily, loadInfraConfig } from '../../../infra/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../../jobs/quality.ts';
import { ENVS, flatten, resourceByPrefix, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const S3_WRITE_ACTIONS = new Set(['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:*', '*']);

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
const asList = <T,>(value: T | T[] | undefined): T[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** The lake bucket each key's first folder lives in (a key keeps its whole name there, as S3Storage stores it). */
function bucketIds(template: Template): Record<string, { readonly id: string }> {
  const id = (name: string) => resourceByPrefix(template, 'AWS::S3::Bucket', `Lake${name}Bucket`).logicalId;
  return {
    landing: { id: id('LandingBronze') },
    bronze: { id: id('LandingBronze') },
    silver: { id: id('Silver') },
    gold: { id: id('Gold') },
    quarantine: { id: id('Quarantine') },
    // quality.results lives in the quarantine (operations) bucket.
    quality: { id: id('Quarantine') },
    // So do the operations reports.
    reports: { id: id('Quarantine') },
  };
}

/** (`silver`, `tasks/`) -> `<LakeSilverBucket….Arn>/silver/tasks/*`, written out without the construct's helpers. */
function objectPattern(template: Template, root: string, rest: string): string {
  return `<${bucketIds(template)[root]!.id}.Arn>/${root}/${rest}*`;
}

function jobPolicy(template: Template, job: Job): Statement[] {
  return resourceByPrefix(template, 'AWS::IAM::Policy', `Jobs${jobConstructId(job)}TaskPolicy`).resource.Properties!.PolicyDocument.Statement;
}

const qualityPolicy = (template: Template): Statement[] =>
  resourceByPrefix(template, 'AWS::IAM::Policy', 'JobsQualityTaskPolicy').resource.Properties!.PolicyDocument.Statement;
const stepPolicy = (template: Template, step: 'Vacuum' | 'Reconcile' | 'Report'): Statement[] =>
  resourceByPrefix(template, 'AWS::IAM::Policy', `Jobs${step}TaskPolicy`).resource.Properties!.PolicyDocument.Statement;

// The rule sets as the CLI loads them at run time (not as the infra reads them): what each role must be granted.
const ruleSets = [...(await loadPipelineRuleSets()).values()];
/** The rule sets a job's quality gate applies (its outputs'), and the tables they reference. */
const gateOf = (job: Job) => ruleSets.filter((set) => job.outputs.some((output) => output.name === set.table));
const referencesOf = (sets: typeof ruleSets) => [...new Set(sets.flatMap((set) => Object.values(set.references)))];

const writtenResources = (statements: Statement[]) =>
  statements.filter((statement) => asList(statement.Action).some((action) => S3_WRITE_ACTIONS.has(action))).flatMap((statement) => asList(statement.Resource).map(flatten));

describe.each(ENVS)('job compute (%s)', (envName) => {
  const config = loadInfraConfig(envName);
  const isProd = envName === 'prod';
  const template = () => templates()[envName];

  it('runs in a VPC with isolated subnets only: no NAT, no internet gateway, flow logs on', () => {
    template().resourceCountIs('AWS::EC2::NatGateway', 0);
    template().resourceCountIs('AWS::EC2::InternetGateway', 0);
    template().resourceCountIs('AWS::EC2::Subnet', ENV_DEFAULTS[envName].vpcMaxAzs);
    template().allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    const vpc = resourceByPrefix(template(), 'AWS::EC2::VPC', 'JobsVpc');
    expect(vpc.resource.Properties).toMatchObject({ CidrBlock: ENV_DEFAULTS[envName].vpcCidr });
    const flowLogGroup = resourceByPrefix(template(), 'AWS::Logs::LogGroup', 'JobsFlowLogs');
    expect(resourceByPrefix(template(), 'AWS::EC2::FlowLog', 'JobsVpcFlowLog').resource.Properties).toMatchObject({
      ResourceId: { Ref: vpc.logicalId },
      TrafficType: 'ALL',
      LogGroupName: { Ref: flowLogGroup.logicalId },
    });
  });

  it('reaches AWS through endpoints: gateway for S3 and DynamoDB, private-DNS interface endpoints open to the job tasks only', () => {
    const endpoints = Object.values(template().findResources('AWS::EC2::VPCEndpoint') as CfnResources).map((endpoint) => endpoint.Properties!);
    const service = (properties: Record<string, any>) => flatten(properties.ServiceName).replace(/^com\.amazonaws\.<AWS::Region>\./, '');
    expect(endpoints.filter((properties) => properties.VpcEndpointType === 'Gateway').map(service).sort()).toEqual(['dynamodb', 's3']);
    const interfaces = endpoints.filter((properties) => properties.VpcEndpointType === 'Interface');
    expect(interfaces.map(service).sort()).toEqual(['ecr.api', 'ecr.dkr', 'glue', 'logs']);
    const taskGroup = resourceByPrefix(template(), 'AWS::EC2::SecurityGroup', 'JobsTaskSecurityGroup');
    const endpointGroup = resourceByPrefix(template(), 'AWS::EC2::SecurityGroup', 'JobsEndpointSecurityGroup');
    for (const properties of interfaces) {
      expect(properties.PrivateDnsEnabled).toBe(true);
      expect(properties.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [endpointGroup.logicalId, 'GroupId'] }]);
    }
    // Only the tasks may reach the endpoints, and only on 443; the tasks accept nothing and send only HTTPS.
    const ingress = Object.values(template().findResources('AWS::EC2::SecurityGroupIngress') as CfnResources).map((rule) => rule.Properties!);
    expect(ingress).toEqual([
      expect.objectContaining({
        GroupId: { 'Fn::GetAtt': [endpointGroup.logicalId, 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [taskGroup.logicalId, 'GroupId'] },
        FromPort: 443,
        ToPort: 443,
      }),
    ]);
    expect(endpointGroup.resource.Properties!.SecurityGroupIngress).toBeUndefined();
    expect(taskGroup.resource.Properties!.SecurityGroupIngress).toBeUndefined();
    expect(taskGroup.resource.Properties!.SecurityGroupEgress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
  });

  it('keeps the gateway endpoints\' traffic to this account\'s buckets and tables, and ECR\'s layer bucket (negative controls: another account\'s)', () => {
    const endpoints = Object.values(template().findResources('AWS::EC2::VPCEndpoint') as CfnResources).map((endpoint) => endpoint.Properties!).filter((properties) => properties.VpcEndpointType === 'Gateway');
    const policyOf = (service: string) => endpoints.find((properties) => flatten(properties.ServiceName).endsWith(`.${service}`))!.PolicyDocument.Statement as Statement[];
    // The endpoint policy as S3 and DynamoDB evaluate it, for a request to `resource` owned by `owner`.
    const allows = (statements: Statement[], action: string, resource: string, owner: string) =>
      statements.some((statement) => {
        const actions = asList(statement.Action);
        const matches = (pattern: string, value: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);
        if (statement.Effect !== 'Allow' || !actions.some((candidate) => matches(candidate, action))) return false;
        if (!asList(statement.Resource).map(flatten).some((pattern) => matches(pattern, resource))) return false;
        const account = statement.Condition?.StringEquals?.['aws:ResourceAccount'];
        return account === undefined || flatten(account) === owner;
      });
    const s3 = policyOf('s3');
    expect(allows(s3, 's3:PutObject', 'arn:aws:s3:::lake-bucket/silver/tasks/x.parquet', '<AWS::AccountId>')).toBe(true);
    expect(allows(s3, 's3:PutObject', 'arn:aws:s3:::someone-elses-bucket/x', '111122223333')).toBe(false);
    expect(allows(s3, 's3:GetObject', 'arn:<AWS::Partition>:s3:::prod-<AWS::Region>-starport-layer-bucket/sha256/layer', 'aws-ecr')).toBe(true);
    expect(allows(s3, 's3:PutObject', 'arn:<AWS::Partition>:s3:::prod-<AWS::Region>-starport-layer-bucket/sha256/layer', 'aws-ecr')).toBe(false);
    const dynamodb = policyOf('dynamodb');
    expect(allows(dynamodb, 'dynamodb:PutItem', 'arn:aws:dynamodb:eu-west-1:x:table/medallion-dev-state', '<AWS::AccountId>')).toBe(true);
    expect(allows(dynamodb, 'dynamodb:PutItem', 'arn:aws:dynamodb:eu-west-1:111122223333:table/exfiltrate', '111122223333')).toBe(false);
  });

  it('has an ECS cluster with Container Insights', () => {
    expect(resourceByPrefix(template(), 'AWS::ECS::Cluster', 'JobsCluster').resource.Properties).toMatchObject({
      ClusterName: `medallion-${envName}`,
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('keeps lake state in an on-demand, recoverable DynamoDB table encrypted with its own key', () => {
    const key = resourceByPrefix(template(), 'AWS::KMS::Key', 'JobsKey');
    const table = resourceByPrefix(template(), 'AWS::DynamoDB::Table', 'JobsStateTable').resource;
    expect(table.Properties).toMatchObject({
      TableName: `medallion-${envName}-state`,
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
      DeletionProtectionEnabled: isProd,
    });
    expect(table.DeletionPolicy).toBe(isProd ? 'Retain' : 'Delete');
    expect(key.resource.Properties).toMatchObject({ EnableKeyRotation: true });
  });

  it('logs to encrypted log groups with retention, whose key CloudWatch Logs may use for those groups only', () => {
    const key = resourceByPrefix(template(), 'AWS::KMS::Key', 'JobsKey');
    const groups = ['JobsJobLogs', 'JobsFlowLogs', 'PipelineLogs'].map((prefix) => resourceByPrefix(template(), 'AWS::Logs::LogGroup', prefix).resource.Properties!);
    for (const group of groups) {
      expect(group).toMatchObject({ KmsKeyId: { 'Fn::GetAtt': [key.logicalId, 'Arn'] }, RetentionInDays: ENV_DEFAULTS[envName].logRetentionDays });
    }
    expect(groups.map((group) => group.LogGroupName)).toEqual([
      `/medallion/${envName}/jobs`,
      `/medallion/${envName}/vpc-flow-logs`,
      `/aws/vendedlogs/states/medallion-${envName}-pipeline`,
    ]);
    const logsStatement = (key.resource.Properties!.KeyPolicy.Statement as Statement[]).find((statement) => statement.Sid === 'EncryptPipelineLogGroups')!;
    expect(asList(logsStatement.Condition!.ArnEquals!['kms:EncryptionContext:aws:logs:arn']).map(flatten)).toEqual(
      groups.map((group) => `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${group.LogGroupName}`),
    );
  });

  it('has one Fargate task definition per pipeline job and one for each of the quality, reconcile, vacuum and report steps, and no other', () => {
    const families = Object.values(template().findResources('AWS::ECS::TaskDefinition') as CfnResources).map((definition) => definition.Properties!.Family);
    const steps = ['quality', 'reconcile', 'vacuum', 'report'].map((step) => `medallion-${envName}-${step}`);
    expect(families.sort()).toEqual([...PIPELINE_JOBS.map((job) => jobTaskFamily(config, job)), ...steps].sort());
  });

  const taskCases = [
    ...PIPELINE_JOBS.map((job) => [job.name, jobConstructId(job), jobRunCommand(job, ENV_DEFAULTS[envName].jobTimeoutMinutes, ENV_DEFAULTS[envName].jobBaselineMinutes[job.name] ?? ENV_DEFAULTS[envName].defaultJobBaselineMinutes, ENV_DEFAULTS[envName].jobRetryAttempts)] as const),
    ['the quality step', 'Quality', ['quality']] as const,
    ['the reconcile step', 'Reconcile', ['reconcile']] as const,
    ['the vacuum step', 'Vacuum', ['vacuum', '--retain', `${ENV_DEFAULTS[envName].vacuumRetainDays}d`]] as const,
    ['the report step', 'Report', ['report', '--runbook-base-url', config.runbookBaseUrl]] as const,
  ];
  it.each(taskCases)('%s: runs the CLI on a read-only root with its command, state and lake names, and encrypted logs', (_name, constructId, command) => {
    const definition = resourceByPrefix(template(), 'AWS::ECS::TaskDefinition', `Jobs${constructId}TaskDefinition`).resource.Properties!;
    const role = resourceByPrefix(template(), 'AWS::IAM::Role', `Jobs${constructId}TaskRole`);
    const executionRole = resourceByPrefix(template(), 'AWS::IAM::Role', 'JobsExecutionRole');
    expect(definition).toMatchObject({
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: String(ENV_DEFAULTS[envName].jobCpu),
      Memory: String(ENV_DEFAULTS[envName].jobMemoryMiB),
      EphemeralStorage: { SizeInGiB: ENV_DEFAULTS[envName].jobEphemeralStorageGiB },
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      TaskRoleArn: { 'Fn::GetAtt': [role.logicalId, 'Arn'] },
      ExecutionRoleArn: { 'Fn::GetAtt': [executionRole.logicalId, 'Arn'] },
      Volumes: [{ Name: 'tmp' }],
    });
    const [container, ...others] = definition.ContainerDefinitions as Record<string, any>[];
    expect(others).toEqual([]);
    expect(container).toMatchObject({
      Name: 'job',
      Essential: true,
      ReadonlyRootFilesystem: true,
      MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
      Command: command,
      LogConfiguration: {
        LogDriver: 'awslogs',
        Options: { 'awslogs-group': { Ref: resourceByPrefix(template(), 'AWS::Logs::LogGroup', 'JobsJobLogs').logicalId } },
      },
    });
    const environment = Object.fromEntries((container!.Environment as { Name: string; Value: unknown }[]).map((entry) => [entry.Name, flatten(entry.Value)]));
    const buckets = bucketIds(template());
    expect(environment).toEqual({
      MEDALLION_LAKE: `s3://<${buckets.landing!.id}>/`,
      MEDALLION_LAKE_SILVER: `s3://<${buckets.silver!.id}>/`,
      MEDALLION_LAKE_GOLD: `s3://<${buckets.gold!.id}>/`,
      MEDALLION_LAKE_QUARANTINE: `s3://<${buckets.quarantine!.id}>/`,
      MEDALLION_LAKE_QUALITY: `s3://<${buckets.quality!.id}>/`,
      MEDALLION_LAKE_REPORTS: `s3://<${buckets.reports!.id}>/`,
      MEDALLION_STATE_TABLE: `<${resourceByPrefix(template(), 'AWS::DynamoDB::Table', 'JobsStateTable').logicalId}>`,
      MEDALLION_GLUE_DATABASE_PREFIX: ENV_DEFAULTS[envName].glueDatabasePrefix,
      MEDALLION_METRICS_NAMESPACE: 'Medallion',
      // Half the task's memory for the one job's DuckDB (8 GiB in prod: 4096MiB).
      MEDALLION_MEMORY_LIMIT: `${ENV_DEFAULTS[envName].jobMemoryMiB / 2}MiB`,
    });
    // Every job runs the same image: the one asset built from the repository's Dockerfile.
    expect(flatten(container!.Image)).toMatch(/container-assets-.*:[0-9a-f]{64}$/);
  });

  it.each(PIPELINE_JOBS.map((job) => [job.name, job] as const))(
    '%s: reads only its sources, quality history and its rule sets\' references; writes only its own tables, quarantine and quality results folders',
    (_name, job) => {
      const statements = jobPolicy(template(), job);
      const reads = statements.find((statement) => statement.Sid === 'ReadSources')!;
      const gated = gateOf(job).length > 0;
      const expectedReads = [
        ...Object.values(job.sources).map((source) =>
          source.kind === 'landing'
            ? objectPattern(template(), 'landing', source.prefix.slice('landing/'.length))
            : objectPattern(template(), source.table.split('.')[0]!, `${shortNameOf(source.table)}/`),
        ),
        // The gate's history (every job's and the quality step's results) and the tables its rules compare against.
        ...(gated ? [objectPattern(template(), 'quality', 'results/')] : []),
        ...referencesOf(gateOf(job)).map((table) => objectPattern(template(), table.split('.')[0]!, `${table.split('.')[1]!}/`)),
      ];
      expect(asList(reads.Resource).map(flatten).sort()).toEqual([...new Set(expectedReads)].sort());
      expect(reads.Action).toBe('s3:GetObject');

      const expectedWrites = [
        ...job.outputs.map((output) => objectPattern(template(), output.name.split('.')[0]!, `${shortNameOf(output.name)}/`)),
        objectPattern(template(), 'quarantine', `${shortNameOf(QUARANTINE_TABLE.name)}/${job.name}/`),
        ...(gated ? [objectPattern(template(), 'quality', `results/${job.name}/`), objectPattern(template(), 'quality', `rejected_rows/${job.name}/`)] : []),
        // Symlink manifests the Glue catalog publishes the job's tables through, and of the quarantine and quality
        // tables, which every job appends to, only its own partition's.
        ...job.outputs.map((output) => objectPattern(template(), output.name.split('.')[0]!, `_symlink/${shortNameOf(output.name)}/`)),
        ...[QUARANTINE_TABLE, ...(gated ? [QUALITY_RESULTS_TABLE, QUALITY_REJECTED_TABLE] : [])].map((table) =>
          objectPattern(template(), table.name.split('.')[0]!, `_symlink/${shortNameOf(table.name)}/job=${job.name}/`),
        ),
      ];
      expect([...new Set(writtenResources(statements))].sort()).toEqual(expectedWrites.sort());
      // Listing is limited to the same prefixes; no statement grants a whole bucket's objects or s3:*.
      for (const statement of statements) {
        expect(asList(statement.Action)).not.toContain('s3:*');
        for (const resource of asList(statement.Resource).map(flatten)) expect(resource).not.toMatch(/\.Arn>\/\*$/);
        if (asList(statement.Action).includes('s3:ListBucket')) expect(statement.Condition?.StringLike?.['s3:prefix']).toBeDefined();
      }
    },
  );

  it('lets the report step read the tables and write only reports/, in the operations bucket', () => {
    const statements = resourceByPrefix(template(), 'AWS::IAM::Policy', 'JobsReportTaskPolicy').resource.Properties!.PolicyDocument.Statement as Statement[];
    expect([...new Set(writtenResources(statements))]).toEqual([objectPattern(template(), 'reports', '')]);
    const reads = asList(statements.find((statement) => statement.Sid === 'ReadSources')!.Resource).map(flatten);
    expect(reads).toContain(objectPattern(template(), 'gold', 'daily_task_kpis/'));
    expect(reads).toContain(objectPattern(template(), 'quarantine', 'records/'));
    expect(reads.filter((resource) => resource.includes('/landing/'))).toEqual([]);
  });

  it('gives silver.tasks, whose rule set references silver.users, read access to silver.users (and nothing more of silver.users)', () => {
    const job = PIPELINE_JOBS.find((candidate) => candidate.name === 'silver.tasks')!;
    expect(referencesOf(gateOf(job))).toContain('silver.users');
    const statements = jobPolicy(template(), job);
    const usersObjects = objectPattern(template(), 'silver', 'users/');
    expect(asList(statements.find((statement) => statement.Sid === 'ReadSources')!.Resource).map(flatten)).toContain(usersObjects);
    expect(writtenResources(statements)).not.toContain(usersObjects);
    // Another job's quality results folder is not its own.
    const written = writtenResources(statements);
    expect(written).toContain(objectPattern(template(), 'quality', 'results/silver.tasks/'));
    expect(written.filter((resource) => resource.includes('/quality/results/'))).toEqual([objectPattern(template(), 'quality', 'results/silver.tasks/')]);
  });

  it.each(PIPELINE_JOBS.filter((job) => job.layer === 'gold').map((job) => [job.name, job] as const))(
    '%s (gold): cannot write, or encrypt for, the landing+bronze bucket or the silver bucket, with its quality results or otherwise',
    (_name, job) => {
      const statements = jobPolicy(template(), job);
      const buckets = bucketIds(template());
      const written = writtenResources(statements);
      expect(written.length).toBeGreaterThan(0);
      for (const resource of written) {
        expect(resource).not.toContain(buckets.bronze!.id);
        expect(resource).not.toContain(buckets.silver!.id);
        expect(resource).not.toMatch(/\/(bronze|silver|landing)\//);
        // quality.results: only its own folder and the table's manifests; never the quality step's or another job's.
        if (resource.includes('/quality/results/')) expect(resource).toBe(objectPattern(template(), 'quality', `results/${job.name}/`));
      }
      const encrypt = statements.find((statement) => asList(statement.Action).includes('kms:GenerateDataKey') && flatten(statement.Condition?.StringEquals?.['kms:ViaService']).startsWith('s3.'))!;
      const contexts = asList(encrypt.Condition!.StringLike!['kms:EncryptionContext:aws:s3:arn']).map(flatten).join(' ');
      expect(contexts).not.toContain(buckets.bronze!.id);
      expect(contexts).toContain(buckets.gold!.id);
    },
  );

  it.each(PIPELINE_JOBS.map((job) => [job.name, job] as const))('%s: uses the lake key and the state key only through S3 and DynamoDB, and only its own Glue tables', (_name, job) => {
    const statements = jobPolicy(template(), job);
    const lakeKey = resourceByPrefix(template(), 'AWS::KMS::Key', 'LakeKey').logicalId;
    const stateKey = resourceByPrefix(template(), 'AWS::KMS::Key', 'JobsKey').logicalId;
    for (const statement of statements.filter((candidate) => asList(candidate.Action).some((action) => action.startsWith('kms:')))) {
      const key = flatten(statement.Resource);
      expect([`<${lakeKey}.Arn>`, `<${stateKey}.Arn>`]).toContain(key);
      expect(flatten(statement.Condition?.StringEquals?.['kms:ViaService'])).toBe(key.includes(lakeKey) ? 's3.<AWS::Region>.amazonaws.com' : 'dynamodb.<AWS::Region>.amazonaws.com');
    }
    expectStateGrant(statements, jobLakeAccess(job, ruleSets).stateWrites);

    const publish = statements.find((statement) => statement.Sid === 'PublishOwnPartitions')!;
    const tables = asList(publish.Resource).map(flatten).filter((arn) => arn.includes(':table/'));
    const prefix = ENV_DEFAULTS[envName].glueDatabasePrefix;
    const gated = gateOf(job).length > 0;
    expect(tables.map((arn) => arn.slice(arn.indexOf(':table/') + ':table/'.length)).sort()).toEqual(
      [...job.outputs.map((output) => output.name), QUARANTINE_TABLE.name, ...(gated ? [QUALITY_RESULTS_TABLE.name, QUALITY_REJECTED_TABLE.name] : [])]
        .map((name) => `${prefix}_${name.replace('.', '/')}`)
        .sort(),
    );
  });

  it('the quality step reads every checked table, their references and quality history; lists landing without reading it', () => {
    const statements = qualityPolicy(template());
    const checked = ruleSets.filter((set) => !set.table.startsWith('landing.')).map((set) => set.table);
    const expectedReads = [...new Set([...checked, ...referencesOf(ruleSets), 'quality.results'])].map((table) =>
      objectPattern(template(), table.split('.')[0]!, `${table.split('.')[1]!}/`),
    );
    const reads = statements.find((statement) => statement.Sid === 'ReadSources')!;
    expect(reads.Action).toBe('s3:GetObject');
    expect(asList(reads.Resource).map(flatten).sort()).toEqual(expectedReads.sort());
    // Freshness is a listing of landing/<source>/: listed, never read.
    const landingSources = ruleSets.filter((set) => set.table.startsWith('landing.')).map((set) => set.table.slice('landing.'.length));
    expect(landingSources.sort()).toEqual(['tasks', 'users']);
    const listed = statements.filter((statement) => asList(statement.Action).includes('s3:ListBucket')).flatMap((statement) => asList(statement.Condition!.StringLike!['s3:prefix']));
    for (const source of landingSources) expect(listed).toContain(`landing/${source}/*`);
    for (const statement of statements) {
      for (const resource of asList(statement.Resource).map(flatten)) expect(resource).not.toMatch(/\/landing\//);
      expect(asList(statement.Action)).not.toContain('s3:*');
      if (asList(statement.Action).includes('s3:ListBucket')) expect(statement.Condition?.StringLike?.['s3:prefix']).toBeDefined();
    }
  });

  it('the quality step writes only its own quality results folder and the quality.results manifests, and publishes only quality.results', () => {
    const statements = qualityPolicy(template());
    expect([...new Set(writtenResources(statements))].sort()).toEqual(
      [objectPattern(template(), 'quality', 'results/quality/'), objectPattern(template(), 'quality', '_symlink/results/job=quality/')].sort(),
    );
    const buckets = bucketIds(template());
    const encrypt = statements.find((statement) => statement.Sid === 'EncryptOwnTables')!;
    const contexts = asList(encrypt.Condition!.StringLike!['kms:EncryptionContext:aws:s3:arn']).map(flatten);
    expect(contexts.every((context) => context.includes(buckets.quality!.id))).toBe(true);

    const prefix = ENV_DEFAULTS[envName].glueDatabasePrefix;
    const publish = statements.find((statement) => statement.Sid === 'PublishOwnPartitions')!;
    const tables = asList(publish.Resource).map(flatten).filter((arn) => arn.includes(':table/'));
    expect(tables.map((arn) => arn.slice(arn.indexOf(':table/') + ':table/'.length))).toEqual([`${prefix}_quality/results`]);
    expect(statements.filter((statement) => asList(statement.Action).some((action) => action.startsWith('glue:'))).map((statement) => statement.Sid)).toEqual([
      'PublishOwnPartitions',
    ]);
    expectStateGrant(statements, qualityStepLakeAccess(ruleSets).stateWrites);
  });

  it('lets a job write its own state items (its manifests, bookmarks, run records, lock, and the root) and no other job\'s', () => {
    // IAM's StringLike over the partition keys in the policy as synthesized.
    const writes = (job: Job, key: string) => {
      const write = jobPolicy(template(), job).find((statement) => statement.Sid === 'WriteOwnStateItems')!;
      const patterns = asList(write.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'] as string[]);
      return patterns.some((pattern) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(key));
    };
    const bronzeTasks = PIPELINE_JOBS.find((job) => job.name === 'bronze.tasks_cdc')!;
    const silverTasks = PIPELINE_JOBS.find((job) => job.name === 'silver.tasks')!;
    for (const key of ['root', 'root#000000000042', 'doc#manifests/bronze.tasks_cdc/0000000007-jr_1-0', 'doc#manifests/quarantine.records/0000000007-jr_1-0', 'doc#bookmarks/bronze.tasks_cdc/jr_1', 'rec#runs/bronze.tasks_cdc', 'lock#job-bronze.tasks_cdc']) {
      expect(writes(bronzeTasks, key), key).toBe(true);
    }
    for (const key of ['doc#manifests/silver.tasks/0000000007-jr_1-0', 'doc#manifests/gold.daily_task_kpis/0000000007-jr_1-0', 'doc#bookmarks/silver.tasks/jr_1', 'rec#runs/silver.tasks', 'lock#job-silver.tasks', 'lock#lake-maintenance', 'rec#vacuum']) {
      expect(writes(bronzeTasks, key), key).toBe(false);
    }
    expect(writes(silverTasks, 'doc#manifests/silver.tasks/0000000007-jr_1-0')).toBe(true);
    expect(writes(silverTasks, 'doc#manifests/bronze.tasks_cdc/0000000007-jr_1-0')).toBe(false);
  });

  /** The state table: read whole, written only at the items whose partition keys `stateWrites` names (dynamodb:LeadingKeys). */
  const expectStateGrant = (statements: Statement[], stateWrites: readonly string[]) => {
    const stateTable = `<${resourceByPrefix(template(), 'AWS::DynamoDB::Table', 'JobsStateTable').logicalId}.Arn>`;
    const dynamodb = statements.filter((statement) => asList(statement.Action).some((action) => action.startsWith('dynamodb:')));
    expect(dynamodb.map((statement) => flatten(statement.Resource))).toEqual([stateTable, stateTable]);
    const read = dynamodb.find((statement) => statement.Sid === 'ReadStateTable')!;
    expect(asList(read.Action).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Query']);
    const write = dynamodb.find((statement) => statement.Sid === 'WriteOwnStateItems')!;
    // Every state write is a conditional put: nothing updates an item in place, and only the vacuum deletes.
    expect(asList(write.Action).sort()).toEqual(['dynamodb:ConditionCheckItem', 'dynamodb:PutItem']);
    expect(write.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...stateWrites] } });
  };

  it('lets the vacuum delete only manifests and put only its horizon and the maintenance lock; reconcile and the report write no state', () => {
    const vacuum = stepPolicy(template(), 'Vacuum');
    const deletes = vacuum.find((statement) => statement.Sid === 'DeleteStateItems')!;
    expect(deletes.Action).toBe('dynamodb:DeleteItem');
    const deleted = asList(deletes.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'] as string[]);
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.every((pattern) => /^doc#manifests\/[a-z_]+\.[a-z_]+\/\*$/.test(pattern))).toBe(true);
    expect(vacuum.find((statement) => statement.Sid === 'WriteOwnStateItems')!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rec#vacuum', 'lock#lake-maintenance'] } });
    for (const step of ['Reconcile', 'Report'] as const) {
      const dynamodbWrites = stepPolicy(template(), step).filter((statement) => asList(statement.Action).some((action) => /dynamodb:(Put|Update|Delete|ConditionCheck)/.test(action)));
      expect(dynamodbWrites, step).toEqual([]);
    }
    // No task may delete a job's state: the jobs' and the quality step's policies have no DeleteItem.
    for (const job of PIPELINE_JOBS) expect(jobPolicy(template(), job).some((statement) => asList(statement.Action).includes('dynamodb:DeleteItem')), job.name).toBe(false);
  });
});

describe('job image', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+\s/.test(line));

  it('runs the compiled medallion CLI on node:20-slim as a non-root user', () => {
    expect(instructions[0]).toBe('FROM node:20-slim AS build');
    expect(instructions).toContain('RUN npx tsc -p tsconfig.build.json');
    // The image that runs: the compiled CLI from the build stage, bin/ and the rule sets, no sources.
    const run = instructions.slice(instructions.lastIndexOf('FROM node:20-slim'));
    expect(run.filter((line) => line.startsWith('COPY'))).toEqual([
      'COPY package.json package-lock.json ./',
      'COPY --from=build /build/dist dist',
      'COPY bin bin',
      'COPY quality/rules quality/rules',
    ]);
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/medallion.js"]');
    expect(instructions).toContain('USER node');
    expect(existsSync(join(repoRoot, 'bin', 'medallion.js'))).toBe(true);
  });

  it('installs production dependencies only, which include every package the run-time sources import', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const imported = new Set<string>();
    const build = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { include: string[] };
    for (const folder of build.include) {
      for (const file of readdirSync(join(repoRoot, folder), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts'))) {
        const source = readFileSync(join(repoRoot, folder, file), 'utf8');
        const specifiers = [...source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm), ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)];
        for (const match of specifiers) {
          const specifier = match[1]!;
          if (specifier.startsWith('node:') || specifier.startsWith('.')) continue;
          imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
        }
      }
    }
    expect([...imported].sort()).toEqual(expect.arrayContaining(['@duckdb/node-api', 'commander', 'zod']));
    for (const name of imported) expect(Object.keys(packageJson.dependencies), `${name} is imported at run time`).toContain(name);
    // The compiled CLI needs no TypeScript runner, and the job image no CDK: they are dev dependencies.
    for (const buildOnly of ['tsx', 'typescript', 'aws-cdk-lib', 'cdk-nag', 'constructs', 'aws-cdk']) {
      expect(Object.keys(packageJson.dependencies), buildOnly).not.toContain(buildOnly);
      expect(Object.keys(packageJson.devDependencies), buildOnly).toContain(buildOnly);
    }
  });

  it('leaves out the runbooks and keeps the quality rule sets the jobs and the quality step read', () => {
    expect(IMAGE_CONTEXT_EXCLUDES).toContain('runbooks');
    for (const excluded of IMAGE_CONTEXT_EXCLUDES) expect(['quality', 'quality/rules', 'quality/**']).not.toContain(excluded);
  });

  it('.dockerignore leaves out exactly what the CDK asset leaves out', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual([...IMAGE_CONTEXT_EXCLUDES]);
  });
});
