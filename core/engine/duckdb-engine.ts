import type {
  DuckDBArrayType, DuckDBConnection, DuckDBInstance, DuckDBListType, DuckDBResult, DuckDBStructType, DuckDBType, DuckDBTypeId, Json,
} from '@duckdb/node-api';
import type { Engine, QueryResult, ResultColumn, ResultRow, ResultValue } from './engine.ts';
import { quoteIdentifier } from './sql.ts';

export interface DuckDbEngineOptions {
  /** Worker threads; DuckDB's default is the core count. */
  readonly threads?: number;
  /** e.g. '4GB'. */
  readonly memoryLimit?: string;
  /** Where DuckDB spills when a query outgrows memory. */
  readonly tempDirectory?: string;
  /** A database file to open (created when missing); in memory when absent. */
  readonly databasePath?: string;
}

const PARTITIONED_WRITE_FLUSH_ROWS = 25_000;

type DuckDbModule = typeof import('@duckdb/node-api');
/**
 * DuckDB's module, loaded by the first `create`: loading it (the binding and its 180 modules) takes a quarter of a
 * second, which a command that opens no engine (`medallion jobs`, `lock status`, a run that finds nothing new)
 * need not pay. Every other use is by an engine, so after a `create`.
 */
let duckdb: DuckDbModule | undefined;
function loaded(): DuckDbModule {
  if (!duckdb) throw new Error('DuckDB is not loaded: no engine was created');
  return duckdb;
}

// ICU is built in but only loaded on first use; the zone can be set once it is.
// Row order of a result without ORDER BY carries no meaning here; not keeping it saves memory in COPY.
const SESSION_SETUP = "LOAD icu; SET TimeZone = 'UTC'; SET preserve_insertion_order = false; SET parquet_metadata_cache = true";

/**
 * DuckDB in-process, one connection (plus its forks), session time zone pinned to UTC so timestamps mean the
 * same everywhere. An engine is the instance's own (`create`), an isolate of it with a database of its own
 * (`isolate`), or a fork of either (another session on the same database).
 */
export class DuckDbEngine implements Engine {
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;
  /** The engine whose close closes this one (the instance's for an isolate, the forked one for a fork); undefined for the instance's own. */
  private readonly parent: DuckDbEngine | undefined;
  /** The attached database this session works in (an isolate's, and its forks'); undefined for the instance's own. */
  private readonly database: string | undefined;
  /** Forks of this engine, and for the instance's own engine its isolates. */
  private readonly children = new Set<DuckDbEngine>();
  /** Databases of closed isolates, dropped at the next `isolate` (close is synchronous, DETACH is not). */
  private readonly detachable: string[] = [];
  private isolates = 0;
  private closed = false;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, parent?: DuckDbEngine, database?: string) {
    this.instance = instance;
    this.connection = connection;
    this.parent = parent;
    this.database = database;
  }

  static async create(options: DuckDbEngineOptions = {}): Promise<DuckDbEngine> {
    // DuckDB buffers 524,288 rows per partition of a partitioned COPY before it writes them; flushing
    // at 25,000 writes the same files (row groups of about 80,000 rows) in about 60% of the time, measured on
    // bronze.tasks_cdc's batch of 1M rows over 94 days, and holds less in memory.
    const config: Record<string, string> = { partitioned_write_flush_threshold: String(PARTITIONED_WRITE_FLUSH_ROWS) };
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory;
    duckdb ??= await import('@duckdb/node-api');
    // Render TIMESTAMPTZ values in UTC, as the session computes them, whatever the process's TZ.
    duckdb.DuckDBTimestampTZValue.timezoneOffsetInMinutes = 0;
    const instance = await duckdb.DuckDBInstance.create(options.databasePath ?? ':memory:', config);
    const connection = await instance.connect();
    await connection.run(SESSION_SETUP);
    return new DuckDbEngine(instance, connection);
  }

  /** The engine that created the instance. */
  private get owner(): DuckDbEngine {
    let engine: DuckDbEngine = this;
    while (engine.parent) engine = engine.parent;
    return engine;
  }

  async fork(): Promise<Engine> {
    this.assertOpen();
    const connection = await this.instance.connect();
    await connection.run(SESSION_SETUP + (this.database === undefined ? '' : `; USE ${quoteIdentifier(this.database)}`));
    const fork = new DuckDbEngine(this.instance, connection, this, this.database);
    this.children.add(fork);
    return fork;
  }

  async isolate(): Promise<Engine> {
    const owner = this.owner;
    owner.assertOpen();
    // What closed isolates left attached goes first: their tables held memory until now.
    for (const name of owner.detachable.splice(0)) await owner.connection.run(`DETACH DATABASE IF EXISTS ${quoteIdentifier(name)}`);
    owner.isolates += 1;
    const database = `isolate_${owner.isolates}`;
    const connection = await owner.instance.connect();
    try {
      await connection.run(`${SESSION_SETUP}; ATTACH ':memory:' AS ${quoteIdentifier(database)}; USE ${quoteIdentifier(database)}`);
    } catch (error) {
      connection.closeSync();
      throw error;
    }
    const isolate = new DuckDbEngine(owner.instance, connection, owner, database);
    owner.children.add(isolate);
    return isolate;
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  async statementKinds(sql: string): Promise<string[]> {
    const extracted = await this.connection.extractStatements(sql);
    const kinds: string[] = [];
    for (let index = 0; index < extracted.count; index += 1) {
      const prepared = await extracted.prepare(index);
      kinds.push(loaded().StatementType[prepared.statementType] ?? 'UNKNOWN');
      prepared.destroySync();
    }
    return kinds;
  }

  async query(sql: string): Promise<QueryResult> {
    const reader = await this.connection.runAndReadAll(sql);
    const columns = describeColumns(reader.columnNames(), reader.columnTypes());
    const rows = reader.getRowObjectsJson().map((row) => toResultRow(row, columns));
    return { columns: columns.map((described) => described.column), rows };
  }

  async stream(
    sql: string,
    onRows: (rows: readonly ResultRow[], columns: readonly ResultColumn[]) => Promise<void> | void,
  ): Promise<readonly ResultColumn[]> {
    const result: DuckDBResult = await this.connection.stream(sql);
    const columns = describeColumns(result.columnNames(), result.columnTypes());
    const plainColumns = columns.map((described) => described.column);
    for await (const rows of result.yieldConvertedRowObjects(loaded().JsonDuckDBValueConverter)) {
      await onRows(rows.map((row) => toResultRow(row as Record<string, Json>, columns)), plainColumns);
    }
    return plainColumns;
  }

  interrupt(): void {
    this.connection.interrupt();
    for (const child of this.children) child.interrupt();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.children) child.close();
    this.children.clear();
    this.connection.closeSync();
    if (!this.parent) {
      this.instance.closeSync();
      return;
    }
    this.parent.children.delete(this);
    // An isolate's database is dropped by the instance's next isolate, or with the instance.
    if (this.database !== undefined && this.database !== this.parent.database) this.owner.detachable.push(this.database);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the engine is closed');
  }
}

let integerTypes: ReadonlySet<DuckDBTypeId> | undefined;
function isInteger(typeId: DuckDBTypeId): boolean {
  const { DuckDBTypeId: id } = loaded();
  integerTypes ??= new Set([id.TINYINT, id.SMALLINT, id.INTEGER, id.BIGINT, id.HUGEINT, id.UTINYINT, id.USMALLINT, id.UINTEGER, id.UBIGINT, id.UHUGEINT]);
  return integerTypes.has(typeId);
}

interface DescribedColumn {
  readonly column: ResultColumn;
  readonly convert: (value: Json) => ResultValue;
}

function describeColumns(names: readonly string[], types: readonly DuckDBType[]): DescribedColumn[] {
  return names.map((name, index) => {
    const type = types[index];
    return { column: { name, type: type ? type.toString() : 'UNKNOWN' }, convert: type ? converterFor(type) : (value) => value as ResultValue };
  });
}

/** Turns DuckDB's JSON form of a value into ours: integers that fit a double become numbers, at any depth. */
function converterFor(type: DuckDBType): (value: Json) => ResultValue {
  const { DuckDBTypeId: id } = loaded();
  if (isInteger(type.typeId)) return (value) => (typeof value === 'string' ? safeInteger(value) : (value as ResultValue));
  if (type.typeId === id.LIST || type.typeId === id.ARRAY) {
    const convertItem = converterFor((type as DuckDBListType | DuckDBArrayType).valueType);
    return (value) => (Array.isArray(value) ? value.map((item) => convertItem(item)) : (value as ResultValue));
  }
  if (type.typeId === id.STRUCT) {
    const struct = type as DuckDBStructType;
    const converters = new Map(struct.entryNames.map((entry, index) => [entry, converterFor(struct.entryTypes[index] as DuckDBType)]));
    return (value) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value as ResultValue;
      const out: Record<string, ResultValue> = {};
      for (const [key, item] of Object.entries(value)) out[key] = (converters.get(key) ?? ((v: Json) => v as ResultValue))(item);
      return out;
    };
  }
  return (value) => value as ResultValue;
}

function toResultRow(row: Record<string, Json>, columns: readonly DescribedColumn[]): ResultRow {
  const out: ResultRow = {};
  for (const { column, convert } of columns) {
    const value = row[column.name] ?? null;
    out[column.name] = value === null ? null : convert(value);
  }
  return out;
}

function safeInteger(text: string): number | string {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text;
}
