import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalCatalog, type Catalog } from './catalog/index.ts';
import { DuckDbEngine, defaultMemoryLimit, engineTempDirectory, type Engine } from './engine/index.ts';
import { LocalMetricsSink, type MetricsSink } from './metrics/index.ts';
import { FileStateStore, type StateStore } from './state/index.ts';
import { LocalStorage, type Storage } from './storage/index.ts';

/** Everything a job run needs, each an adapter behind a small interface. */
export interface Lake {
  readonly storage: Storage;
  readonly state: StateStore;
  readonly catalog: Catalog;
  readonly metrics: MetricsSink;
  /** A fresh engine for one run or query; the caller closes it. */
  createEngine(): Promise<Engine>;
}

export interface LocalLakeOptions {
  /**
   * DuckDB memory limit per engine (instance), e.g. '2GB' (default: defaultMemoryLimit(), at most 1 GiB);
   * the bookmarked runs of one `runJobs` share one instance, and so this limit.
   */
  readonly memoryLimit?: string;
  readonly threads?: number;
}

/**
 * The embedded default: a folder holds landing files, tables, state (`_state/`), catalog (`_catalog/`)
 * and metrics (`_metrics/`); DuckDB does the work.
 *
 * @example
 * const lake = openLocalLake('./lake');
 */
export function openLocalLake(directory: string, options: LocalLakeOptions = {}): Lake {
  const root = path.resolve(directory);
  const storage = new LocalStorage(root);
  const memoryLimit = options.memoryLimit ?? defaultMemoryLimit();
  const state = new FileStateStore(path.join(root, '_state'));
  return {
    storage,
    state,
    catalog: new LocalCatalog(path.join(root, '_catalog'), storage, state),
    metrics: new LocalMetricsSink(path.join(root, '_metrics')),
    createEngine: () =>
      DuckDbEngine.create({
        tempDirectory: engineTempDirectory(tmpdir()),
        memoryLimit,
        ...(options.threads === undefined ? {} : { threads: options.threads }),
      }),
  };
}
