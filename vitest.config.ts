import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two files at a time even on two cores, where vitest's default is one: most files wait on child processes,
    // loopback servers and the disk as much as on the CPU. On a 2-core machine the suite took 1120 s one file at a
    // time and 825 s two at a time. A test must not depend on a timing margin that sharing the cores could break.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    env: { TZ: 'UTC' },
  },
});
