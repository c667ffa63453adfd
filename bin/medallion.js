#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (`npm run build`, which `npm install` runs through `prepare`):
// no TypeScript is transpiled at start-up, in a shell or in a job task. A checkout without dist/ falls back to
// the sources through tsx (a dev dependency), saying so.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('error: CLI_NOT_BUILT: dist/cli/main.js is missing (run `npm run build`)\n');
    process.exit(1);
  }
  process.stderr.write('warning: dist/ is missing, running the TypeScript sources through tsx (slower start; `npm run build` compiles them)\n');
  register();
  await import('../cli/main.ts');
}
