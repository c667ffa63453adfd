import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PIPELINE_TABLES } from '../jobs/index.ts';
import { ENV_NAMES, loadInfraConfig, type EnvName } from './config.ts';
import { MedallionStack } from './stacks/medallion-stack.ts';

/**
 * Feature flags set here rather than only in cdk.json, so tests build exactly what `cdk synth` builds.
 * The access-log bucket grants S3 log delivery through its bucket policy instead of the legacy
 * LogDeliveryWrite ACL, which would need ACLs enabled (ObjectWriter ownership) on that bucket.
 */
const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export interface MedallionAppOptions extends AppProps {
  /** Which environments to build; defaults to the `env` context value, or every environment. */
  readonly envNames?: readonly EnvName[];
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
  const { envNames, ...appProps } = options;
  const app = new App({ ...appProps, context: { ...FEATURE_FLAGS, ...appProps.context } });
  const selected = envNames ?? selectedEnvNames(app.node.tryGetContext('env'));
  const overrides = (app.node.tryGetContext('medallion') ?? {}) as Record<string, Record<string, unknown> | undefined>;

  const stacks: Partial<Record<EnvName, MedallionStack>> = {};
  for (const envName of selected) {
    const config = loadInfraConfig(envName, overrides[envName] ?? {});
    const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
    stacks[envName] = new MedallionStack(app, `medallion-${envName}`, {
      config,
      tables: PIPELINE_TABLES,
      ...(env ? { env } : {}),
      description: `medallion data lake (${envName}): source tables, change streams, ingestion, lake storage, catalog and Athena workgroup`,
      terminationProtection: envName === 'prod',
    });
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stacks };
}

function selectedEnvNames(contextValue: unknown): readonly EnvName[] {
  if (contextValue === undefined) return ENV_NAMES;
  const names = String(contextValue).split(',').map((name) => name.trim());
  for (const name of names) loadInfraConfig(name); // throws a ConfigError naming the bad env
  return names as EnvName[];
}
