import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, createMedallionApp } from '../../infra/index.ts';
import { buildApp, stackOf, tempOutdir } from './infra-fixtures.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

describe('medallion CDK app', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is what `cdk synth` runs: cdk.json points at infra/app.ts through the pinned tsx', () => {
    const cdkJson = JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { app: string };
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
    expect(existsSync(join(repoRoot, 'infra', 'app.ts'))).toBe(true);
    const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(packageJson.scripts.synth).toBe('cdk synth --quiet');
  });

  it('synthesizes dev and prod in-process, through the cdk-nag gate, without network, lookups or a Docker build', () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('synthesis must not use the network'));
    const built = buildApp(['dev', 'prod'], {}, { nagChecks: true, cfnValidation: true });
    const assembly = built.app.synth();
    expect(fetchSpy).not.toHaveBeenCalled();

    expect(assembly.stacks.map((stack) => stack.stackName).sort()).toEqual(['medallion-dev', 'medallion-prod']);
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'manifest.json'), 'utf8')) as { missing?: unknown[] };
    expect(manifest.missing ?? []).toEqual([]); // no context lookups waiting to be resolved
    for (const stack of assembly.stacks) {
      // The job image is only staged (its build context copied): `cdk deploy` builds it, not synthesis.
      const assets = JSON.parse(readFileSync(join(assembly.directory, `${stack.stackName}.assets.json`), 'utf8')) as { dockerImages: object };
      expect(Object.keys(assets.dockerImages)).toHaveLength(1);
      expect(stack.environment.account).toBe('unknown-account'); // environment-agnostic: deploys to the CLI's account
      expect(Object.keys(stack.template.Resources).length).toBeGreaterThan(20);
    }
    expect(stackOf(built, 'prod').terminationProtection).toBe(true);
    expect(stackOf(built, 'dev').terminationProtection).toBe(false);
  });

  it('builds only the environments named by the `env` context value', () => {
    const built = createMedallionApp({ context: { env: 'prod' }, outdir: tempOutdir(), nagChecks: false, builtinCloudFormationValidation: false });
    expect(Object.keys(built.stacks)).toEqual(['prod']);
  });

  it('refuses an unknown environment or a bad override with a ConfigError', () => {
    expect(() => createMedallionApp({ context: { env: 'staging' }, outdir: tempOutdir() })).toThrow(ConfigError);
    expect(() => createMedallionApp({ context: { medallion: { dev: { firehoseBufferingSizeMiB: 500 } } }, outdir: tempOutdir() })).toThrow(/firehoseBufferingSizeMiB/);
  });

  it('fails synthesis when a resource breaks an AwsSolutions rule (the cdk-nag gate is wired in)', () => {
    const built = buildApp(['dev'], {}, { nagChecks: true });
    new Bucket(stackOf(built, 'dev'), 'UnloggedPlainBucket');
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(() => built.app.synth()).toThrow(/AwsSolutions-S1'[\s\S]*AwsSolutions-S10'/);
  });
});
