#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (`npm run build`, which `npm install` runs through `prepare`):
// no TypeScript is transpiled at start-up, in a shell or in a job task. In a checkout whose sources are newer than
// dist/ (an edit, a pull), or without dist/, it runs the sources through tsx (a dev dependency) and says so: stale
// compiled code never runs silently.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);
// Written by `npm run build` after the compiler, whether or not it had anything to do.
const built = new URL('dist/.built', root);

/** The newest modification time of the run-time sources, or 0 where there are none (the job image ships only dist/). */
function newestSource() {
  let newest = 0;
  for (const folder of ['core', 'jobs', 'simulator', 'cli']) {
    const path = new URL(`${folder}/`, root);
    if (!existsSync(path)) continue;
    for (const name of readdirSync(path, { recursive: true })) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(new URL(name, path)).mtimeMs);
    }
  }
  return newest;
}

const stale = !existsSync(compiled) ? 'dist/ is missing' : existsSync(built) && newestSource() > statSync(built).mtimeMs ? 'dist/ is older than the sources' : undefined;
if (!stale) {
  await import(compiled.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    if (!existsSync(compiled)) {
      process.stderr.write('error: CLI_NOT_BUILT: dist/cli/main.js is missing (run `npm run build`)\n');
      process.exit(1);
    }
  }
  if (register) {
    process.stderr.write(`warning: ${stale}: running the TypeScript sources through tsx (slower start; \`npm run build\` compiles them)\n`);
    register();
    await import('../cli/main.ts');
  } else {
    process.stderr.write(`warning: ${stale}, and tsx is not installed to run them: running the compiled code (\`npm run build\` brings it up to date)\n`);
    await import(compiled.href);
  }
}
