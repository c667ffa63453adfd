import { z } from 'zod';

/** The environments the app deploys; each becomes one stack (`medallion-dev`, `medallion-prod`). */
export const ENV_NAMES = ['dev', 'prod'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

const days = (max: number) => z.int().min(1).max(max);

/** The retention periods CloudWatch Logs offers, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Fargate's CPU sizes (units of 1/1024 vCPU) and the memory sizes each allows. */
export const FARGATE_CPU_UNITS = [256, 512, 1024, 2048, 4096, 8192, 16384] as const;
const steps = (minMiB: number, maxMiB: number, stepMiB: number) => (memoryMiB: number) =>
  memoryMiB >= minMiB && memoryMiB <= maxMiB && (memoryMiB - minMiB) % stepMiB === 0;
const FARGATE_MEMORY_MIB: Readonly<Record<number, (memoryMiB: number) => boolean>> = {
  256: (memoryMiB) => [512, 1024, 2048].includes(memoryMiB),
  512: steps(1024, 4096, 1024),
  1024: steps(2048, 8192, 1024),
  2048: steps(4096, 16_384, 1024),
  4096: steps(8192, 30_720, 1024),
  8192: steps(16_384, 61_440, 4096),
  16384: steps(32_768, 122_880, 8192),
};

/** The fields of one environment's settings (see InfraConfigSchema). */
const CONFIG_SHAPE = {
  envName: z.enum(ENV_NAMES),
  /** Optional pinned account; when absent the stack is environment-agnostic and synthesizes offline. */
  account: z.string().regex(/^\d{12}$/, 'account must be 12 digits').optional(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region must look like eu-west-1').optional(),
  /** Firehose flushes a landing object when either limit is reached (Firehose allows 0-900 s, 1-128 MiB). */
  firehoseBufferingIntervalSeconds: z.int().min(0).max(900),
  firehoseBufferingSizeMiB: z.int().min(1).max(128),
  /** Kinesis Data Streams retention (24 h to 365 days). */
  kinesisRetentionHours: z.int().min(24).max(8760),
  /** CloudWatch Logs retention for the Firehose, job, pipeline and VPC flow logs (a period CloudWatch Logs offers). */
  logRetentionDays: z.union(LOG_RETENTION_DAYS.map((value) => z.literal(value))),
  /** Old object versions are removed this long after they stop being current. */
  noncurrentVersionExpirationDays: days(3650),
  /** Athena query results are scratch data: they expire. */
  athenaResultsExpirationDays: days(3650),
  /** Server access logs expire after this many days. */
  accessLogExpirationDays: days(3650),
  /** Per-query cutoff for the Athena workgroup (Athena's minimum is 10 MB). */
  athenaBytesScannedCutoffPerQuery: z.int().min(10_000_000),
  /** Prepended to each layer's Glue database name; prod's is empty so analysts write `gold.daily_task_kpis`. */
  glueDatabasePrefix: z.string().regex(/^[a-z][a-z0-9_]*[a-z0-9]$/, 'glueDatabasePrefix must be snake_case (databases are <prefix>_<layer>, as medallion athena ddl and the jobs name them)'),

  /** The jobs' VPC: private isolated subnets in this many zones (an environment-agnostic stack can pick at most 2). */
  vpcMaxAzs: z.int().min(1).max(2),
  vpcCidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'vpcCidr must be an IPv4 CIDR from /16 to /24'),
  /** Fargate size of one job task; `jobMemoryMiB` must be a size Fargate offers for `jobCpu` (checked below). */
  jobCpu: z.union(FARGATE_CPU_UNITS.map((units) => z.literal(units))),
  jobMemoryMiB: z.int().min(512).max(122_880),
  /** Disk for DuckDB spill files and staged outputs (Fargate: 21-200 GiB). */
  jobEphemeralStorageGiB: z.int().min(21).max(200),
  /** The state machine stops waiting for one job run after this long (the task is stopped). */
  jobTimeoutMinutes: z.int().min(5).max(1440),
  /**
   * A job run retries its transient failures this many times itself (Glue's MaxRetries, `--max-retries`); Step
   * Functions retries a task that could not start as many times, and runs a task that stopped without the CLI's
   * word (killed) once more when this is above 0. A failure the CLI reported (a quality gate, a failed check) is final.
   */
  jobRetryAttempts: z.int().min(0).max(5),
  /** The quality, reconcile, vacuum and report steps' task time limit (a job's is jobTimeoutMinutes). */
  stepTimeoutMinutes: z.int().min(5).max(1440),
  /**
   * The whole nightly execution times out after this long (ExecutionsTimedOut alarm): at least every stage and step
   * reaching its task's time limit once (synthesis checks it, PipelineOrchestration), and less than a day, so a
   * night's execution is over before the next one starts.
   */
  pipelineTimeoutMinutes: z.int().min(10).max(10_080),
  /**
   * Minutes after midnight UTC the nightly execution starts: after Firehose has delivered the day's last buffer
   * (firehoseBufferingIntervalSeconds) with a margin of 5 minutes, so yesterday's last records are in when bronze reads.
   */
  pipelineStartMinute: z.int().min(0).max(720),
  /**
   * The environment's monthly AWS Budgets cost budget in US dollars, over the resources tagged `project=medallion` and
   * its `environment` (activate both as cost allocation tags in Billing); 0 builds none.
   */
  monthlyBudgetUsd: z.number().min(0).max(1_000_000),
  /** The warning topic hears when actual or forecast spend passes this share of the budget, in percent. */
  budgetAlertPercent: z.int().min(1).max(1000),
  /** The layers the analyst role reads through Athena (default gold); a layer holding direct personal data needs analystPersonalData. */
  analystLayers: z.array(z.enum(['silver', 'gold'])).min(1),
  /** Whether analysts may read a layer with direct personal data (silver.users' e-mail and name): a decision, not a default. */
  analystPersonalData: z.boolean(),
  /**
   * Whether the stack sets the account's Glue Data Catalog encryption (metadata and connection passwords, with a
   * key of its own). The setting is one per account and region: turn it on in one stack of an account only (prod),
   * and not where another stack or an administrator owns it.
   */
  catalogEncryption: z.boolean(),
  /** Whether the nightly schedule is on; the state machine can always be started on demand. */
  pipelineScheduleEnabled: z.boolean(),

  /** Alarm descriptions link `<runbookBaseUrl>/runbooks/<alarm-id>.md`: the repository at the deployed revision. */
  runbookBaseUrl: z.string().regex(/^https:\/\/\S+[^/\s]$/, 'runbookBaseUrl must be an https URL without a trailing slash'),
  /** CloudWatch namespace the job runner publishes its metrics in (EMF). */
  metricsNamespace: z.string().regex(/^(?!AWS\/)[A-Za-z0-9._/#:-]{1,255}$/, 'metricsNamespace must be 1-255 of [A-Za-z0-9._/#:-] and not start with "AWS/"'),
  /** A job's usual run time; its duration alarm fires above 120% of it. Jobs not listed use the default. */
  defaultJobBaselineMinutes: z.number().positive().max(1440),
  jobBaselineMinutes: z.record(z.string().regex(/^(bronze|silver|gold)\.[a-z][a-z0-9_]*$/, 'keys must be job names'), z.number().positive().max(1440)),
  /** Landing data older than this in a delivery stream raises the freshness alarm. */
  firehoseFreshnessAlarmSeconds: z.int().min(60).max(86_400),
  /** A change stream's oldest unread record older than this raises the iterator-age alarm. */
  kinesisIteratorAgeAlarmMinutes: z.int().min(1).max(10_080),
  /** Addresses subscribed to the critical and the warning alert topics (each must confirm the subscription). */
  alertEmails: z.array(z.email()),
  /** Addresses subscribed to the warning topic only (working-hours alarms). */
  warningEmails: z.array(z.email()),
  /** An AWS Chatbot Slack channel both alert topics post to (the workspace must be authorized in the Chatbot console first). */
  slackChannel: z.object({ workspaceId: z.string().regex(/^[A-Z0-9]{9,11}$/, 'a Slack workspace id, e.g. T0123ABCD'), channelId: z.string().regex(/^[A-Z0-9]{9,11}$/, 'a Slack channel id, e.g. C0123ABCD') }).optional(),
  /** An AWS Backup plan for the state table and the lake buckets (runbooks/disaster-recovery.md); PITR is on regardless. */
  backupEnabled: z.boolean(),
  /** How long the backup plan keeps a recovery point (continuous backups reach back at most 35 days). */
  backupRetentionDays: days(36_500),
  /** The nightly vacuum keeps every table version current in this many days (time travel and restore reach that far). */
  vacuumRetainDays: days(3650),
};

/** Runs a cross-field check only when the fields it reads are valid on their own, so every problem is reported at once. */
const whenValid = (keys: readonly (keyof typeof CONFIG_SHAPE)[]) => {
  const fields = z.object(Object.fromEntries(keys.map((key) => [key, CONFIG_SHAPE[key]])));
  return (payload: { value: unknown }) => fields.safeParse(payload.value).success;
};
type Fields = { [K in keyof typeof CONFIG_SHAPE]: z.infer<(typeof CONFIG_SHAPE)[K]> };

/** A day, in minutes. */
const MINUTES_PER_DAY = 1440;
/** How long before the next night's start an execution must be over, at the latest. */
const NIGHTS_APART_MINUTES = 30;
/** What the nightly start leaves after Firehose's buffering interval, for a delivery's retries. */
const FIREHOSE_MARGIN_SECONDS = 300;

/**
 * Settings for one environment. Every field has a default per environment (see `ENV_DEFAULTS`);
 * `loadInfraConfig` merges overrides over them and validates the result once.
 */
export const InfraConfigSchema = z
  .object(CONFIG_SHAPE)
  .strict()
  .refine((config) => FARGATE_MEMORY_MIB[config.jobCpu]?.(config.jobMemoryMiB) ?? false, {
    path: ['jobMemoryMiB'],
    error: (issue) => {
      const config = issue.input as Fields;
      return `Fargate has no ${config.jobMemoryMiB} MiB size for ${config.jobCpu} CPU units`;
    },
    when: whenValid(['jobCpu', 'jobMemoryMiB']),
  })
  .refine((config) => config.firehoseFreshnessAlarmSeconds > config.firehoseBufferingIntervalSeconds, {
    path: ['firehoseFreshnessAlarmSeconds'],
    error: (issue) =>
      `must exceed firehoseBufferingIntervalSeconds (${(issue.input as Fields).firehoseBufferingIntervalSeconds}), or every buffered batch would alarm`,
    when: whenValid(['firehoseFreshnessAlarmSeconds', 'firehoseBufferingIntervalSeconds']),
  })
  .refine((config) => config.pipelineTimeoutMinutes >= config.jobTimeoutMinutes, {
    path: ['pipelineTimeoutMinutes'],
    error: (issue) => `must be at least jobTimeoutMinutes (${(issue.input as Fields).jobTimeoutMinutes})`,
    when: whenValid(['pipelineTimeoutMinutes', 'jobTimeoutMinutes']),
  })
  .refine((config) => config.pipelineTimeoutMinutes <= MINUTES_PER_DAY - NIGHTS_APART_MINUTES, {
    path: ['pipelineTimeoutMinutes'],
    error: `must leave ${NIGHTS_APART_MINUTES} minutes before the next night's execution starts: at most ${MINUTES_PER_DAY - NIGHTS_APART_MINUTES}`,
    when: whenValid(['pipelineTimeoutMinutes']),
  })
  .refine((config) => config.pipelineStartMinute * 60 >= config.firehoseBufferingIntervalSeconds + FIREHOSE_MARGIN_SECONDS, {
    path: ['pipelineStartMinute'],
    error: (issue) => {
      const config = issue.input as Fields;
      return `starts before Firehose has delivered the day's last buffer: at least ${Math.ceil((config.firehoseBufferingIntervalSeconds + FIREHOSE_MARGIN_SECONDS) / 60)} (firehoseBufferingIntervalSeconds ${config.firehoseBufferingIntervalSeconds} s plus ${FIREHOSE_MARGIN_SECONDS / 60} minutes)`;
    },
    when: whenValid(['pipelineStartMinute', 'firehoseBufferingIntervalSeconds']),
  });


export type InfraConfig = z.infer<typeof InfraConfigSchema>;
export type InfraConfigOverrides = Partial<Omit<InfraConfig, 'envName'>>;

/**
 * Where alarm descriptions point until a deployment says otherwise: a placeholder, not a real
 * repository. Set `runbookBaseUrl` per environment (see docs/deploy.md) before relying on the links.
 */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/your-org/medallion/blob/main';

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
    glueDatabasePrefix: 'medallion_dev',
    vpcMaxAzs: 1,
    vpcCidr: '10.42.0.0/20',
    jobCpu: 1024,
    jobMemoryMiB: 4096,
    jobEphemeralStorageGiB: 30,
    jobTimeoutMinutes: 60,
    jobRetryAttempts: 1,
    stepTimeoutMinutes: 60,
    // 4 stages of jobs, each 2 attempts of 60 minutes, a minute's wait and 15 of grace, and 4 steps of 60 + 15: 4 x 136 + 4 x 75.
    pipelineTimeoutMinutes: 850,
    pipelineStartMinute: 10,
    pipelineScheduleEnabled: true,
    monthlyBudgetUsd: 150,
    analystLayers: ['gold'],
    analystPersonalData: false,
    catalogEncryption: false,
    budgetAlertPercent: 80,
    runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
    metricsNamespace: 'Medallion',
    defaultJobBaselineMinutes: 15,
    jobBaselineMinutes: {},
    firehoseFreshnessAlarmSeconds: 900,
    kinesisIteratorAgeAlarmMinutes: 60,
    alertEmails: [],
    warningEmails: [],
    backupEnabled: false,
    backupRetentionDays: 7,
    vacuumRetainDays: 7,
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
    glueDatabasePrefix: 'medallion',
    vpcMaxAzs: 2,
    vpcCidr: '10.43.0.0/20',
    jobCpu: 2048,
    jobMemoryMiB: 8192,
    jobEphemeralStorageGiB: 100,
    jobTimeoutMinutes: 120,
    jobRetryAttempts: 1,
    stepTimeoutMinutes: 60,
    // 4 stages of jobs, each 2 attempts of 120 minutes, a minute's wait and 15 of grace, and 4 steps of 60 + 15: 4 x 256 + 4 x 75.
    pipelineTimeoutMinutes: 1330,
    pipelineStartMinute: 15,
    pipelineScheduleEnabled: true,
    monthlyBudgetUsd: 400,
    analystLayers: ['gold'],
    analystPersonalData: false,
    catalogEncryption: true,
    budgetAlertPercent: 80,
    runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
    metricsNamespace: 'Medallion',
    defaultJobBaselineMinutes: 30,
    jobBaselineMinutes: {},
    firehoseFreshnessAlarmSeconds: 1800,
    kinesisIteratorAgeAlarmMinutes: 60,
    alertEmails: [],
    warningEmails: [],
    backupEnabled: true,
    backupRetentionDays: 35,
    vacuumRetainDays: 30,
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
