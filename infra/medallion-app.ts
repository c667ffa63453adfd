import { join } from 'node:path';
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import type { IChainable } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../jobs/index.ts';
import { RECONCILED_SOURCES } from '../jobs/reconcile.ts';
import { ENV_NAMES, loadInfraConfig, type EnvName } from './config.ts';
import { FEATURE_FLAGS } from './feature-flags.ts';
import { pipelineRuleSets } from './quality-rules.ts';
import { MedallionStack } from './stacks/medallion-stack.ts';

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
