import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { createMedallionApp, type EnvName, type MedallionApp, type MedallionStack } from '../../infra/index.ts';

const outdirs: string[] = [];
// Every app stages the job image's build context into its own folder: remove them when the file is done.
afterAll(() => {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
});

export interface BuildOptions {
  /**
   * Run cdk-nag as a synthesis-time validation plugin, as `cdk synth` does. Off by default here: the
   * pack takes most of a synthesis, and the stack test runs it itself (`validateScope`).
   */
  readonly nagChecks?: boolean;
  /**
   * Run CDK's built-in CloudFormation template validation at synthesis, as `cdk synth` does. Off by
   * default here (loading its schemas takes seconds per test file); the stack and app tests turn it on.
   */
  readonly cfnValidation?: boolean;
}

/** A temp folder for an app's cloud assembly, removed when the test file is done. */
export function tempOutdir(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'medallion-cdk-'));
  outdirs.push(outdir);
  return outdir;
}

/** A fresh app with the given environments, synthesizing into its own temp folder. */
export function buildApp(envNames: readonly EnvName[] = ['dev', 'prod'], context: Record<string, unknown> = {}, options: BuildOptions = {}): MedallionApp {
  return createMedallionApp({
    envNames,
    outdir: tempOutdir(),
    context,
    nagChecks: options.nagChecks ?? false,
    builtinCloudFormationValidation: options.cfnValidation ?? false,
  });
}

export function stackOf(built: MedallionApp, envName: EnvName): MedallionStack {
  const stack = built.stacks[envName];
  if (!stack) throw new Error(`app has no ${envName} stack`);
  return stack;
}

/** One app with both environments, built once per test file, for tests that need constructs, not just templates. */
export function useBuiltApp(): () => MedallionApp {
  let built: MedallionApp | undefined;
  return () => (built ??= buildApp());
}

/** Templates of both environments, synthesized once per test file. */
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

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/**
 * A CloudFormation value with its intrinsics flattened to text (`{"Fn::GetAtt":["X","Arn"]}` becomes
 * `<X.Arn>`, `Ref` becomes `<X>`, `Fn::Join` is joined, `Fn::Sub` keeps its `${...}` text), so ARNs and definitions can be read as strings.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flatten).join(',');
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('Ref' in object) return `<${String(object.Ref)}>`;
    if ('Fn::GetAtt' in object) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Sub' in object) return flatten(asArray(object['Fn::Sub'])[0]);
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
    return JSON.stringify(object);
  }
  return String(value);
}

export const ENVS: readonly EnvName[] = ['dev', 'prod'];
