import type { Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import type { Engine, ResultColumn, ResultRow } from '../../core/engine/index.ts';
import { MedallionError } from '../../core/errors.ts';
import { RowWriter, renderTable, type OutputFormat } from '../format-rows.ts';
import type { CliIo } from '../io.ts';

/** Rows the table format shows at most; past that it says how many were left out. */
export const TABLE_ROW_LIMIT = 10_000;

/**
 * Runs SQL over the committed tables, named `layer.table`, and writes the result.
 * Returns the number of rows.
 */
export async function queryCommand(lake: Lake, sql: string, format: OutputFormat, io: CliIo): Promise<number> {
  if (sql.trim() === '') throw new MedallionError('QUERY_EMPTY', 'the query is empty', { exitCode: 2, hint: 'pass a SQL statement, e.g. "SELECT * FROM gold.daily_task_kpis"' });
  const engine = await lake.createEngine();
  const root = await lake.state.readRoot();
  const attached = await attachTables(engine, lake.storage, lake.state, root);
  try {
    return await streamQuery(engine, sql, format, io);
  } catch (error) {
    if (error instanceof MedallionError) throw error;
    // DuckDB's message names the problem and where; its first lines are what a person needs.
    const message = (error instanceof Error ? error.message : String(error)).split('\n').filter(Boolean).slice(0, 3).join(' ');
    throw new MedallionError('QUERY_FAILED', message, { exitCode: 2, hint: 'tables are named layer.table; `medallion tables` lists them' });
  } finally {
    await attached.release();
    engine.close();
  }
}

async function streamQuery(engine: Engine, sql: string, format: OutputFormat, io: CliIo): Promise<number> {
  {
    let total = 0;
    if (format === 'table') {
      const shown: ResultRow[] = [];
      const columns = await engine.stream(sql, (rows) => {
        for (const row of rows) if (shown.length < TABLE_ROW_LIMIT) shown.push(row);
        total += rows.length;
      });
      await io.out(renderTable(columns, shown));
      const more = total > shown.length ? `, ${total - shown.length} not shown (use --format csv or json for all)` : '';
      io.err(`${total} row${total === 1 ? '' : 's'}${more}\n`);
      return total;
    }
    const writer = new RowWriter(format, (text) => io.out(text));
    let lastColumns: readonly ResultColumn[] = [];
    lastColumns = await engine.stream(sql, async (rows, columns) => {
      total += rows.length;
      await writer.rows(columns, rows);
    });
    await writer.end(lastColumns);
    return total;
  }
}
