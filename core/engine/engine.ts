/** A JSON-safe value as results come back: integers that fit a double are numbers; larger ones, decimals, dates and timestamps are strings. */
export type ResultValue = string | number | boolean | null | ResultValue[] | { [key: string]: ResultValue };
export type ResultRow = Record<string, ResultValue>;

export interface ResultColumn {
  readonly name: string;
  /** The engine's type name, e.g. `BIGINT`, `TIMESTAMP`, `VARCHAR[]`. */
  readonly type: string;
}

export interface QueryResult {
  readonly columns: readonly ResultColumn[];
  readonly rows: readonly ResultRow[];
}

/**
 * A session on DuckDB, the runtime's one engine: the SQL the framework and the jobs write is DuckDB SQL
 * (docs/architecture.md says what another engine would need). Data work happens inside it; only small
 * results (counts, manifests, query output in chunks) come back to Node. The port exists so runs can
 * share an instance (`isolate`), write side by side (`fork`) and be stopped (`interrupt`).
 *
 * @example
 * const engine = await DuckDbEngine.create();
 * const { rows } = await engine.query('select 42 as answer');
 */
export interface Engine {
  run(sql: string): Promise<void>;
  /** A small result, materialized. */
  query(sql: string): Promise<QueryResult>;
  /**
   * The kind of each statement of `sql` (`SELECT`, `COPY`, `ATTACH`, ...), found by preparing them, never
   * running them: how a read-only caller refuses anything but a query.
   */
  statementKinds(sql: string): Promise<string[]>;
  /** A result of any size, delivered in chunks; returns the columns. */
  stream(sql: string, onRows: (rows: readonly ResultRow[], columns: readonly ResultColumn[]) => Promise<void> | void): Promise<readonly ResultColumn[]>;
  /**
   * Another session on the same database: it sees every table and view that is not TEMP, and its statements
   * run alongside this one's (the runner writes a job's outputs side by side this way). Interrupting or
   * closing this engine interrupts or closes its forks too.
   */
  fork(): Promise<Engine>;
  /**
   * A session on the same instance with a database of its own: what it creates is invisible to this engine
   * and to other isolates, while the instance's memory limit, threads and caches (Parquet footers read by one
   * isolate serve the next) are shared. The bookmarked runs of one `runJobs` each run in an isolate. Closing an isolate
   * closes its forks; its database is dropped by the next isolate, or with the instance.
   */
  isolate(): Promise<Engine>;
  /** Stops the statement running now (it fails with an interruption error); for timeouts. */
  interrupt(): void;
  close(): void;
}
