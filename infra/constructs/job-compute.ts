import { IgnoreMode, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
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
import { Policy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Job } from '../../core/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { LAKE_FOLDERS, QUALITY_JOB, jobLakeAccess, qualityStepLakeAccess, reconcileLakeAccess, reportLakeAccess, vacuumLakeAccess, type LakeAccess } from '../../core/layout/index.ts';
import { JOB_PARTITIONED_TABLES } from '../../core/table/index.ts';
import type { InfraConfig } from '../config.ts';
import type { LakeLayout, LakeLocation } from '../lake-layout.ts';
import { JobNetwork } from './job-network.ts';
import type { LakeCatalog } from './lake-catalog.ts';
import { LakeState } from './lake-state.ts';
import type { LakeStorage } from './lake-storage.ts';

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
 * lock before Step Functions gives up on the task. `--max-retries` is Glue's MaxRetries: the run retries its own transient
 * failures (Step Functions does not retry what the CLI reported: see PipelineTaskStep). `--duration-baseline-minutes` is the job's configured
 * baseline (jobBaselineMinutes), which its duration is measured against until it has learned its own.
 *
 * @example
 * jobRunCommand(silverTasksJob, 60, 20, 1); // ['run', 'silver.tasks', '--JOB_NAME', 'silver.tasks', '--job-bookmark-option', 'job-bookmark-enable', '--timeout', '60', '--max-retries', '1', '--duration-baseline-minutes', '20']
 */
export function jobRunCommand(job: Job, timeoutMinutes: number, baselineMinutes: number, maxRetries = 0): string[] {
  return [
    'run', job.name, '--JOB_NAME', job.name, '--job-bookmark-option', 'job-bookmark-enable', '--timeout', String(timeoutMinutes),
    '--max-retries', String(maxRetries), '--duration-baseline-minutes', String(Math.max(1, Math.round(baselineMinutes))),
  ];
}

/**
 * The container command of the pipeline's quality step: `medallion quality` over every rule set in the
 * image (quality/rules/), recording the results; it exits 1 when a rule with action fail did not pass,
 * which fails the task and so the step.
 */
export const QUALITY_STEP_COMMAND: readonly string[] = ['quality'];

/** The pipeline's reconcile step: `medallion reconcile`, which exits 1 when records do not add up. */
export const RECONCILE_STEP_COMMAND: readonly string[] = ['reconcile'];

/** The pipeline's vacuum step: `medallion vacuum`, keeping every version current in the last `retainDays`. */
export function vacuumStepCommand(retainDays: number): string[] {
  return ['vacuum', '--retain', `${retainDays}d`];
}

/**
 * The pipeline's report step: `medallion report` for the last 14 days, written to the lake's `reports/` with its
 * summary (`reports/latest-summary.json`, which the state machine then publishes), runbook links to `runbookBaseUrl`.
 */
export function reportStepCommand(runbookBaseUrl: string): string[] {
  return ['report', '--runbook-base-url', runbookBaseUrl];
}

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
  /** The lake's buckets and key: each task is granted its prefixes there (`LakeStorage.grantLakeAccess`). */
  readonly lake: LakeStorage;
  /** The Glue catalog: each task publishes its own tables' partitions (`LakeCatalog.grantTableAccess`). */
  readonly catalog: LakeCatalog;
  /** The folder holding the Dockerfile (the repository root). */
  readonly imageDirectory: string;
  /** The quality rule sets the image carries (`pipelineRuleSets()`): what the gates and the quality step read. */
  readonly ruleSets: readonly TableRuleSet[];
  /** The sources the reconcile step follows from landing to silver (`RECONCILED_SOURCES`); without them, no reconcile task. */
  readonly reconciledSources?: readonly { readonly landingPrefix: string; readonly bronzeTable: string; readonly silverEvents: string }[];
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
 * const compute = new JobCompute(stack, 'Jobs', { config, jobs: PIPELINE_JOBS, lake, catalog, ruleSets, imageDirectory: repoRoot });
 * compute.tasks.get('silver.tasks')?.taskDefinition;
 */
export class JobCompute extends Construct {
  /** The VPC and the tasks' security group. */
  readonly network: JobNetwork;
  /** The state table and the key of the state and the pipeline's logs. */
  readonly state: LakeState;
  readonly cluster: Cluster;
  readonly logGroup: LogGroup;
  readonly image: DockerImageAsset;
  readonly executionRole: Role;
  readonly tasks: ReadonlyMap<string, JobTask>;
  /** The pipeline's quality step: `medallion quality` in the same image and environment. */
  readonly qualityTask: PipelineTask;
  /** The pipeline's reconcile step (`medallion reconcile`), when the stack follows sources. */
  readonly reconcileTask?: PipelineTask;
  /** The pipeline's vacuum step (`medallion vacuum`): lists and deletes under every table's folder. */
  readonly vacuumTask: PipelineTask;
  /** The pipeline's report step (`medallion report`): reads every table, writes only under reports/. */
  readonly reportTask: PipelineTask;
  private readonly lake: LakeStorage;
  private readonly catalog: LakeCatalog;

  constructor(scope: Construct, id: string, props: JobComputeProps) {
    super(scope, id);
    const { config, jobs } = props;
    const stack = Stack.of(this);
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const names = logGroupNames(config);
    this.lake = props.lake;
    this.catalog = props.catalog;
    this.state = new LakeState(this, { config, logGroupNames: Object.values(names), removalPolicy });
    this.network = new JobNetwork(this, { config, flowLogKey: this.state.key, flowLogGroupName: names.vpcFlowLogs, removalPolicy });

    this.cluster = new Cluster(this, 'Cluster', {
      clusterName: `medallion-${config.envName}`,
      vpc: this.network.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.logGroup = new LogGroup(this, 'JobLogs', {
      logGroupName: names.jobs,
      retention: config.logRetentionDays,
      encryptionKey: this.state.key,
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

    const context = { config, environment: this.taskEnvironment(config, this.lake.layout) };
    const tasks = new Map<string, JobTask>();
    for (const job of jobs) {
      const task = this.pipelineTask(new Construct(this, jobConstructId(job)), context, {
        who: job.name,
        family: jobTaskFamily(config, job),
        command: jobRunCommand(job, config.jobTimeoutMinutes, config.jobBaselineMinutes[job.name] ?? config.defaultJobBaselineMinutes, config.jobRetryAttempts),
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
    if (props.reconciledSources) {
      this.reconcileTask = this.pipelineTask(new Construct(this, 'Reconcile'), context, {
        who: 'the reconcile step',
        family: `medallion-${config.envName}-reconcile`,
        command: [...RECONCILE_STEP_COMMAND],
        roleDescription: 'medallion reconcile step: reads landing, the bronze and silver event tables and the quarantine; writes nothing',
        access: reconcileLakeAccess(props.reconciledSources),
      });
    }
    const tables = [...new Set([...jobs.flatMap((job) => job.outputs.map((output) => output.name)), ...JOB_PARTITIONED_TABLES.map((spec) => spec.name)])];
    this.vacuumTask = this.pipelineTask(new Construct(this, 'Vacuum'), context, {
      who: 'the vacuum step',
      family: `medallion-${config.envName}-vacuum`,
      command: vacuumStepCommand(config.vacuumRetainDays),
      roleDescription: "medallion vacuum step: lists every table's folder and deletes the files no kept version lists",
      access: vacuumLakeAccess(tables),
    });
    this.reportTask = this.pipelineTask(new Construct(this, 'Report'), context, {
      who: 'the report step',
      family: `medallion-${config.envName}-report`,
      command: reportStepCommand(config.runbookBaseUrl),
      roleDescription: 'medallion report step: reads every table, writes the operations report and its summary under reports/',
      access: reportLakeAccess(tables),
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
      MEDALLION_STATE_TABLE: this.state.stateTable.tableName,
      MEDALLION_GLUE_DATABASE_PREFIX: config.glueDatabasePrefix,
      MEDALLION_METRICS_NAMESPACE: config.metricsNamespace,
      // A task runs one job, so its DuckDB may take half the task's memory (the rest: Node, the cut workers'
      // buffers, DuckDB beyond its limit); more spills to the task's ephemeral storage (docs/deploy.md, "Sizing").
      MEDALLION_MEMORY_LIMIT: `${Math.floor(config.jobMemoryMiB / 2)}MiB`,
    };
  }

  private pipelineTask(
    scope: Construct,
    context: { config: InfraConfig; environment: Record<string, string> },
    task: { who: string; family: string; command: string[]; roleDescription: string; access: LakeAccess },
  ): PipelineTask {
    const { config } = context;
    const role = new Role(scope, 'TaskRole', {
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
      description: task.roleDescription,
    });
    // The task's own policy: exactly the lake prefixes, state and catalog tables its access names.
    const policy = new Policy(scope, 'TaskPolicy', { roles: [role] });
    this.lake.grantLakeAccess(policy, task.who, task.access);
    this.state.grantReadWrite(policy, task.access);
    this.catalog.grantTableAccess(policy, task.access);

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
}
