import { ArnFormat, type CfnResource, IgnoreMode, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Job, TableName } from '../../core/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { LAKE_FOLDERS, QUALITY_JOB, jobLakeAccess, qualityStepLakeAccess, type LakeAccess } from '../../core/layout/index.ts';
import { shortNameOf } from '../../core/table/index.ts';
import type { InfraConfig } from '../config.ts';
import { type LakeLayout, type LakeLocation, locateLakePrefix } from '../lake-layout.ts';
import { type CatalogLayer, glueDatabaseName } from './lake-catalog.ts';

/**
 * What the image build never needs: dependencies are installed inside the image, and the lake, benchmark
 * output, synthesized templates and scratch space can be gigabytes. `.dockerignore` lists the same
 * entries (a test keeps them equal) so `docker build .` by hand sends the same context CDK stages.
 */
export const IMAGE_CONTEXT_EXCLUDES = [
  'node_modules',
  'lake',
  '.bench',
  'cdk.out',
  'scratch',
  '.git',
  'coverage',
  'dist',
  '*.log',
  // Not used at run time; leaving them out keeps test and infra edits from changing the image.
  // (quality/, the rule sets, is used at run time and stays in.)
  'test',
  'bench',
  'infra',
  'docs',
  'runbooks',
  'scripts',
  '.ci',
  'cdk.json',
  'vitest.config.ts',
  'README.md',
] as const;

/** The one container of every job task. */
export const JOB_CONTAINER_NAME = 'job';

/**
 * The container command of a pipeline run of `job`: the CLI's `run` with Glue's arguments. The image's
 * entrypoint is `node bin/medallion.js`, so this is exactly what follows `medallion` on a command line.
 * `--timeout` is the runner's own Glue Timeout, so a run that overstays ends as TIMEOUT and releases its
 * lock before Step Functions gives up on the task.
 *
 * @example
 * jobRunCommand(silverTasksJob, 60); // ['run', 'silver.tasks', '--JOB_NAME', 'silver.tasks', '--job-bookmark-option', 'job-bookmark-enable', '--timeout', '60']
 */
export function jobRunCommand(job: Job, timeoutMinutes: number): string[] {
  return ['run', job.name, '--JOB_NAME', job.name, '--job-bookmark-option', 'job-bookmark-enable', '--timeout', String(timeoutMinutes)];
}

/**
 * The container command of the pipeline's quality step: `medallion quality` over every rule set in the
 * image (quality/rules/), recording the results; it exits 1 when a rule with action fail did not pass,
 * which fails the task and so the step.
 */
export const QUALITY_STEP_COMMAND: readonly string[] = ['quality'];

/** Log group names, fixed so runbooks can name them and the key policy can be scoped to them. */
export function logGroupNames(config: InfraConfig): { readonly jobs: string; readonly vpcFlowLogs: string; readonly pipeline: string } {
  return {
    jobs: `/medallion/${config.envName}/jobs`,
    vpcFlowLogs: `/medallion/${config.envName}/vpc-flow-logs`,
    // Step Functions' vended logs: the /aws/vendedlogs/ prefix keeps CloudWatch Logs from growing a resource policy per group.
    pipeline: `/aws/vendedlogs/states/medallion-${config.envName}-pipeline`,
  };
}

/** `silver.tasks` -> `SilverTasks`, for construct ids and state names that must be stable. */
export function jobConstructId(job: Job): string {
  return job.name
    .split(/[._]/)
    .map((part) => `${part[0]!.toUpperCase()}${part.slice(1)}`)
    .join('');
}

/** `silver.tasks` -> `medallion-dev-silver-tasks` (task definition families allow no dots). */
export function jobTaskFamily(config: InfraConfig, job: Job): string {
  return `medallion-${config.envName}-${job.name.replace(/[._]/g, '-')}`;
}

/** The quality step's task definition family: `medallion-<env>-quality`. */
export const qualityTaskFamily = (config: InfraConfig): string => `medallion-${config.envName}-${QUALITY_JOB}`;

export interface JobComputeProps {
  readonly config: InfraConfig;
  /** The jobs to give a task definition each (the pipeline passes `PIPELINE_JOBS`). */
  readonly jobs: readonly Job[];
  /** Where the lake's keys live in S3, and the key its buckets are encrypted with. */
  readonly layout: LakeLayout;
  readonly lakeKey: IKey;
  /** The folder holding the Dockerfile (the repository root). */
  readonly imageDirectory: string;
  /** The quality rule sets the image carries (`pipelineRuleSets()`): what the gates and the quality step read. */
  readonly ruleSets: readonly TableRuleSet[];
}

/** One task definition of the pipeline, its container and the role the container runs as. */
export interface PipelineTask {
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly role: Role;
  readonly command: readonly string[];
}

/** One job's task. */
export interface JobTask extends PipelineTask {
  readonly job: Job;
}

/**
 * Where the jobs run: one Fargate task definition per job (the `medallion` CLI image, run as
 * `medallion run <job> --JOB_NAME <job> --job-bookmark-option job-bookmark-enable`), an ECS cluster
 * with Container Insights in a VPC without internet access, the DynamoDB table for the lake's state
 * (bookmarks, runs, locks, commits), and an encrypted log group.
 *
 * Each job's role reads only the lake prefixes its sources live in (plus quality.results and the tables
 * its rule sets reference) and writes only its own tables' prefixes, its own quarantine and quality.results
 * folders and the Glue symlink manifests of those tables: a gold job cannot write bronze (or silver, or
 * landing). The quality step (`medallion quality`, task `medallion-<env>-quality`) runs the same image with
 * its own role: it reads the checked tables, lists landing, and writes only its quality.results folder.
 *
 * The CLI opens the lake from the environment below (`MEDALLION_LAKE` = s3://... plus one
 * `MEDALLION_LAKE_<FOLDER>` per layer bucket, `MEDALLION_STATE_TABLE`, `MEDALLION_GLUE_DATABASE_PREFIX`,
 * `MEDALLION_METRICS_NAMESPACE`): S3 storage, the DynamoDB state store, the Glue catalog and EMF metrics.
 *
 * @example
 * const compute = new JobCompute(stack, 'Jobs', { config, jobs: PIPELINE_JOBS, layout, lakeKey, imageDirectory: repoRoot });
 * compute.tasks.get('silver.tasks')?.taskDefinition;
 */
export class JobCompute extends Construct {
  readonly vpc: Vpc;
  readonly cluster: Cluster;
  readonly securityGroup: SecurityGroup;
  /** Encrypts the state table and the pipeline's log groups. */
  readonly key: Key;
  readonly stateTable: Table;
  readonly logGroup: LogGroup;
  readonly image: DockerImageAsset;
  readonly executionRole: Role;
  readonly tasks: ReadonlyMap<string, JobTask>;
  /** The pipeline's quality step: `medallion quality` in the same image and environment. */
  readonly qualityTask: PipelineTask;

  constructor(scope: Construct, id: string, props: JobComputeProps) {
    super(scope, id);
    const { config, jobs, layout, lakeKey } = props;
    const stack = Stack.of(this);
    const isProd = config.envName === 'prod';
    const removalPolicy = isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const names = logGroupNames(config);

    this.key = new Key(this, 'Key', {
      description: `medallion ${config.envName}: lake state table and pipeline log groups`,
      enableKeyRotation: true,
      removalPolicy,
    });
    const logGroupArn = (name: string) =>
      stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'EncryptPipelineLogGroups',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        // A key policy's "*" is this key. The condition limits CloudWatch Logs to our own log groups.
        resources: ['*'],
        conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': Object.values(names).map(logGroupArn) } },
      }),
    );

    // Network: private isolated subnets, no NAT and no internet gateway. The jobs only talk to AWS
    // services, so they reach them through VPC endpoints: free gateway endpoints for S3 and DynamoDB
    // (all the bulk traffic), interface endpoints for ECR (image pull), CloudWatch Logs and Glue.
    // KMS needs none: S3 and DynamoDB call KMS on the task's behalf. With one zone (dev) the four
    // interface endpoints cost about what one NAT gateway does, and a job has no route to exfiltrate
    // lake data to. A job that needs another service gets another endpoint here, on purpose.
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(config.vpcCidr),
      maxAzs: config.vpcMaxAzs,
      natGateways: 0,
      createInternetGateway: false,
      subnetConfiguration: [{ name: 'jobs', subnetType: SubnetType.PRIVATE_ISOLATED }],
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // Locking down the default security group takes a Lambda-backed custom resource; nothing uses
      // that group (every task and endpoint has its own), so it is left as AWS creates it.
      restrictDefaultSecurityGroup: false,
    });
    const flowLogGroup = new LogGroup(this, 'FlowLogs', {
      logGroupName: names.vpcFlowLogs,
      retention: config.logRetentionDays,
      encryptionKey: this.key,
      removalPolicy,
    });
    this.vpc.addFlowLog('FlowLog', { destination: FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: FlowLogTrafficType.ALL });

    this.securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: this.vpc,
      description: `medallion ${config.envName} job tasks: HTTPS out to VPC endpoints only, nothing in`,
      allowAllOutbound: false,
    });
    // The subnets have no internet route, so 443 anywhere reaches only the endpoints (interface and gateway).
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to AWS services through the VPC endpoints');
    const endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: `medallion ${config.envName} interface endpoints: HTTPS in from the job tasks only`,
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(this.securityGroup, Port.tcp(443), 'HTTPS from the job tasks');
    for (const [endpointId, service] of [
      ['EcrApiEndpoint', InterfaceVpcEndpointAwsService.ECR],
      ['EcrDockerEndpoint', InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['LogsEndpoint', InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ['GlueEndpoint', InterfaceVpcEndpointAwsService.GLUE],
    ] as const) {
      this.vpc.addInterfaceEndpoint(endpointId, {
        service,
        privateDnsEnabled: true,
        subnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        securityGroups: [endpointSecurityGroup],
        open: false,
      });
    }

    this.cluster = new Cluster(this, 'Cluster', {
      clusterName: `medallion-${config.envName}`,
      vpc: this.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.stateTable = new Table(this, 'StateTable', {
      tableName: `medallion-${config.envName}-state`,
      // The keys DynamoDbStateStore (core/state) uses for the root, documents, records and locks.
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: isProd,
      removalPolicy,
    });

    this.logGroup = new LogGroup(this, 'JobLogs', {
      logGroupName: names.jobs,
      retention: config.logRetentionDays,
      encryptionKey: this.key,
      removalPolicy,
    });

    // One asset for all jobs: synthesis only fingerprints and copies the build context (without the
    // excluded folders) into cdk.out; `cdk deploy` builds and pushes the image, and needs Docker.
    this.image = new DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory,
      exclude: [...IMAGE_CONTEXT_EXCLUDES],
      ignoreMode: IgnoreMode.DOCKER,
      platform: Platform.LINUX_AMD64,
      displayName: `medallion ${config.envName} job image`,
    });

    this.executionRole = new Role(this, 'ExecutionRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `ECS pulls the medallion ${config.envName} job image and writes the job logs`,
    });
    Validations.of(this.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); the image pull itself is limited to the one asset repository.',
    });

    const context = { config, layout, lakeKey, environment: this.taskEnvironment(config, layout) };
    const tasks = new Map<string, JobTask>();
    for (const job of jobs) {
      const task = this.pipelineTask(new Construct(this, jobConstructId(job)), context, {
        who: job.name,
        family: jobTaskFamily(config, job),
        command: jobRunCommand(job, config.jobTimeoutMinutes),
        roleDescription: `medallion job ${job.name}: reads its sources' prefixes, writes its own tables, quarantine and quality results`,
        access: jobLakeAccess(job, props.ruleSets),
      });
      tasks.set(job.name, { job, ...task });
    }
    this.tasks = tasks;
    this.qualityTask = this.pipelineTask(new Construct(this, 'Quality'), context, {
      who: 'the quality step',
      family: qualityTaskFamily(config),
      command: [...QUALITY_STEP_COMMAND],
      roleDescription: 'medallion quality step: reads the checked tables, lists landing, writes its own quality results',
      access: qualityStepLakeAccess(props.ruleSets),
    });
  }

  /**
   * Where the lake and its state are, for the AWS adapters (`S3Storage`, `DynamoDbStateStore`, the Glue
   * catalog and EMF metrics): `MEDALLION_LAKE` is the location of every lake key without a location of
   * its own (landing/ and bronze/); `MEDALLION_LAKE_<FOLDER>` is the location of the keys under that first
   * folder (each key keeps its whole name there, as `S3StorageOptions.locations` reads them). Names only, no secrets.
   */
  private taskEnvironment(config: InfraConfig, layout: LakeLayout): Record<string, string> {
    const s3 = (location: LakeLocation) => `s3://${location.bucket.bucketName}/${location.prefix}`;
    const fallback = layout.landing;
    const perFolder = LAKE_FOLDERS.filter((root) => layout[root].bucket !== fallback.bucket || layout[root].prefix !== fallback.prefix).map(
      (root) => [`MEDALLION_LAKE_${root.toUpperCase()}`, s3(layout[root])] as const,
    );
    return {
      MEDALLION_LAKE: s3(fallback),
      ...Object.fromEntries(perFolder),
      MEDALLION_STATE_TABLE: this.stateTable.tableName,
      MEDALLION_GLUE_DATABASE_PREFIX: config.glueDatabasePrefix,
      MEDALLION_METRICS_NAMESPACE: config.metricsNamespace,
    };
  }

  private pipelineTask(
    scope: Construct,
    context: { config: InfraConfig; layout: LakeLayout; lakeKey: IKey; environment: Record<string, string> },
    task: { who: string; family: string; command: string[]; roleDescription: string; access: LakeAccess },
  ): PipelineTask {
    const { config } = context;
    const role = new Role(scope, 'TaskRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
      description: task.roleDescription,
    });
    this.grantLakeAccess(scope, role, task.who, task.access, context);

    const taskDefinition = new FargateTaskDefinition(scope, 'TaskDefinition', {
      family: task.family,
      cpu: config.jobCpu,
      memoryLimitMiB: config.jobMemoryMiB,
      ephemeralStorageGiB: config.jobEphemeralStorageGiB,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.X86_64, operatingSystemFamily: OperatingSystemFamily.LINUX },
      taskRole: role,
      executionRole: this.executionRole,
      // DuckDB spills and the runner stages outputs under /tmp; the rest of the filesystem is read-only.
      volumes: [{ name: 'tmp' }],
    });
    const container = taskDefinition.addContainer(JOB_CONTAINER_NAME, {
      containerName: JOB_CONTAINER_NAME,
      image: ContainerImage.fromDockerImageAsset(this.image),
      command: task.command,
      environment: context.environment,
      readonlyRootFilesystem: true,
      essential: true,
      logging: LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: task.family }),
    });
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only resource names (bucket locations, the state table, the Glue database prefix, the metrics namespace), no secrets; the job needs them before it can reach anything.',
    });
    return { taskDefinition, container, role, command: task.command };
  }

  /**
   * The task's own policy (see LakeAccess): read, list and write exactly the given lake prefixes, use the
   * state table, and publish partitions of the given Glue tables only.
   */
  private grantLakeAccess(scope: Construct, role: Role, who: string, access: LakeAccess, context: { config: InfraConfig; layout: LakeLayout; lakeKey: IKey }): void {
    const { config, layout, lakeKey } = context;
    const stack = Stack.of(this);
    const reads = access.reads.map((prefix) => locateLakePrefix(layout, prefix));
    const lists = access.lists.map((prefix) => locateLakePrefix(layout, prefix));
    const writes = access.writes.map((prefix) => locateLakePrefix(layout, prefix));

    const buckets = new Map<IBucket, string[]>();
    for (const location of [...reads, ...lists, ...writes]) buckets.set(location.bucket, [...(buckets.get(location.bucket) ?? []), location.prefix]);
    const objectArns = (locations: readonly LakeLocation[]) => locations.map((location) => location.bucket.arnForObjects(`${location.prefix}*`));
    const bucketArns = (locations: readonly LakeLocation[]) => [...new Set(locations.map((location) => location.bucket))].map((bucket) => bucket.bucketArn);

    const statements = [
      ...[...buckets].map(
        ([bucket, prefixes], index) =>
          new PolicyStatement({
            sid: `ListOwnPrefixes${index}`,
            actions: ['s3:ListBucket'],
            resources: [bucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
          }),
      ),
      ...(reads.length > 0 ? [new PolicyStatement({ sid: 'ReadSources', actions: ['s3:GetObject'], resources: objectArns(reads) })] : []),
      new PolicyStatement({
        sid: 'WriteOwnTables',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: objectArns(writes),
      }),
      new PolicyStatement({
        sid: 'DecryptLakeObjects',
        actions: ['kms:Decrypt'],
        resources: [lakeKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
          // With S3 bucket keys the encryption context is the bucket ARN (object ARNs for older objects).
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucketArns([...reads, ...writes]).flatMap((arn) => [arn, `${arn}/*`]) },
        },
      }),
      new PolicyStatement({
        sid: 'EncryptOwnTables',
        actions: ['kms:GenerateDataKey'],
        resources: [lakeKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucketArns(writes).flatMap((arn) => [arn, `${arn}/*`]) },
        },
      }),
      new PolicyStatement({
        sid: 'UseStateTable',
        actions: [
          'dynamodb:DescribeTable',
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: [this.stateTable.tableArn],
      }),
      new PolicyStatement({
        sid: 'UseStateTableKey',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com` } },
      }),
      ...this.glueStatements(config, access),
    ];
    const policy = new Policy(scope, 'TaskPolicy', { roles: [role], statements });

    // cdk-nag names each wildcard finding by the resource as it renders it: `<BucketLogicalId.Arn>/prefix*`.
    const acknowledged = new Set<string>();
    for (const location of [...reads, ...writes]) {
      const bucketLogicalId = String(stack.resolve((location.bucket.node.defaultChild as CfnResource).logicalId));
      const findingId = `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${location.prefix}*]`;
      if (acknowledged.has(findingId)) continue;
      acknowledged.add(findingId);
      Validations.of(policy).acknowledge({
        id: findingId,
        reason: `A run names its objects itself (run folders, partitions, part files), so ${who} may use any key under this one table or landing prefix, and no other prefix of the bucket.`,
      });
    }
  }

  /** Read the source tables' catalog entries; publish partitions of the task's own tables (its outputs, quarantine, quality results). */
  private glueStatements(config: InfraConfig, access: LakeAccess): PolicyStatement[] {
    const stack = Stack.of(this);
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const tableArns = (names: readonly TableName[]) => {
      const databases = new Set<string>();
      const tables: string[] = [];
      for (const name of names) {
        const database = glueDatabaseName(config, name.split('.')[0] as CatalogLayer);
        databases.add(stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }));
        tables.push(stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${shortNameOf(name)}` }));
      }
      return [catalogArn, ...databases, ...tables];
    };
    const sourceTables = access.catalogReads;
    const ownTables = access.publishes;
    const statements = [
      new PolicyStatement({
        sid: 'PublishOwnPartitions',
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:UpdateTable',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
          'glue:CreatePartition',
          'glue:BatchCreatePartition',
          'glue:UpdatePartition',
          'glue:BatchUpdatePartition',
          'glue:DeletePartition',
          'glue:BatchDeletePartition',
        ],
        resources: tableArns(ownTables),
      }),
    ];
    if (sourceTables.length > 0) {
      statements.push(
        new PolicyStatement({
          sid: 'ReadSourceCatalog',
          actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'],
          resources: tableArns(sourceTables),
        }),
      );
    }
    return statements;
  }
}
