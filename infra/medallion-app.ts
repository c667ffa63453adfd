import { createRequire } from 'node:module';
import { join } from 'node:path';
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import type { IChainable } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../jobs/index.ts';
import { RECONCILED_SOURCES } from '../jobs/reconcile.ts';
import { ENV_NAMES, loadInfraConfig, type EnvName } from './config.ts';
import { pipelineRuleSets } from './quality-rules.ts';
import { MedallionStack } from './stacks/medallion-stack.ts';

/**
 * Feature flags: every flag aws-cdk-lib recommends for a new app (its `recommended-feature-flags.json`, what
 * `cdk init` writes into cdk.json), set here rather than in cdk.json, so tests build exactly what `cdk synth`
 * builds and an upgrade of aws-cdk-lib brings its new recommendations with it (the tests then show what they
 * change). Among them: the access-log bucket grants S3 log delivery through its bucket policy, not the legacy
 * LogDeliveryWrite ACL; the state machine may run each job's task definition revision, not any revision of its
 * family. One is turned off on purpose: `restrictDefaultSecurityGroup` strips the VPC's default security group
 * through a Lambda-backed custom resource, and this stack runs no Lambda (nothing uses that group: every task and
 * endpoint has its own, docs/deploy.md says how to strip it by hand).
 */
const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  ...(createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<string, unknown>),
  '@aws-cdk/aws-ec2:restrictDefaultSecurityGroup': false,
};

/** The repository root: the jobs' image is built from its Dockerfile. */
export const REPO_ROOT = join(import.meta.dirname, '..');

export interface MedallionAppOptions extends AppProps {
  /** Which environments to build; defaults to the `env` context value, or every environment. */
  readonly envNames?: readonly EnvName[];
  /**
   * Whether synthesis runs cdk-nag's AwsSolutions pack as a validation plugin (default true, as `cdk synth`
   * does). Tests that only read templates turn it off; the stack test runs the pack itself.
   */
  readonly nagChecks?: boolean;
  /** Replaces the quality step each stack's pipeline runs after its last job stage (by default `medallion quality`; see PipelineOrchestration). */
  readonly qualityStep?: (scope: Construct) => IChainable;
}

export interface MedallionApp {
  readonly app: App;
  readonly stacks: Readonly<Partial<Record<EnvName, MedallionStack>>>;
}

/**
 * Builds the CDK app: one `medallion-<env>` stack per environment, checked by cdk-nag's
 * AwsSolutions pack when synthesized. Per-environment overrides come from the `medallion`
 * context key (`{ "prod": { "firehoseBufferingIntervalSeconds": 120 } }`); `-c env=dev` picks one.
 *
 * @example
 * const { app } = createMedallionApp();
 * app.synth();
 */
export function createMedallionApp(options: MedallionAppOptions = {}): MedallionApp {
  const { envNames, nagChecks = true, qualityStep, ...appProps } = options;
  const app = new App({ ...appProps, context: { ...FEATURE_FLAGS, ...appProps.context } });
  const selected = envNames ?? selectedEnvNames(app.node.tryGetContext('env'));
  const overrides = (app.node.tryGetContext('medallion') ?? {}) as Record<string, Record<string, unknown> | undefined>;

  const ruleSets = pipelineRuleSets();
  const stacks: Partial<Record<EnvName, MedallionStack>> = {};
  for (const envName of selected) {
    const config = loadInfraConfig(envName, overrides[envName] ?? {});
    const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
    stacks[envName] = new MedallionStack(app, `medallion-${envName}`, {
      config,
      tables: PIPELINE_TABLES,
      jobs: PIPELINE_JOBS,
      ruleSets,
      reconciledSources: RECONCILED_SOURCES,
      imageDirectory: REPO_ROOT,
      ...(qualityStep ? { qualityStep } : {}),
      ...(env ? { env } : {}),
      description: `medallion data lake (${envName}): source tables, change streams, ingestion, lake storage, catalog, Athena workgroup, job compute, nightly pipeline and alarms`,
      terminationProtection: envName === 'prod',
    });
  }
  if (nagChecks) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stacks };
}

function selectedEnvNames(contextValue: unknown): readonly EnvName[] {
  if (contextValue === undefined) return ENV_NAMES;
  const names = String(contextValue).split(',').map((name) => name.trim());
  for (const name of names) loadInfraConfig(name); // throws a ConfigError naming the bad env
  return names as EnvName[];
}
