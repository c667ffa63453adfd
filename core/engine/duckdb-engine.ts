import { DuckDBInstance, DuckDBTypeId, JsonDuckDBValueConverter, type DuckDBConnection, type DuckDBResult, type DuckDBType, type Json } from '@duckdb/node-api';
import type { Engine, QueryResult, ResultColumn, ResultRow, ResultValue } from './engine.ts';

export interface DuckDbEngineOptions {
  /** Worker threads; DuckDB's default is the core count. */
  readonly threads?: number;
  /** e.g. '4GB'. */
  readonly memoryLimit?: string;
  /** Where DuckDB spills when a query outgrows memory. */
  readonly tempDirectory?: string;
}

/** DuckDB in-process, one connection, session time zone pinned to UTC so timestamps mean the same everywhere. */
export class DuckDbEngine implements Engine {
  readonly name = 'duckdb' as const;
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  static async create(options: DuckDbEngineOptions = {}): Promise<DuckDbEngine> {
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory;
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    // ICU is built in but only loaded on first use; the zone can be set once it is.
    // Row order of a result without ORDER BY carries no meaning here; not keeping it saves memory in COPY.
    await connection.run("LOAD icu; SET TimeZone = 'UTC'; SET preserve_insertion_order = false");
    return new DuckDbEngine(instance, connection);
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  async query(sql: string): Promise<QueryResult> {
    const reader = await this.connection.runAndReadAll(sql);
    const columns = describeColumns(reader.columnNames(), reader.columnTypes());
    const rows = reader.getRowObjectsJson().map((row) => toResultRow(row, columns));
    return { columns, rows };
  }

  async stream(
    sql: string,
    onRows: (rows: readonly ResultRow[], columns: readonly ResultColumn[]) => Promise<void> | void,
  ): Promise<readonly ResultColumn[]> {
    const result: DuckDBResult = await this.connection.stream(sql);
    const columns = describeColumns(result.columnNames(), result.columnTypes());
    for await (const rows of result.yieldConvertedRowObjects(JsonDuckDBValueConverter)) {
      await onRows(rows.map((row) => toResultRow(row as Record<string, Json>, columns)), columns);
    }
    return columns;
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
]);

interface DescribedColumn extends ResultColumn {
  readonly integer: boolean;
}

function describeColumns(names: readonly string[], types: readonly DuckDBType[]): DescribedColumn[] {
  return names.map((name, index) => {
    const type = types[index];
    return { name, type: type ? type.toString() : 'UNKNOWN', integer: type ? INTEGER_TYPES.has(type.typeId) : false };
  });
}

function toResultRow(row: Record<string, Json>, columns: readonly DescribedColumn[]): ResultRow {
  const out: ResultRow = {};
  for (const column of columns) {
    const value = row[column.name] ?? null;
    out[column.name] = column.integer && typeof value === 'string' ? safeInteger(value) : (value as ResultValue);
  }
  return out;
}

function safeInteger(text: string): number | string {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : text;
}
