import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { createMedallionApp } from '../infra/index.ts';
const built = createMedallionApp({ envNames: ['dev', 'prod'], outdir: mkdtempSync(path.join(tmpdir(), 'cdk-')), context: {}, nagChecks: true, builtinCloudFormationValidation: false });
for (const env of ['dev', 'prod'] as const) writeFileSync(`${process.argv[2]}-${env}.json`, JSON.stringify(Template.fromStack(built.stacks[env]!).toJSON(), null, 1));
