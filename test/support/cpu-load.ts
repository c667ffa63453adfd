import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Busy processes that keep `count` cores loaded while a test runs, so a test can be run the way a busy CI
 * machine runs it (`MEDALLION_TEST_CPU_LOAD=4 npx vitest run test/integration/crash-safety.test.ts`).
 * Returns a function that stops them.
 */
export function startCpuLoad(count: number): () => void {
  const children: ChildProcess[] = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  return () => {
    for (const child of children) child.kill('SIGKILL');
  };
}

/** The CPU load a test run asked for (MEDALLION_TEST_CPU_LOAD, busy processes; 0 by default). */
export function requestedCpuLoad(): number {
  const raw = process.env.MEDALLION_TEST_CPU_LOAD ?? '0';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`MEDALLION_TEST_CPU_LOAD=${raw}: give a whole number of busy processes (0 for none)`);
  return value;
}
