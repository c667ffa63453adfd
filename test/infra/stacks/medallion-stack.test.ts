import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Job, TableName } from '../../../core/index.ts';
import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, shortNameOf } from '../../../core/table/index.ts';
import { ENV_DEFAULTS, jobConstructId, type MedallionApp } from '../../../infra/index.ts';
import { BACKUP_MANAGED_POLICIES } from '../../../infra/constructs/lake-backup.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../../jobs/quality.ts';
import { ENVS, buildApp, resourceByPrefix, stackOf, type CfnResources } from '../infra-fixtures.ts';

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
  ['TasksDelivery/Policy', 'AwsSolutions-IAM5[Resource::<LakeLandingBronzeBucket5A7D0508.Arn>/landing/tasks/*]'],
  // ecr:GetAuthorizationToken takes no resource.
  ['Jobs/ExecutionRole', 'AwsSolutions-IAM5[Resource::*]'],
  // X-Ray, vended-log delivery and EcsRunTask's DescribeTasks/StopTask.
  ['Pipeline/StateMachine/Role', 'AwsSolutions-IAM5[Resource::*]'],
];

const BUCKET_OF: Readonly<Record<string, string>> = {
  landing: 'LakeLandingBronzeBucket5A7D0508',
  bronze: 'LakeLandingBronzeBucket5A7D0508',
  silver: 'LakeSilverBucket5C83FE02',
  gold: 'LakeGoldBucketFA6D7163',
  quarantine: 'LakeQuarantineBucket5F6681C9',
  // quality.results lives in the quarantine (operations) bucket.
  quality: 'LakeQuarantineBucket5F6681C9',
  // And so do the operations reports.
  reports: 'LakeQuarantineBucket5F6681C9',
};
// A lake key keeps its whole name in its folder's bucket: `silver/tasks/` is the silver bucket's `silver/tasks/`.
const finding = (lakePrefix: string) => `AwsSolutions-IAM5[Resource::<${BUCKET_OF[lakePrefix.split('/')[0]!]!}.Arn>/${lakePrefix}*]`;
const tableFolder = (name: TableName, folder = '') => `${name.split('.')[0]!}/${folder}${shortNameOf(name)}/`;
const ruleSets = [...(await loadPipelineRuleSets()).values()];
const referencesOf = (sets: typeof ruleSets) => [...new Set(sets.flatMap((set) => Object.values(set.references) as TableName[]))];

/**
 * Per job: its task definition's environment (names only, no secrets), and one wildcard finding per lake
 * prefix it reads or writes. Written out independently of the construct: the bucket and prefix each
 * table lives at, as the Glue catalog declares it.
 */
function expectedJobAcknowledgments(job: Job): [string, string][] {
  const findings = new Set<string>();
  for (const source of Object.values(job.sources)) findings.add(finding(source.kind === 'landing' ? source.prefix : tableFolder(source.table)));
  for (const output of job.outputs) findings.add(finding(tableFolder(output.name)));
  findings.add(finding(`${tableFolder(QUARANTINE_TABLE.name)}${job.name}/`));
  // The symlink manifests the Glue catalog publishes its tables through, and its own partition's of the quarantine.
  for (const table of job.outputs) findings.add(finding(tableFolder(table.name, '_symlink/')));
  findings.add(finding(`${tableFolder(QUARANTINE_TABLE.name, '_symlink/')}job=${job.name}/`));
  // Its quality gate: history, the tables its rules reference, its own results folder and the results' manifests.
  const gate = ruleSets.filter((set) => job.outputs.some((output) => output.name === set.table));
  if (gate.length > 0) {
    findings.add(finding(tableFolder(QUALITY_RESULTS_TABLE.name)));
    for (const table of referencesOf(gate)) findings.add(finding(tableFolder(table)));
    findings.add(finding(`${tableFolder(QUALITY_RESULTS_TABLE.name)}${job.name}/`));
    findings.add(finding(`${tableFolder(QUALITY_RESULTS_TABLE.name, '_symlink/')}job=${job.name}/`));
    // The rows its fail rules refuse, kept when they stop a run.
    findings.add(finding(`${tableFolder(QUALITY_REJECTED_TABLE.name)}${job.name}/`));
    findings.add(finding(`${tableFolder(QUALITY_REJECTED_TABLE.name, '_symlink/')}job=${job.name}/`));
  }
  const id = jobConstructId(job);
  return [[`Jobs/${id}/TaskDefinition`, 'AwsSolutions-ECS2'], ...[...findings].map((rule): [string, string] => [`Jobs/${id}/TaskPolicy`, rule])];
}

/** The quality step: the checked tables, their references and quality history read; its results folder and the manifests written. Landing is only listed (no finding). */
function expectedQualityAcknowledgments(): [string, string][] {
  const checked = ruleSets.filter((set) => !set.table.startsWith('landing.')).map((set) => set.table as TableName);
  const findings = new Set<string>([...checked, ...referencesOf(ruleSets), QUALITY_RESULTS_TABLE.name].map((table) => finding(tableFolder(table))));
  findings.add(finding(`${tableFolder(QUALITY_RESULTS_TABLE.name)}quality/`));
  findings.add(finding(`${tableFolder(QUALITY_RESULTS_TABLE.name, '_symlink/')}job=quality/`));
  return [['Jobs/Quality/TaskDefinition', 'AwsSolutions-ECS2'], ...[...findings].map((rule): [string, string] => ['Jobs/Quality/TaskPolicy', rule])];
}

/**
 * The reconcile step reads landing, bronze, the silver event tables and the quarantine; the vacuum step deletes under
 * every table's folder and its symlink manifests. Written out from the tables, independently of the construct.
 */
function expectedMaintenanceAcknowledgments(): [string, string][] {
  const reconcile = ['landing/tasks/', 'landing/users/', ...(['bronze.tasks_cdc', 'bronze.users_cdc', 'silver.task_events', 'silver.user_events', QUARANTINE_TABLE.name] as TableName[]).map((table) => tableFolder(table))];
  const tables = [...new Set([...PIPELINE_JOBS.flatMap((job) => job.outputs.map((output) => output.name)), QUARANTINE_TABLE.name, QUALITY_RESULTS_TABLE.name, QUALITY_REJECTED_TABLE.name])];
  const vacuum = tables.flatMap((table) => [tableFolder(table), tableFolder(table, '_symlink/')]);
  return [
    ['Jobs/Reconcile/TaskDefinition', 'AwsSolutions-ECS2'],
    ...reconcile.map((prefix): [string, string] => ['Jobs/Reconcile/TaskPolicy', finding(prefix)]),
    ['Jobs/Vacuum/TaskDefinition', 'AwsSolutions-ECS2'],
    ...[...new Set(vacuum.map(finding))].map((rule): [string, string] => ['Jobs/Vacuum/TaskPolicy', rule]),
    // The report reads every table and writes its reports.
    ['Jobs/Report/TaskDefinition', 'AwsSolutions-ECS2'],
    ...[...new Set([...tables.map((table) => tableFolder(table)), 'reports/'].map(finding))].map((rule): [string, string] => ['Jobs/Report/TaskPolicy', rule]),
  ];
}

/**
 * The only Allow statements that may name `*` as an action or resource, and why. A KMS key policy
 * is attached to one key, so its `Resource: "*"` means "this key"; CDK's default key policy gives
 * the account (and so IAM) administration of the key, which is how every other grant is made.
 * An IAM policy exception names the exact actions that may go with `Resource: "*"`.
 */
const WILDCARD_EXCEPTIONS: readonly { readonly type: string; readonly logicalIdPrefix: string; readonly actions?: readonly string[]; readonly reason: string }[] = [
  { type: 'AWS::KMS::Key', logicalIdPrefix: 'SourcesKey', reason: 'key policy: Resource "*" is this key; the account root administers it (kms:*)' },
  { type: 'AWS::KMS::Key', logicalIdPrefix: 'LakeKey', reason: 'key policy: Resource "*" is this key; the account root administers it (kms:*)' },
  { type: 'AWS::KMS::Key', logicalIdPrefix: 'BackupVaultKey', reason: 'key policy: Resource "*" is this key; the account root administers it (kms:*) (prod\'s backup vault)' },
  {
    type: 'AWS::KMS::Key',
    logicalIdPrefix: 'CatalogCatalogKey',
    reason: 'key policy: Resource "*" is this key; the account root administers it, this account\'s principals use it only through Glue (prod\'s Data Catalog encryption)',
  },
  {
    type: 'AWS::KMS::Key',
    logicalIdPrefix: 'JobsKey',
    reason: 'key policy: Resource "*" is this key; the account root administers it, CloudWatch Logs encrypts the three pipeline log groups',
  },
  {
    type: 'AWS::KMS::Key',
    logicalIdPrefix: 'AlertsKey',
    reason: 'key policy: Resource "*" is this key; the account root administers it, CloudWatch uses it to publish alarms to the topic',
  },
  {
    type: 'AWS::IAM::Policy',
    logicalIdPrefix: 'JobsExecutionRoleDefaultPolicy',
    actions: ['ecr:GetAuthorizationToken'],
    reason: 'ECR issues registry tokens per account: the action has no resource-level permissions',
  },
  {
    type: 'AWS::IAM::Policy',
    logicalIdPrefix: 'PipelineStateMachineRoleDefaultPolicy',
    actions: [
      'ecs:StopTask',
      'ecs:DescribeTasks',
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
    ],
    reason:
      'Step Functions vended logs and X-Ray have no resource-level permissions; EcsRunTask (RUN_JOB) grants DescribeTasks/StopTask on "*" as task ARNs exist only once a run starts',
  },
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
      case 'AWS::SNS::TopicPolicy':
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

// One app with both environments: cdk-nag runs once over it, and it is synthesized once (with CDK's
// built-in CloudFormation validation, which fails the synthesis on an invalid template).
let built: MedallionApp;
let nagFindings: { severity: string; rule: string; path: string }[];
let assembly: CloudAssembly;
beforeAll(() => {
  built = buildApp(['dev', 'prod'], {}, { cfnValidation: true });
  const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
  nagFindings = report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      severity: String(violation.severity),
      rule: violation.ruleName,
      path: String(resource.constructPath),
    })),
  );
  assembly = built.app.synth();
});

describe.each(ENVS)('medallion stack (%s)', (envName) => {
  const template = () => Template.fromJSON(assembly.getStackByName(`medallion-${envName}`).template);

  it('passes cdk-nag AwsSolutions with no unacknowledged error or warning', () => {
    const findings = nagFindings.filter((finding) => finding.path.startsWith(`medallion-${envName}/`));
    expect(findings.map((finding) => `${finding.severity} ${finding.rule} at ${finding.path}`)).toEqual([]);
  });

  it('has no CDK error annotation, and warns only that no one is subscribed to the alerts (the shipped config names no address)', () => {
    const annotations = Annotations.fromStack(stackOf(built, envName));
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue()).map((warning) => String(warning.entry.data))).toEqual([
      expect.stringContaining(`no one is subscribed to the ${envName} critical alerts`),
    ]);
  });

  it('acknowledges exactly the expected findings, each with a specific reason', () => {
    const stackPath = stackOf(built, envName).node.path;
    const acknowledged: [string, string][] = [];
    for (const construct of stackOf(built, envName).node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [qualifiedId, reason] of Object.entries(entry.data as Record<string, string>)) {
          const ruleId = qualifiedId.replace(/^annotation::/i, '');
          // CDK acknowledges some of its own template checks (CloudFormation-Validate::...) on constructs it builds.
          if (!ruleId.startsWith('AwsSolutions-')) continue;
          expect(typeof reason === 'string' && reason.length >= 60, `reason for ${ruleId} at ${construct.node.path}: "${reason}"`).toBe(true);
          acknowledged.push([construct.node.path.slice(stackPath.length + 1), ruleId]);
        }
      }
    }
    const expected = [
      ...EXPECTED_ACKNOWLEDGMENTS.map(([path, id]): [string, string] => [path, id]),
      // The backup plan's role, where the config turns backups on (prod): AWS Backup's managed policies.
      ...(envName === 'prod' ? BACKUP_MANAGED_POLICIES.map((policy): [string, string] => ['Backup/Role', `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`]) : []),
      ...PIPELINE_JOBS.flatMap(expectedJobAcknowledgments),
      ...expectedQualityAcknowledgments(),
      ...expectedMaintenanceAcknowledgments(),
      // The analysts' role: the gold layer's objects, its Glue tables, and Athena's results prefix.
      ...[
        'AwsSolutions-IAM5[Resource::<LakeGoldBucketFA6D7163.Arn>/gold/*]',
        'AwsSolutions-IAM5[Resource::<LakeAthenaResultsBucket1339301D.Arn>/results/*]',
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${ENV_DEFAULTS[envName].glueDatabasePrefix}_gold/*]`,
      ].map((rule): [string, string] => ['AnalystAccess/Policy', rule]),
    ];
    expect(acknowledged.sort()).toEqual(expected.sort());
  });

  it('grants no "*" action or resource in any Allow statement, beyond the documented exceptions', () => {
    const resources = template().toJSON().Resources as CfnResources;
    const offending: string[] = [];
    const excepted = new Set<string>();
    for (const { type, logicalId, statement } of statementsOf(resources)) {
      if (statement.Effect !== 'Allow') continue;
      const actions = asList(statement.Action);
      const wildcardAction = actions.some((action) => action === '*');
      const serviceWildcard = actions.filter((action) => typeof action === 'string' && action.endsWith(':*'));
      const wildcardResource = asList(statement.Resource).some((resource) => resource === '*');
      if (!wildcardAction && !wildcardResource && serviceWildcard.length === 0) continue;
      const exception = WILDCARD_EXCEPTIONS.find(
        (candidate) =>
          candidate.type === type &&
          logicalId.startsWith(candidate.logicalIdPrefix) &&
          (candidate.actions === undefined || actions.every((action) => candidate.actions!.includes(action as string))),
      );
      if (exception) excepted.add(exception.logicalIdPrefix);
      else offending.push(`${type} ${logicalId}: ${JSON.stringify(statement)}`);
    }
    expect(offending).toEqual([]);
    // Each exception still describes something real; drop it when it no longer does.
    // (The backup vault's key exists where backups are on, the catalog's where it is encrypted: prod.)
    const present = WILDCARD_EXCEPTIONS.filter((exception) => !['BackupVaultKey', 'CatalogCatalogKey'].includes(exception.logicalIdPrefix) || envName === 'prod');
    expect([...excepted].sort()).toEqual(present.map((exception) => exception.logicalIdPrefix).sort());
  });

  it('denies, in every bucket policy, only with conditions (TLS), never allows anyone', () => {
    for (const policy of Object.values(template().findResources('AWS::S3::BucketPolicy') as CfnResources)) {
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

  it('rotates every KMS key, and keeps prod keys and data stores when the stack is deleted', () => {
    const isProd = envName === 'prod';
    template().allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const type of ['AWS::DynamoDB::Table', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket']) {
      for (const [logicalId, resource] of Object.entries(template().findResources(type))) {
        expect(resource.DeletionPolicy, `${type} ${logicalId}`).toBe(isProd ? 'Retain' : 'Delete');
      }
    }
    // The alert topic's key is the one key that goes with the stack: it protects no data that outlives it.
    for (const [logicalId, resource] of Object.entries(template().findResources('AWS::KMS::Key'))) {
      expect(resource.DeletionPolicy, logicalId).toBe(isProd && !logicalId.startsWith('AlertsKey') ? 'Retain' : 'Delete');
    }
  });

  it('has one asset besides its template: the job image, staged from the repository without dependencies, lakes or build output', () => {
    const manifestArtifact = assembly.artifacts.find((artifact) => artifact.id === `medallion-${envName}.assets`);
    expect(manifestArtifact).toBeDefined();
    const manifest = JSON.parse(readFileSync(join(assembly.directory, `medallion-${envName}.assets.json`), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
      dockerImages: Record<string, { source: { directory: string; platform?: string } }>;
    };
    expect(Object.values(manifest.files).map((file) => file.source.path)).toEqual([`medallion-${envName}.template.json`]);
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source.platform).toBe('linux/amd64');

    const staged = join(assembly.directory, images[0]!.source.directory);
    // The quality rule sets are read at run time by the jobs' gates and by `medallion quality`.
    for (const needed of ['Dockerfile', 'package.json', 'package-lock.json', 'bin/medallion.js', 'cli/main.ts', 'core/index.ts', 'jobs/index.ts', 'quality/rules/silver.tasks.dqdl']) {
      expect(existsSync(join(staged, needed)), needed).toBe(true);
    }
    for (const excluded of ['node_modules', 'lake', '.bench', 'cdk.out', 'scratch', '.git', 'test', 'infra', 'bench', 'runbooks', 'docs']) {
      expect(existsSync(join(staged, excluded)), excluded).toBe(false);
    }
    const sizeBytes = (path: string): number =>
      statSync(path).isDirectory() ? readdirSync(path).reduce((sum, entry) => sum + sizeBytes(join(path, entry)), 0) : statSync(path).size;
    // The sources are a few MB; node_modules alone would be hundreds.
    expect(sizeBytes(staged)).toBeLessThan(10_000_000);
  });

  it('keeps resource names environment-specific, so dev and prod can share an account', () => {
    const names = [
      resourceByPrefix(template(), 'AWS::ECS::Cluster', 'JobsCluster').resource.Properties!.ClusterName,
      resourceByPrefix(template(), 'AWS::DynamoDB::Table', 'JobsStateTable').resource.Properties!.TableName,
      resourceByPrefix(template(), 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').resource.Properties!.StateMachineName,
      resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').resource.Properties!.TopicName,
    ];
    for (const name of names) expect(name).toContain(`medallion-${envName}`);
  });
});

describe('backups (runbooks/disaster-recovery.md)', () => {
  const template = (envName: string) => Template.fromJSON(assembly.getStackByName(`medallion-${envName}`).template);

  it('prod backs up the state table and every lake bucket in one AWS Backup plan, into a vault of its own key; dev has none', () => {
    const prod = template('prod');
    prod.hasResourceProperties('AWS::Backup::BackupVault', { BackupVaultName: 'medallion-prod-lake', EncryptionKeyArn: Match.anyValue() });
    prod.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanName: 'medallion-prod-lake', BackupPlanRule: [Match.objectLike({ EnableContinuousBackup: true, Lifecycle: { DeleteAfterDays: 35 } })] },
    });
    const [selection] = Object.values(prod.findResources('AWS::Backup::BackupSelection') as CfnResources);
    const resources = JSON.stringify(selection!.Properties!.BackupSelection.Resources);
    expect(resources).toContain('JobsStateTable');
    for (const bucket of ['LakeLandingBronzeBucket', 'LakeSilverBucket', 'LakeGoldBucket', 'LakeQuarantineBucket']) expect(resources).toContain(bucket);
    expect(resources).not.toContain('AthenaResults');
    template('dev').resourceCountIs('AWS::Backup::BackupPlan', 0);
    // Point-in-time recovery of the state table is on everywhere.
    for (const envName of ENVS) {
      template(envName).hasResourceProperties('AWS::DynamoDB::Table', { TableName: `medallion-${envName}-state`, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
    }
  });
});
