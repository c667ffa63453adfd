import { z } from 'zod';

/** The environments the app deploys; each becomes one stack (`medallion-dev`, `medallion-prod`). */
export const ENV_NAMES = ['dev', 'prod'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

const days = (max: number) => z.int().min(1).max(max);

/**
 * Settings for one environment. Every field has a default per environment (see `ENV_DEFAULTS`);
 * `loadInfraConfig` merges overrides over them and validates the result once.
 */
export const InfraConfigSchema = z
  .object({
    envName: z.enum(ENV_NAMES),
    /** Optional pinned account; when absent the stack is environment-agnostic and synthesizes offline. */
    account: z.string().regex(/^\d{12}$/, 'account must be 12 digits').optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region must look like eu-west-1').optional(),
    /** Firehose flushes a landing object when either limit is reached (Firehose allows 0-900 s, 1-128 MiB). */
    firehoseBufferingIntervalSeconds: z.int().min(0).max(900),
    firehoseBufferingSizeMiB: z.int().min(1).max(128),
    /** Kinesis Data Streams retention (24 h to 365 days). */
    kinesisRetentionHours: z.int().min(24).max(8760),
    /** CloudWatch Logs retention for Firehose delivery logs. */
    logRetentionDays: days(3653),
    /** Old object versions are removed this long after they stop being current. */
    noncurrentVersionExpirationDays: days(3650),
    /** Athena query results are scratch data: they expire. */
    athenaResultsExpirationDays: days(3650),
    /** Server access logs expire after this many days. */
    accessLogExpirationDays: days(3650),
    /** Per-query cutoff for the Athena workgroup (Athena's minimum is 10 MB). */
    athenaBytesScannedCutoffPerQuery: z.int().min(10_000_000),
    /** Prepended to each layer's Glue database name; prod's is empty so analysts write `gold.daily_task_kpis`. */
    glueDatabasePrefix: z.string().regex(/^([a-z][a-z0-9_]*_)?$/, 'glueDatabasePrefix must be empty or snake_case ending in "_"'),
  })
  .strict();

export type InfraConfig = z.infer<typeof InfraConfigSchema>;
export type InfraConfigOverrides = Partial<Omit<InfraConfig, 'envName'>>;

export const ENV_DEFAULTS: Readonly<Record<EnvName, Omit<InfraConfig, 'envName'>>> = {
  dev: {
    firehoseBufferingIntervalSeconds: 60,
    firehoseBufferingSizeMiB: 5,
    kinesisRetentionHours: 24,
    logRetentionDays: 14,
    noncurrentVersionExpirationDays: 7,
    athenaResultsExpirationDays: 7,
    accessLogExpirationDays: 30,
    athenaBytesScannedCutoffPerQuery: 1_000_000_000,
    glueDatabasePrefix: 'dev_',
  },
  prod: {
    firehoseBufferingIntervalSeconds: 300,
    firehoseBufferingSizeMiB: 64,
    kinesisRetentionHours: 168,
    logRetentionDays: 365,
    noncurrentVersionExpirationDays: 90,
    athenaResultsExpirationDays: 30,
    accessLogExpirationDays: 2555,
    athenaBytesScannedCutoffPerQuery: 100_000_000_000,
    glueDatabasePrefix: '',
  },
};

/** A configuration that failed validation; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  readonly code = 'INFRA_CONFIG_INVALID';
  constructor(
    readonly envName: string,
    readonly problems: string,
  ) {
    super(`infra config for environment "${envName}" is invalid:\n${problems}\nFix the values in infra/config.ts or the -c overrides passed to cdk.`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds and validates one environment's configuration.
 *
 * @example
 * const config = loadInfraConfig('prod', { firehoseBufferingIntervalSeconds: 120 });
 */
export function loadInfraConfig(envName: string, overrides: Readonly<Record<string, unknown>> = {}): InfraConfig {
  const envResult = z.enum(ENV_NAMES).safeParse(envName);
  const defaults = envResult.success ? ENV_DEFAULTS[envResult.data] : {};
  const result = InfraConfigSchema.safeParse({ ...defaults, ...overrides, envName });
  if (!result.success) throw new ConfigError(envName, z.prettifyError(result.error));
  return result.data;
}
