import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createMedallionApp, type EnvName, type MedallionApp, type MedallionStack } from '../../infra/index.ts';

/** A fresh app with the given environments, synthesizing into its own temp folder. */
export function buildApp(envNames: readonly EnvName[] = ['dev', 'prod'], context: Record<string, unknown> = {}): MedallionApp {
  return createMedallionApp({ envNames, outdir: mkdtempSync(join(tmpdir(), 'medallion-cdk-')), context });
}

export function stackOf(built: MedallionApp, envName: EnvName): MedallionStack {
  const stack = built.stacks[envName];
  if (!stack) throw new Error(`app has no ${envName} stack`);
  return stack;
}

/** Templates of both environments, built once per test file. */
export function useTemplates(): () => Readonly<Record<EnvName, Template>> {
  let templates: Record<EnvName, Template> | undefined;
  return () => {
    if (!templates) {
      const built = buildApp();
      templates = { dev: Template.fromStack(stackOf(built, 'dev')), prod: Template.fromStack(stackOf(built, 'prod')) };
    }
    return templates;
  };
}

export type CfnResources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

/** The one resource of `type` whose logical id starts with `logicalIdPrefix`. */
export function resourceByPrefix(template: Template, type: string, logicalIdPrefix: string): { logicalId: string; resource: CfnResources[string] } {
  const matches = Object.entries(template.findResources(type) as CfnResources).filter(([id]) => id.startsWith(logicalIdPrefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} named ${logicalIdPrefix}*, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  const [logicalId, resource] = matches[0]!;
  return { logicalId, resource };
}

export const ENVS: readonly EnvName[] = ['dev', 'prod'];
