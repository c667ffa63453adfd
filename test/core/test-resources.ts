import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { DuckDbEngine } from '../../core/engine/index.ts';

/** A fresh temporary folder per call, removed after each test. */
export function useTempDirs(): (label?: string) => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async (label = 'test') => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `medallion-${label}-`));
    made.push(dir);
    return dir;
  };
}

/** A fresh in-memory DuckDB engine per call, closed after each test. */
export function useEngines(): () => Promise<DuckDbEngine> {
  const open: DuckDbEngine[] = [];
  afterEach(() => {
    for (const engine of open.splice(0)) engine.close();
  });
  return async () => {
    const engine = await DuckDbEngine.create({ threads: 2 });
    open.push(engine);
    return engine;
  };
}

/** Everything an async iterable yields. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
