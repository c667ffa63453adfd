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
});
