import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_DEFAULTS, loadInfraConfig } from '../../infra/index.ts';

describe('infra config', () => {
  it('accepts the defaults of every environment', () => {
    expect(loadInfraConfig('dev')).toEqual({ envName: 'dev', ...ENV_DEFAULTS.dev });
    expect(loadInfraConfig('prod')).toEqual({ envName: 'prod', ...ENV_DEFAULTS.prod });
  });

  it('applies overrides over the environment defaults', () => {
    const config = loadInfraConfig('prod', { firehoseBufferingIntervalSeconds: 120, region: 'eu-west-1' });
    expect(config.firehoseBufferingIntervalSeconds).toBe(120);
    expect(config.region).toBe('eu-west-1');
    expect(config.firehoseBufferingSizeMiB).toBe(ENV_DEFAULTS.prod.firehoseBufferingSizeMiB);
  });

  it('reports every problem at once in one ConfigError', () => {
    let caught: unknown;
    try {
      loadInfraConfig('prod', {
        firehoseBufferingIntervalSeconds: 901,
        firehoseBufferingSizeMiB: 0,
        kinesisRetentionHours: 1.5,
        athenaBytesScannedCutoffPerQuery: 5,
        account: 'not-an-account',
        bufferSeconds: 60,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('INFRA_CONFIG_INVALID');
    for (const field of ['firehoseBufferingIntervalSeconds', 'firehoseBufferingSizeMiB', 'kinesisRetentionHours', 'athenaBytesScannedCutoffPerQuery', 'account', 'bufferSeconds']) {
      expect(error.message).toContain(field);
    }
  });

  it('refuses an unknown environment name', () => {
    expect(() => loadInfraConfig('staging')).toThrow(ConfigError);
    expect(() => loadInfraConfig('staging')).toThrow(/envName/);
  });

  it('checks job compute and alarm settings against each other, reporting every problem at once', () => {
    let caught: unknown;
    try {
      loadInfraConfig('dev', {
        jobCpu: 1024,
        jobMemoryMiB: 1024,
        firehoseBufferingIntervalSeconds: 300,
        firehoseFreshnessAlarmSeconds: 120,
        jobTimeoutMinutes: 120,
        pipelineTimeoutMinutes: 60,
        runbookBaseUrl: 'http://example.com/runbooks/',
        metricsNamespace: 'AWS/Medallion',
        jobBaselineMinutes: { 'silver.tasks': 0 },
        alertEmails: ['not-an-address'],
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    for (const field of ['runbookBaseUrl', 'metricsNamespace', 'jobBaselineMinutes', 'alertEmails']) expect(message).toContain(field);
    expect(message).toMatch(/Fargate has no 1024 MiB size for 1024 CPU units/);
    expect(message).toMatch(/must exceed firehoseBufferingIntervalSeconds \(300\).*\n.*at firehoseFreshnessAlarmSeconds/);
    expect(message).toMatch(/must be at least jobTimeoutMinutes \(120\)\n.*at pipelineTimeoutMinutes/);
  });

  it('starts the night after Firehose\'s last buffer, and ends it before the next one starts', () => {
    const problems = (overrides: Parameters<typeof loadInfraConfig>[1]) => {
      try {
        loadInfraConfig('prod', overrides);
        return '';
      } catch (error) {
        return (error as ConfigError).message;
      }
    };
    // 00:01 with a 300 s buffer: yesterday's last records would land after bronze read.
    expect(problems({ pipelineStartMinute: 1 })).toMatch(/starts before Firehose has delivered the day's last buffer: at least 10 \(firehoseBufferingIntervalSeconds 300 s plus 5 minutes\)\n.*at pipelineStartMinute/);
    expect(problems({ pipelineStartMinute: 10 })).toBe('');
    expect(problems({ pipelineTimeoutMinutes: 1420 })).toMatch(/must leave 30 minutes before the next night's execution starts: at most 1410/);
  });

  it('accepts every Fargate size it offers, and a job baseline per job name', () => {
    expect(loadInfraConfig('prod', { jobCpu: 4096, jobMemoryMiB: 30_720 }).jobMemoryMiB).toBe(30_720);
    expect(loadInfraConfig('prod', { jobCpu: 256, jobMemoryMiB: 512 }).jobCpu).toBe(256);
    expect(() => loadInfraConfig('prod', { jobCpu: 8192, jobMemoryMiB: 20_000 })).toThrow(/jobMemoryMiB/);
    expect(() => loadInfraConfig('prod', { jobCpu: 3000 })).toThrow(/jobCpu/);
    expect(loadInfraConfig('dev', { jobBaselineMinutes: { 'gold.daily_task_kpis': 12.5 } }).jobBaselineMinutes).toEqual({ 'gold.daily_task_kpis': 12.5 });
  });

  it('refuses a log retention CloudWatch Logs does not offer', () => {
    expect(() => loadInfraConfig('dev', { logRetentionDays: 10 })).toThrow(/logRetentionDays/);
    expect(loadInfraConfig('dev', { logRetentionDays: 30 }).logRetentionDays).toBe(30);
  });
});
