import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { FargatePlatformVersion, PropagatedTagSource } from 'aws-cdk-lib/aws-ecs';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  Chain,
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  type IChainable,
  type INextable,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Parallel,
  StateMachine,
  StateMachineFragment,
  StateMachineType,
  type State,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, EcsFargateLaunchTarget, EcsRunTask, SnsPublish } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { Job } from '../../core/index.ts';
import { QUALITY_JOB, REPORT_SUMMARY_KEY } from '../../core/layout/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { jobGraph } from '../../core/runner/index.ts';
import type { InfraConfig } from '../config.ts';
import { locateLakePrefix } from '../lake-layout.ts';
import { runbookUrl } from '../runbooks.ts';
import { type JobCompute, type PipelineTask, logGroupNames } from './job-compute.ts';
import type { LakeStorage } from './lake-storage.ts';

/** A stage's state name: its position and the layers of its jobs (`Stage 2: silver`). */
export const stageName = (stage: readonly Job[], index: number): string =>
  `Stage ${index + 1}: ${[...new Set(stage.map((job) => job.layer))].join(', ')}`;

/** The state that runs one job. */
export const jobStateName = (job: Job): string => `Run ${job.name}`;

/** The state that runs the quality step (`medallion quality`). */
export const QUALITY_STATE_NAME = 'Run quality checks';

/** One Fargate step of the pipeline: what it runs, and what its failure tells the operator. */
export interface PipelineTaskStepProps {
  readonly config: InfraConfig;
  readonly compute: JobCompute;
  readonly alertTopic: ITopic;
  readonly task: PipelineTask;
  readonly stateName: string;
  /** What failed, in the alert subject and the Fail state's name: a job name, or `quality checks`. */
  readonly subject: string;
  /** Fields of the alert message that say what to look at (`{ job, runs }`, ...). */
  readonly details: Readonly<Record<string, string>>;
  /** The Fail state's error code (`JobFailed`, `QualityCheckFailed`). */
  readonly error: string;
  /** The registry alarm whose runbook the alert and the Fail state link. */
  readonly runbook: string;
  /** The task's time limit before its 15 minutes of grace (default jobTimeoutMinutes; the steps', stepTimeoutMinutes). */
  readonly timeoutMinutes?: number;
}

/**
 * How the state machine tells a failure the CLI reported from a task that stopped without one: the failure's Cause is
 * the ECS task as DescribeTasks shows it, and the CLI exits 1 (a failed run, a quality gate, a failed check, records
 * that do not add up), 2 (a usage error) or 3; a container killed or stopped (out of memory, the task stopped) exits
 * 137 or 143, or has no exit code.
 */
const REPORTED_EXIT_CODES = [1, 2, 3] as const;

/**
 * One Fargate step of the pipeline, run and waited for (RUN_JOB), with its failure handling:
 * - a failure the CLI reported (it exits 1, 2 or 3) is final: the job's transient errors were already retried inside
 *   the run (`--max-retries`, as Glue's MaxRetries), and a failed quality gate or check would only fail again (and
 *   record the same failure again in quality.results, which dynamic rules and anomaly detection read);
 * - a task that could not start (ECS.AmazonECSException) is retried with exponential backoff and jitter;
 * - a task that stopped without the CLI's word (killed for memory, stopped) is run once more after two minutes, when
 *   `jobRetryAttempts` allows it: a run that died before its commit left nothing visible, and the next one recovers it;
 * - when that is over, the failure is published to the alert topic and the execution fails.
 */
export class PipelineTaskStep extends StateMachineFragment {
  readonly startState: State;
  readonly endStates: INextable[];
  /** The first run of the task (its rerun, when there is one, is `${stateName} again`). */
  readonly run: EcsRunTask;

  constructor(scope: Construct, step: PipelineTaskStepProps) {
    super(scope, `${step.stateName} step`);
    const { config } = step;
    this.run = fargateRunTask(this, step, step.stateName);
    const notify = new SnsPublish(this, `Notify ${step.subject} failed`, {
      topic: step.alertTopic,
      subject: `medallion ${config.envName}: ${step.subject} failed`.slice(0, 100),
      message: TaskInput.fromObject({
        pipeline: pipelineStateMachineName(config),
        ...step.details,
        execution: JsonPath.executionId,
        error: JsonPath.stringAt('$.failure.Error'),
        cause: JsonPath.stringAt('$.failure.Cause'),
        runbook: runbookUrl(config, step.runbook),
      }),
      resultPath: JsonPath.DISCARD,
    });
    const failed = notify.next(new Fail(this, `${step.subject} failed`, {
      error: step.error,
      cause: `${step.subject} failed: the alert topic message has the error; next steps: ${runbookUrl(config, step.runbook)}`,
    }));
    this.endStates = [this.run];
    if (config.jobRetryAttempts > 0) {
      const rerun = fargateRunTask(this, step, `${step.stateName} again`);
      rerun.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.failure' });
      // A failure without a Cause (never seen, but a Choice on a missing path fails the execution unannounced) is final.
      const reported = Condition.or(
        Condition.not(Condition.isPresent('$.failure.Cause')),
        ...REPORTED_EXIT_CODES.flatMap((code) => [Condition.stringMatches('$.failure.Cause', `*"ExitCode":${code},*`), Condition.stringMatches('$.failure.Cause', `*"ExitCode":${code}}*`)]),
      );
      const howItEnded = new Choice(this, `Did ${step.subject} fail, or stop`)
        .when(reported, failed)
        .otherwise(new Wait(this, `Wait to run ${step.subject} again`, { time: WaitTime.duration(Duration.minutes(2)) }).next(rerun));
      this.run.addCatch(howItEnded, { errors: ['States.TaskFailed'], resultPath: '$.failure' });
      this.endStates = [this.run, rerun];
    }
    this.run.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.failure' });
    this.startState = this.run;
  }
}

/** Builds a pipeline step in `scope` (see PipelineTaskStep). */
export function pipelineTaskStep(scope: Construct, step: PipelineTaskStepProps): PipelineTaskStep {
  return new PipelineTaskStep(scope, step);
}

/** What a task may run past its own limit before Step Functions stops waiting: image pull, start-up, a hung container. */
export const TASK_GRACE_MINUTES = 15;

/**
 * How long Step Functions waits for a job's task: `--timeout` holds each attempt of the run, and the run makes
 * `jobRetryAttempts` more after a transient failure (a minute apart at most), then the grace.
 */
export const jobTaskMinutes = (config: InfraConfig): number =>
  (config.jobRetryAttempts + 1) * config.jobTimeoutMinutes + config.jobRetryAttempts + TASK_GRACE_MINUTES;

/** The Fargate task of a step, waited for (RUN_JOB); a task that could not start is retried with backoff and jitter. */
function fargateRunTask(scope: Construct, step: { readonly config: InfraConfig; readonly compute: JobCompute; readonly task: PipelineTask; readonly timeoutMinutes?: number }, stateName: string): EcsRunTask {
  const { config, compute, task } = step;
  const run = new EcsRunTask(scope, stateName, {
    stateName,
    integrationPattern: IntegrationPattern.RUN_JOB,
    cluster: compute.cluster,
    taskDefinition: task.taskDefinition,
    launchTarget: new EcsFargateLaunchTarget({ platformVersion: FargatePlatformVersion.LATEST }),
    containerOverrides: [{ containerDefinition: task.container, command: [...task.command] }],
    subnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
    securityGroups: [compute.network.securityGroup],
    assignPublicIp: false,
    propagatedTagSource: PropagatedTagSource.TASK_DEFINITION,
    // The runner's own --timeout ends a job run first; this covers image pull and a hung container.
    taskTimeout: Timeout.duration(Duration.minutes(step.timeoutMinutes === undefined ? jobTaskMinutes(config) : step.timeoutMinutes + TASK_GRACE_MINUTES)),
    resultPath: JsonPath.DISCARD,
  });
  run.addRetry({
    errors: ['ECS.AmazonECSException'],
    interval: Duration.minutes(2),
    backoffRate: 2,
    maxAttempts: Math.max(1, config.jobRetryAttempts),
    maxDelay: Duration.minutes(30),
    jitterStrategy: JitterType.FULL,
  });
  return run;
}

/**
 * The pipeline's quality step, for PipelineOrchestration's `qualityStep`: `medallion quality` as a
 * Fargate task (JobCompute's quality task). A rule with action fail that did not pass exits 1, so the
 * task fails, is retried like a job, and then fails the execution with its alert linking
 * `runbooks/quality-check-failed.md`.
 *
 * @example
 * new PipelineOrchestration(stack, 'Pipeline', { ..., qualityStep: qualityCheckStep({ config, compute, alertTopic }) });
 */
export function qualityCheckStep(options: { config: InfraConfig; compute: JobCompute; alertTopic: ITopic }): (scope: Construct) => IChainable {
  return (scope) =>
    pipelineTaskStep(scope, {
      ...options,
      task: options.compute.qualityTask,
      stateName: QUALITY_STATE_NAME,
      timeoutMinutes: options.config.stepTimeoutMinutes,
      subject: 'quality checks',
      details: { step: QUALITY_JOB, results: 'medallion quality history --failed' },
      error: 'QualityCheckFailed',
      runbook: 'quality-check-failed',
    });
}

/** The state that runs the reconcile step (`medallion reconcile`). */
export const RECONCILE_STATE_NAME = 'Reconcile records';
/** The state that runs the vacuum step (`medallion vacuum`). */
export const VACUUM_STATE_NAME = 'Vacuum old versions';

/**
 * The pipeline's reconcile step, after the quality step: `medallion reconcile` as a Fargate task. Records that do
 * not add up exit 1 (and emit `medallion.reconcile.differences`), so the step fails with its alert linking
 * `runbooks/reconcile-failed.md`.
 */
export function reconcileCheckStep(options: { config: InfraConfig; compute: JobCompute; alertTopic: ITopic }): (scope: Construct) => IChainable {
  const task = options.compute.reconcileTask;
  if (!task) throw new Error('JobCompute has no reconcile task: give it reconciledSources');
  return (scope) =>
    pipelineTaskStep(scope, {
      ...options,
      task,
      stateName: RECONCILE_STATE_NAME,
      timeoutMinutes: options.config.stepTimeoutMinutes,
      subject: 'reconcile',
      details: { step: 'reconcile', differences: 'medallion reconcile --limit 50' },
      error: 'ReconcileFailed',
      runbook: 'reconcile-failed',
    });
}

/**
 * The pipeline's last step: `medallion vacuum`, every night, keeping every table version current in the last
 * `vacuumRetainDays` (time travel and restore reach that far) and removing the files no kept version lists. It
 * emits `medallion.vacuum.filesRemoved` / `bytesRemoved`; a failure fails the execution like a job's.
 */
export function vacuumStep(options: { config: InfraConfig; compute: JobCompute; alertTopic: ITopic }): (scope: Construct) => IChainable {
  return (scope) =>
    pipelineTaskStep(scope, {
      ...options,
      task: options.compute.vacuumTask,
      stateName: VACUUM_STATE_NAME,
      timeoutMinutes: options.config.stepTimeoutMinutes,
      subject: 'vacuum',
      details: { step: 'vacuum', dryRun: `medallion vacuum --retain ${options.config.vacuumRetainDays}d --dry-run` },
      error: 'VacuumFailed',
      runbook: 'pipeline-executions-failed',
    });
}

/** The state that runs the report step (`medallion report`). */
export const REPORT_STATE_NAME = 'Write the operations report';
/** The state that reads the report's summary from the lake. */
export const READ_SUMMARY_STATE_NAME = 'Read the report summary';
/** The state that publishes the report's summary to the warning topic. */
export const PUBLISH_SUMMARY_STATE_NAME = 'Publish the daily summary';

/**
 * The pipeline's last steps: `medallion report` as a Fargate task writes the operations report of the last 14 days
 * to the lake (`reports/medallion-report-<day>.html`) and its summary (`reports/latest-summary.json`); the state
 * machine reads the summary (S3 GetObject, decrypting through S3 only) and publishes it to the warning topic:
 * the daily e-mail or Slack message of runs, counts, failures and where the report is. The task needs no SNS
 * endpoint or grant. A report that cannot be written or sent is published as a warning and the execution still
 * succeeds: the night's data is committed, and `pipeline-no-success` must not fire for a missing e-mail.
 */
export function reportStep(options: { config: InfraConfig; compute: JobCompute; lake: LakeStorage; warningTopic: ITopic }): (scope: Construct) => IChainable {
  const { config, compute, lake, warningTopic } = options;
  return (scope) => {
    const run = fargateRunTask(scope, { config, compute, task: compute.reportTask, timeoutMinutes: config.stepTimeoutMinutes }, REPORT_STATE_NAME);
    const summary = locateLakePrefix(lake.layout, REPORT_SUMMARY_KEY);
    const read = new CallAwsService(scope, READ_SUMMARY_STATE_NAME, {
      service: 's3',
      action: 'getObject',
      iamAction: 's3:GetObject',
      parameters: { Bucket: summary.bucket.bucketName, Key: summary.prefix },
      iamResources: [summary.bucket.arnForObjects(summary.prefix)],
      additionalIamStatements: [
        new PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [lake.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com` } },
        }),
      ],
      resultSelector: { summary: JsonPath.stringToJson(JsonPath.stringAt('$.Body')) },
      resultPath: '$.report',
    });
    const publish = new SnsPublish(scope, PUBLISH_SUMMARY_STATE_NAME, {
      topic: warningTopic,
      subject: JsonPath.stringAt('$.report.summary.subject'),
      message: TaskInput.fromJsonPathAt('$.report.summary.message'),
      resultPath: JsonPath.DISCARD,
    });
    const notify = new SnsPublish(scope, 'Notify report failed', {
      topic: warningTopic,
      subject: `medallion ${config.envName}: the daily report was not sent`.slice(0, 100),
      message: TaskInput.fromObject({
        pipeline: pipelineStateMachineName(config),
        step: 'report',
        execution: JsonPath.executionId,
        error: JsonPath.stringAt('$.failure.Error'),
        cause: JsonPath.stringAt('$.failure.Cause'),
        next: 'the data of the night is committed; rerun `medallion report` to write the report',
      }),
      resultPath: JsonPath.DISCARD,
    });
    const unsent = notify.next(new Succeed(scope, 'Pipeline done, report not sent'));
    for (const state of [run, read, publish]) state.addCatch(unsent, { errors: ['States.ALL'], resultPath: '$.failure' });
    return run.next(read).next(publish);
  };
}

/** `00:15`: when the nightly execution starts (UTC). */
export const startTime = (config: InfraConfig): string =>
  `${String(Math.floor(config.pipelineStartMinute / 60)).padStart(2, '0')}:${String(config.pipelineStartMinute % 60).padStart(2, '0')}`;

/** `medallion-<env>-pipeline`. */
export const pipelineStateMachineName = (config: InfraConfig): string => `medallion-${config.envName}-pipeline`;

export interface PipelineOrchestrationProps {
  readonly config: InfraConfig;
  readonly jobs: readonly Job[];
  readonly compute: JobCompute;
  /** Where a failed job is reported. */
  readonly alertTopic: ITopic;
  readonly alertKey: IKey;
  /** Quality rule sets: a job runs after the writers of the tables its outputs' rules reference. */
  readonly ruleSets?: readonly TableRuleSet[];
  /**
   * The states that run after the last stage of jobs, built in the scope they are handed: the stack passes
   * `qualityCheckStep(...)` (`medallion quality`); without one the pipeline ends after its last stage.
   */
  readonly qualityStep?: (scope: Construct) => IChainable;
  /** The states after the quality step, in order (the stack passes reconcile, then vacuum). */
  readonly afterQuality?: readonly ((scope: Construct) => IChainable)[];
}

/**
 * The nightly pipeline: a Step Functions state machine that runs the jobs stage by stage (bronze jobs
 * in parallel, then silver, then gold), each as an ECS Fargate task it waits for (RUN_JOB), then the
 * quality step when one is given. A failed task is retried with exponential backoff and jitter; when retries run out the failure is published
 * to the alert topic and the execution fails. An EventBridge rule starts it every night at `pipelineStartMinute` past midnight UTC (after Firehose's last buffer); operators
 * can start it any time (`aws stepfunctions start-execution`).
 *
 * @example
 * new PipelineOrchestration(stack, 'Pipeline', { config, jobs: PIPELINE_JOBS, compute, alertTopic, alertKey });
 */
export class PipelineOrchestration extends Construct {
  readonly stateMachine: StateMachine;
  readonly schedule: Rule;
  readonly logGroup: LogGroup;
  readonly stages: readonly (readonly Job[])[];
  /** The run-task state of each job, by job name. */
  readonly jobStates: ReadonlyMap<string, EcsRunTask>;

  constructor(scope: Construct, id: string, props: PipelineOrchestrationProps) {
    super(scope, id);
    const { config, compute, alertTopic } = props;
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const stateMachineName = pipelineStateMachineName(config);

    // Each stage a Parallel of jobs that can run side by side, in the order the runner would run them.
    this.stages = jobGraph(props.jobs, props.ruleSets ?? []).stages;
    const jobStates = new Map<string, EcsRunTask>();
    const runJob = (job: Job): IChainable => {
      const task = compute.tasks.get(job.name);
      if (!task) throw new Error(`JobCompute has no task definition for ${job.name}`);
      const run = pipelineTaskStep(this, {
        config,
        compute,
        alertTopic,
        task,
        stateName: jobStateName(job),
        subject: job.name,
        details: { job: job.name, runs: `medallion runs ${job.name}` },
        error: 'JobFailed',
        runbook: 'pipeline-executions-failed',
      });
      jobStates.set(job.name, run.run);
      return run;
    };

    let definition: Chain | undefined;
    this.stages.forEach((stage, index) => {
      const parallel = new Parallel(this, stageName(stage, index), { resultPath: JsonPath.DISCARD });
      for (const job of stage) parallel.branch(runJob(job));
      definition = definition ? definition.next(parallel) : Chain.start(parallel);
    });
    if (!definition) throw new Error('PipelineOrchestration needs at least one job');
    if (props.qualityStep) definition = definition.next(props.qualityStep(this));
    for (const step of props.afterQuality ?? []) definition = definition.next(step(this));
    // The whole night must fit its execution timeout with every stage and step at its task's limit once.
    const steps = (props.qualityStep ? 1 : 0) + (props.afterQuality?.length ?? 0);
    const budget = this.stages.length * jobTaskMinutes(config) + steps * (config.stepTimeoutMinutes + TASK_GRACE_MINUTES);
    if (config.pipelineTimeoutMinutes < budget) {
      throw new Error(
        `medallion ${config.envName}: pipelineTimeoutMinutes ${config.pipelineTimeoutMinutes} is shorter than the night's own limits: ${this.stages.length} stages x ` +
          `${jobTaskMinutes(config)} (${config.jobRetryAttempts + 1} attempts of jobTimeoutMinutes ${config.jobTimeoutMinutes}, their waits and ${TASK_GRACE_MINUTES} minutes) + ` +
          `${steps} steps x (stepTimeoutMinutes ${config.stepTimeoutMinutes} + ${TASK_GRACE_MINUTES}) = ${budget} minutes; raise pipelineTimeoutMinutes or lower the task limits`,
      );
    }
    this.jobStates = jobStates;

    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: logGroupNames(config).pipeline,
      retention: config.logRetentionDays,
      encryptionKey: compute.state.key,
      removalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: Duration.minutes(config.pipelineTimeoutMinutes),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for the state machine and its ECS tasks: X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* and the CloudWatch Logs vended-log delivery actions have no resource-level permissions; ecs:DescribeTasks/StopTask are granted on "*" by EcsRunTask because task ARNs exist only once a run starts.',
    });
    // Publishing to the encrypted topic needs its key, through SNS only.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        sid: 'PublishToEncryptedAlertTopic',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [props.alertKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );

    this.schedule = new Rule(this, 'NightlySchedule', {
      description: `Starts the medallion ${config.envName} pipeline every night at ${startTime(config)} UTC, once Firehose has delivered the day's last buffer`,
      schedule: Schedule.cron({ minute: String(config.pipelineStartMinute % 60), hour: String(Math.floor(config.pipelineStartMinute / 60)) }),
      enabled: config.pipelineScheduleEnabled,
      targets: [new SfnStateMachine(this.stateMachine, { input: RuleTargetInput.fromObject({ trigger: 'nightly-schedule' }), retryAttempts: 3 })],
    });
  }
}
