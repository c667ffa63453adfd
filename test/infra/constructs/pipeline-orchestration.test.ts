import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { Pass } from 'aws-cdk-lib/aws-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSettings, selectJobs, splitRunTokens } from '../../../cli/commands/run.ts';
import { bufferIo, invoke } from '../../../cli/index.ts';
import { jobGraph } from '../../../core/runner/index.ts';
import {
  ENV_DEFAULTS,
  PUBLISH_SUMMARY_STATE_NAME,
  QUALITY_STATE_NAME,
  READ_SUMMARY_STATE_NAME,
  RECONCILE_STATE_NAME,
  REPORT_STATE_NAME,
  VACUUM_STATE_NAME,
  createMedallionApp,
  jobConstructId,
  jobStateName,
  jobTaskFamily,
  loadInfraConfig,
  pipelineRuleSets,
} from '../../../infra/index.ts';
import { PIPELINE_JOBS } from '../../../jobs/index.ts';
import { ENVS, flatten, resourceByPrefix, tempOutdir, useTemplates } from '../infra-fixtures.ts';

const templates = useTemplates();

type State = Record<string, any>;
interface Definition {
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly States: Record<string, State>;
}

/** The state machine's definition, intrinsics flattened to `<Token>` text, parsed. */
function definitionOf(template: Template): Definition {
  const stateMachine = resourceByPrefix(template, 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').resource;
  return JSON.parse(flatten(stateMachine.Properties!.DefinitionString)) as Definition;
}

/** The top-level states in execution order, following Next from StartAt. */
function topLevelOrder(definition: Definition): string[] {
  const order: string[] = [];
  for (let name: string | undefined = definition.StartAt; name !== undefined; name = definition.States[name]?.Next) order.push(name);
  return order;
}

/** Every state of every branch, by name. */
function allStates(states: Record<string, State>): Record<string, State> {
  const found: Record<string, State> = { ...states };
  for (const state of Object.values(states)) for (const branch of state.Branches ?? []) Object.assign(found, allStates(branch.States));
  return found;
}

/** Whether a Step Functions StringMatches pattern (`*` any run of characters) matches `text`. */
const stringMatches = (pattern: string, text: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's').test(text);

/** Evaluates a Choice rule (Or, And, StringMatches, Not) on an input holding `$.failure.Cause`. */
function choiceMatches(rule: State, cause: string): boolean {
  if (rule.Or) return (rule.Or as State[]).some((inner) => choiceMatches(inner, cause));
  if (rule.And) return (rule.And as State[]).every((inner) => choiceMatches(inner, cause));
  if (rule.Not) return !choiceMatches(rule.Not as State, cause);
  expect(rule.Variable).toBe('$.failure.Cause');
  // Every input here has a Cause.
  if ('IsPresent' in rule) return rule.IsPresent === true;
  return stringMatches(rule.StringMatches as string, cause);
}

/**
 * A step's failure handling: a task that could not start is retried; a failure the CLI reported (exit 1 to 3) goes
 * straight to the alert; a task stopped without its word (exit 137, 143, none) waits and runs once more, whose failure
 * goes to the alert too.
 */
function expectFailureHandling(states: Record<string, State>, stateName: string, subject: string): void {
  const run = states[stateName]!;
  expect(run.Retry).toEqual([expect.objectContaining({ ErrorEquals: ['ECS.AmazonECSException'], BackoffRate: 2, JitterStrategy: 'FULL' })]);
  expect(run.Catch).toEqual([
    { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.failure', Next: `Did ${subject} fail, or stop` },
    { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: `Notify ${subject} failed` },
  ]);
  const choice = states[`Did ${subject} fail, or stop`]!;
  expect(choice.Type).toBe('Choice');
  expect(choice.Choices).toHaveLength(1);
  expect(choice.Choices[0].Next).toBe(`Notify ${subject} failed`);
  expect(choice.Default).toBe(`Wait to run ${subject} again`);
  // The failure's Cause as ECS describes the stopped task.
  const cause = (exitCode?: number) => JSON.stringify({ Containers: [{ ...(exitCode === undefined ? {} : { ExitCode: exitCode }), Name: 'job', LastStatus: 'STOPPED' }], StopCode: 'EssentialContainerExited' });
  for (const code of [1, 2, 3]) expect(choiceMatches(choice.Choices[0], cause(code)), `exit ${code}`).toBe(true);
  expect(choiceMatches(choice.Choices[0], JSON.stringify({ Containers: [{ Name: 'job', ExitCode: 1 }] })), 'exit 1, last field').toBe(true);
  for (const code of [0, 10, 137, 143, undefined]) expect(choiceMatches(choice.Choices[0], cause(code)), `exit ${code}`).toBe(false);
  expect(states[`Wait to run ${subject} again`]).toMatchObject({ Type: 'Wait', Seconds: 120, Next: `${stateName} again` });
  const again = states[`${stateName} again`]!;
  expect(again.Parameters.TaskDefinition).toBe(run.Parameters.TaskDefinition);
  expect(again.Parameters.Overrides).toEqual(run.Parameters.Overrides);
  expect(again.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: `Notify ${subject} failed` }]);
  // Either run, when it succeeds, goes on to the same next state.
  expect(again.Next ?? again.End).toEqual(run.Next ?? run.End);
}

describe.each(ENVS)('pipeline orchestration (%s)', (envName) => {
  const config = loadInfraConfig(envName);
  const template = () => templates()[envName];

  it('runs the stages in order, each a Parallel of its jobs, then the quality, reconcile, vacuum and report steps, and ends there', () => {
    const definition = definitionOf(template());
    const stages = jobGraph(PIPELINE_JOBS, pipelineRuleSets()).stages;
    const order = topLevelOrder(definition);
    expect(order).toEqual([
      ...stages.map((stage, index) => `Stage ${index + 1}: ${stage[0]!.layer}`),
      QUALITY_STATE_NAME, RECONCILE_STATE_NAME, VACUUM_STATE_NAME, REPORT_STATE_NAME, READ_SUMMARY_STATE_NAME, PUBLISH_SUMMARY_STATE_NAME,
    ]);
    order.slice(0, -6).forEach((name, index) => {
      const state = definition.States[name]!;
      expect(state.Type).toBe('Parallel');
      expect(state.Branches.map((branch: Definition) => branch.StartAt).sort()).toEqual(stages[index]!.map(jobStateName).sort());
    });
    expect(definition.States[order.at(-1)!]!.End).toBe(true);
    expect(order.at(-7)).toBe(`Stage ${stages.length}: gold`);
    for (const [state, family, command, runbook] of [
      [RECONCILE_STATE_NAME, 'reconcile', ['reconcile'], 'reconcile-failed'],
      [VACUUM_STATE_NAME, 'vacuum', ['vacuum', '--retain', `${ENV_DEFAULTS[envName].vacuumRetainDays}d`], 'pipeline-executions-failed'],
    ] as const) {
      expect(definition.States[state]).toMatchObject({
        Type: 'Task',
        Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.sync',
        Parameters: { TaskDefinition: `medallion-${envName}-${family}`, Overrides: { ContainerOverrides: [{ Name: 'job', Command: command }] } },
      });
      const notify = allStates(definition.States)[`Notify ${family} failed`]!;
      expect(notify.Parameters.Message.runbook).toBe(`${config.runbookBaseUrl}/runbooks/${runbook}.md`);
    }
    expect(definition.TimeoutSeconds).toBe(ENV_DEFAULTS[envName].pipelineTimeoutMinutes * 60);
  });

  it.each(PIPELINE_JOBS.map((candidate) => [candidate.name, candidate] as const))(
    '%s: a Fargate RUN_JOB step of its task definition; a failure the CLI reported is final, a stopped task runs once more; then the failure is published and the execution failed',
    (_name, pipelineJob) => {
      const states = allStates(definitionOf(template()).States);
      const run = states[jobStateName(pipelineJob)]!;
      const cluster = resourceByPrefix(template(), 'AWS::ECS::Cluster', 'JobsCluster').logicalId;
      const securityGroup = resourceByPrefix(template(), 'AWS::EC2::SecurityGroup', 'JobsTaskSecurityGroup').logicalId;
      expect(run).toMatchObject({
        Type: 'Task',
        Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.sync',
        TimeoutSeconds: ((ENV_DEFAULTS[envName].jobRetryAttempts + 1) * ENV_DEFAULTS[envName].jobTimeoutMinutes + ENV_DEFAULTS[envName].jobRetryAttempts + 15) * 60,
        ResultPath: null,
        Parameters: {
          Cluster: `<${cluster}.Arn>`,
          TaskDefinition: jobTaskFamily(config, pipelineJob),
          LaunchType: 'FARGATE',
          NetworkConfiguration: { AwsvpcConfiguration: { SecurityGroups: [`<${securityGroup}.GroupId>`] } },
        },
      });
      expect(run.Parameters.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp ?? 'DISABLED').toBe('DISABLED');
      expectFailureHandling(states, jobStateName(pipelineJob), pipelineJob.name);

      const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').logicalId;
      const notify = states[`Notify ${pipelineJob.name} failed`]!;
      expect(notify).toMatchObject({
        Resource: 'arn:<AWS::Partition>:states:::sns:publish',
        Parameters: {
          TopicArn: `<${topic}>`,
          Message: { job: pipelineJob.name, 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause', runbook: `${config.runbookBaseUrl}/runbooks/pipeline-executions-failed.md` },
        },
      });
      expect(states[notify.Next]).toMatchObject({ Type: 'Fail', Error: 'JobFailed' });
    },
  );

  it('ends by writing the operations report (`medallion report`) and publishing its summary to the warning topic; a report not sent warns and the execution still succeeds', () => {
    const states = allStates(definitionOf(template()).States);
    const warningTopic = `<${resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsWarningTopic').logicalId}>`;
    const bucket = `<${resourceByPrefix(template(), 'AWS::S3::Bucket', 'LakeQuarantineBucket').logicalId}>`;
    expect(states[REPORT_STATE_NAME]).toMatchObject({
      Type: 'Task',
      Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.sync',
      Next: READ_SUMMARY_STATE_NAME,
      Parameters: { TaskDefinition: `medallion-${envName}-report`, Overrides: { ContainerOverrides: [{ Name: 'job', Command: ['report', '--runbook-base-url', config.runbookBaseUrl] }] } },
    });
    // The summary the report wrote beside it (core/layout REPORT_SUMMARY_KEY), in the operations bucket, parsed.
    expect(states[READ_SUMMARY_STATE_NAME]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::aws-sdk:s3:getObject',
      Parameters: { Bucket: bucket, Key: 'reports/latest-summary.json' },
      ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
      ResultPath: '$.report',
      Next: PUBLISH_SUMMARY_STATE_NAME,
    });
    expect(states[PUBLISH_SUMMARY_STATE_NAME]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::sns:publish',
      Parameters: { TopicArn: warningTopic, 'Subject.$': '$.report.summary.subject', 'Message.$': '$.report.summary.message' },
      End: true,
    });
    for (const name of [REPORT_STATE_NAME, READ_SUMMARY_STATE_NAME, PUBLISH_SUMMARY_STATE_NAME]) {
      expect(states[name]!.Catch, name).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Notify report failed' }]);
    }
    const notify = states['Notify report failed']!;
    expect(notify.Parameters).toMatchObject({ TopicArn: warningTopic, Message: { step: 'report', 'error.$': '$.failure.Error' } });
    expect(states[notify.Next]).toMatchObject({ Type: 'Succeed' });
    // The state machine reads that one object, and decrypts it through S3 only.
    const statements = resourceByPrefix(template(), 'AWS::IAM::Policy', 'PipelineStateMachineRoleDefaultPolicy').resource.Properties!.PolicyDocument.Statement as Record<string, any>[];
    const reads = statements.filter((statement) => [statement.Action].flat().some((action: string) => action.startsWith('s3:')));
    expect(reads.map((statement) => [statement.Action, flatten(statement.Resource)])).toEqual([['s3:GetObject', `<${bucket.slice(1, -1)}.Arn>/reports/latest-summary.json`]]);
    const decrypt = statements.find((statement) => statement.Action === 'kms:Decrypt' && flatten(statement.Condition?.StringEquals?.['kms:ViaService'] ?? '').startsWith('s3.'));
    expect(flatten(decrypt?.Resource)).toBe(`<${resourceByPrefix(template(), 'AWS::KMS::Key', 'LakeKey').logicalId}.Arn>`);
  });

  it('runs `medallion quality` as a Fargate RUN_JOB step, handled like a job\'s, its failure published (linking its runbook) and the execution failed', () => {
    const states = allStates(definitionOf(template()).States);
    const run = states[QUALITY_STATE_NAME]!;
    const cluster = resourceByPrefix(template(), 'AWS::ECS::Cluster', 'JobsCluster').logicalId;
    expect(run).toMatchObject({
      Type: 'Task',
      Resource: 'arn:<AWS::Partition>:states:::ecs:runTask.sync',
      TimeoutSeconds: (ENV_DEFAULTS[envName].stepTimeoutMinutes + 15) * 60,
      ResultPath: null,
      Next: RECONCILE_STATE_NAME,
      Parameters: {
        Cluster: `<${cluster}.Arn>`,
        TaskDefinition: `medallion-${envName}-quality`,
        LaunchType: 'FARGATE',
        Overrides: { ContainerOverrides: [{ Name: 'job', Command: ['quality'] }] },
      },
    });
    const definition = resourceByPrefix(template(), 'AWS::ECS::TaskDefinition', 'JobsQualityTaskDefinition');
    expect(definition.resource.Properties!.ContainerDefinitions[0].Command).toEqual(['quality']);
    // A failing fail rule exits 1: final, never run again (it would record the same failure again).
    expectFailureHandling(states, QUALITY_STATE_NAME, 'quality checks');
    const topic = resourceByPrefix(template(), 'AWS::SNS::Topic', 'AlertsTopic').logicalId;
    const notify = states['Notify quality checks failed']!;
    expect(notify).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::sns:publish',
      Parameters: {
        TopicArn: `<${topic}>`,
        Message: { step: 'quality', 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause', runbook: `${config.runbookBaseUrl}/runbooks/quality-check-failed.md` },
      },
    });
    expect(states[notify.Next]).toMatchObject({ Type: 'Fail', Error: 'QualityCheckFailed' });
    expect(states[notify.Next]!.Cause).toContain('runbooks/quality-check-failed.md');
  });

  it.each(PIPELINE_JOBS.map((candidate) => [candidate.name, candidate] as const))(
    '%s: the container command of its step is what its task definition runs and what `medallion run` accepts',
    (_name, pipelineJob) => {
      const run = allStates(definitionOf(template()).States)[jobStateName(pipelineJob)]!;
      const [override, ...more] = run.Parameters.Overrides.ContainerOverrides as { Name: string; Command: string[] }[];
      expect(more).toEqual([]);
      expect(override!.Name).toBe('job');
      const definition = resourceByPrefix(template(), 'AWS::ECS::TaskDefinition', `Jobs${jobConstructId(pipelineJob)}TaskDefinition`);
      expect(definition.resource.Properties!.ContainerDefinitions[0].Command).toEqual(override!.Command);

      // Parsed as the CLI parses it: `run`, then job names and Glue-style arguments.
      const [command, ...tokens] = override!.Command;
      expect(command).toBe('run');
      const line = splitRunTokens(tokens);
      expect(line).toMatchObject({ jobNames: [pipelineJob.name], all: false, wait: false });
      const selected = selectJobs(line.jobNames, line.all, PIPELINE_JOBS);
      expect(selected.map((candidate) => candidate.name)).toEqual([pipelineJob.name]);
      const settings = runSettings(line, selected).get(selected[0]!)!;
      expect(settings.bookmark).toEqual({ option: 'job-bookmark-enable' });
      expect(settings.timeoutMinutes).toBe(ENV_DEFAULTS[envName].jobTimeoutMinutes);
      // The run retries its own transient failures (Glue's MaxRetries); Step Functions never retries what the CLI reported.
      expect(settings.maxRetries).toBe(ENV_DEFAULTS[envName].jobRetryAttempts);
    },
  );

  it('logs every event, with execution data, to its encrypted log group, and traces with X-Ray', () => {
    const properties = resourceByPrefix(template(), 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').resource.Properties!;
    const logGroup = resourceByPrefix(template(), 'AWS::Logs::LogGroup', 'PipelineLogs').logicalId;
    expect(properties).toMatchObject({
      StateMachineName: `medallion-${envName}-pipeline`,
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroup, 'Arn'] } } }] },
    });
  });

  it('is started by an EventBridge rule every night once Firehose has delivered the day\'s last buffer', () => {
    const stateMachine = resourceByPrefix(template(), 'AWS::StepFunctions::StateMachine', 'PipelineStateMachine').logicalId;
    const rule = resourceByPrefix(template(), 'AWS::Events::Rule', 'PipelineNightlySchedule').resource.Properties!;
    const start = ENV_DEFAULTS[envName].pipelineStartMinute;
    expect(rule).toMatchObject({ ScheduleExpression: `cron(${start % 60} ${Math.floor(start / 60)} * * ? *)`, State: 'ENABLED' });
    // Firehose's buffering interval and 5 minutes have passed since midnight.
    expect(start * 60).toBeGreaterThanOrEqual(ENV_DEFAULTS[envName].firehoseBufferingIntervalSeconds + 300);
    expect(rule.Targets).toEqual([expect.objectContaining({ Arn: { Ref: stateMachine }, RetryPolicy: { MaximumRetryAttempts: 3 } })]);
  });

  it('has an execution timeout that holds every stage and step at its task\'s limit, and steps limited by stepTimeoutMinutes', () => {
    const definition = definitionOf(template());
    const stages = jobGraph(PIPELINE_JOBS, pipelineRuleSets()).stages.length;
    const defaults = ENV_DEFAULTS[envName];
    // A job's task holds every attempt of its run (--max-retries), the waits between them and 15 minutes of grace.
    const jobTask = (defaults.jobRetryAttempts + 1) * defaults.jobTimeoutMinutes + defaults.jobRetryAttempts + 15;
    expect(allStates(definition.States)[jobStateName(PIPELINE_JOBS[0]!)]!.TimeoutSeconds).toBe(jobTask * 60);
    const budget = stages * jobTask + 4 * (defaults.stepTimeoutMinutes + 15);
    expect(definition.TimeoutSeconds! / 60).toBeGreaterThanOrEqual(budget);
    const states = allStates(definition.States);
    for (const step of [QUALITY_STATE_NAME, RECONCILE_STATE_NAME, VACUUM_STATE_NAME, REPORT_STATE_NAME]) expect(states[step]!.TimeoutSeconds, step).toBe((ENV_DEFAULTS[envName].stepTimeoutMinutes + 15) * 60);
  });

  it('may run each job task definition revision and the quality step\'s, and pass only the roles of those tasks', () => {
    const statements = resourceByPrefix(template(), 'AWS::IAM::Policy', 'PipelineStateMachineRoleDefaultPolicy').resource.Properties!.PolicyDocument.Statement as Record<string, any>[];
    const runTask = statements.filter((statement) => statement.Action === 'ecs:RunTask').flatMap((statement) => [statement.Resource].flat().map(flatten));
    const definitions = Object.keys(template().findResources('AWS::ECS::TaskDefinition')).map((logicalId) => `<${logicalId}>`);
    expect(definitions).toContain(`<${resourceByPrefix(template(), 'AWS::ECS::TaskDefinition', 'JobsQualityTaskDefinition').logicalId}>`);
    expect(runTask.sort()).toEqual(definitions.sort());
    const passed = new Set(statements.filter((statement) => statement.Action === 'iam:PassRole').flatMap((statement) => statement.Resource.map(flatten)));
    const roles = Object.keys(template().findResources('AWS::IAM::Role'))
      .filter((logicalId) => /^Jobs.*(TaskRole|ExecutionRole)/.test(logicalId))
      .map((logicalId) => `<${logicalId}.Arn>`);
    expect([...passed].sort()).toEqual(roles.sort());
  });
});

describe('pipeline orchestration extension point', () => {
  it('runs the quality step it is given (in place of `medallion quality`) after the last stage of jobs', () => {
    const built = createMedallionApp({
      envNames: ['dev'],
      outdir: tempOutdir(),
      nagChecks: false,
      builtinCloudFormationValidation: false,
      qualityStep: (scope) => new Pass(scope, 'Quality checks'),
    });
    const stack = built.stacks.dev!;
    const definition = definitionOf(Template.fromStack(stack));
    const order = topLevelOrder(definition);
    expect(order.slice(-6, -3)).toEqual(['Quality checks', RECONCILE_STATE_NAME, VACUUM_STATE_NAME]);
    expect(order.at(-7)).toBe(`Stage ${jobGraph(PIPELINE_JOBS, pipelineRuleSets()).stages.length}: gold`);
    expect(definition.States['Quality checks']).toMatchObject({ Type: 'Pass', Next: RECONCILE_STATE_NAME });
  });
});

describe('pipeline commands on a lake', () => {
  // What each task does in its container, run here on a folder lake in stage order: the command is
  // accepted and every job succeeds (in AWS the lake is S3, through the same CLI).
  let lake: string;
  beforeAll(async () => {
    lake = await mkdtemp(path.join(os.tmpdir(), 'medallion-pipeline-commands-'));
    const io = bufferIo();
    expect(await invoke(['generate', '--days', '2', '--users', '8', '--tasks-per-day', '15', '--seed', '11'], { io, env: { MEDALLION_LAKE: lake } }), io.stderr()).toBe(0);
  });
  afterAll(async () => {
    await rm(lake, { recursive: true, force: true });
  });

  it('runs every stage of the synthesized state machine, job by job, with the commands it passes', async () => {
    const states = allStates(definitionOf(templates().dev).States);
    for (const stage of jobGraph(PIPELINE_JOBS, pipelineRuleSets()).stages) {
      for (const pipelineJob of stage) {
        const command = states[jobStateName(pipelineJob)]!.Parameters.Overrides.ContainerOverrides[0].Command as string[];
        const io = bufferIo();
        const code = await invoke(command, { io, env: { MEDALLION_LAKE: lake } });
        expect(code, `${command.join(' ')}: ${io.stderr()}`).toBe(0);
        expect(io.stdout()).toMatch(new RegExp(`^${pipelineJob.name.replace('.', '\\.')} SUCCEEDED`));
      }
    }
  });

  it('then runs the quality step with the command the state machine passes: every fail rule passes, and the results are recorded', async () => {
    const command = allStates(definitionOf(templates().dev).States)[QUALITY_STATE_NAME]!.Parameters.Overrides.ContainerOverrides[0].Command as string[];
    const io = bufferIo();
    const code = await invoke(command, { io, env: { MEDALLION_LAKE: lake } });
    expect(code, `${command.join(' ')}: ${io.stderr()}`).toBe(0);
    expect(io.stderr()).toMatch(/rules passed.*recorded in quality\.results/);
  });

  it('then the reconcile and vacuum steps, with the commands the state machine passes: everything adds up, nothing kept is removed', async () => {
    const states = allStates(definitionOf(templates().dev).States);
    const commandOf = (state: string) => states[state]!.Parameters.Overrides.ContainerOverrides[0].Command as string[];
    const reconcile = bufferIo();
    expect(await invoke(commandOf(RECONCILE_STATE_NAME), { io: reconcile, env: { MEDALLION_LAKE: lake } }), reconcile.stderr()).toBe(0);
    expect(reconcile.stderr()).toContain('every landing record is accounted for exactly once');
    const vacuum = bufferIo();
    expect(await invoke(commandOf(VACUUM_STATE_NAME), { io: vacuum, env: { MEDALLION_LAKE: lake } }), vacuum.stderr()).toBe(0);
    expect(vacuum.stdout()).toMatch(/^removed 0 files/);
    const query = bufferIo();
    expect(await invoke(['query', 'SELECT count(*) AS n FROM gold.daily_task_kpis', '--format', 'json'], { io: query, env: { MEDALLION_LAKE: lake } }), query.stderr()).toBe(0);
  });
});
