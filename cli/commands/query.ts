import { PIPELINE_TABLES } from '../../jobs/index.ts';
import path from 'node:path';
import type { Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import { literalList, type Engine, type ResultColumn, type ResultRow } from '../../core/engine/index.ts';
import { MedallionError, systemProblemOf } from '../../core/errors.ts';
import { RowWriter, renderTable, type OutputFormat } from '../format-rows.ts';
import { rootAsOf, type AsOf } from '../../core/table/index.ts';
import { checkRetained } from '../../core/runner/index.ts';
import type { CliIo } from '../io.ts';

/** Rows the table format shows at most; past that it says how many were left out. */
export const TABLE_ROW_LIMIT = 10_000;

/** What an analyst's query may be: a query, or the plan of one. */
const READ_ONLY_KINDS = new Set(['SELECT', 'EXPLAIN']);

/**
 * Runs SQL over the committed tables, named `layer.table`, and writes the result. Returns the number of rows.
 *
 * Read-only: only queries run (no COPY, CREATE, ATTACH, SET, PRAGMA, ...), checked by preparing each
 * statement first; and DuckDB reaches only the folders of the tables' files (`enable_external_access` off,
 * `allowed_directories` those folders, the configuration locked), unless `allowLocalFiles`, which lets a
 * query read other files on this machine (never write them).
 */
export async function queryCommand(
  lake: Lake,
  sql: string,
  format: OutputFormat,
  io: CliIo,
  options: { readonly allowLocalFiles?: boolean; readonly asOf?: AsOf } = {},
): Promise<number> {
  if (sql.trim() === '') throw new MedallionError('QUERY_EMPTY', 'the query is empty', { exitCode: 2, hint: 'pass a SQL statement, e.g. "SELECT * FROM gold.daily_task_kpis"' });
  // Time travel: the tables as one earlier commit of the lake left them.
  const root = options.asOf ? await rootAsOf(lake.state, options.asOf) : await lake.state.readRoot();
  if (options.asOf) await checkRetained(lake, root.seq, `the lake as of ${'commit' in options.asOf ? `commit ${options.asOf.commit}` : options.asOf.time.toISOString()}`);
  if (options.asOf) io.err(`as of commit ${root.seq} (${root.committedAt})\n`);
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, root, { declared: PIPELINE_TABLES });
  try {
    const kinds = await engine.statementKinds(sql).catch((error: unknown) => {
      throw queryFailed(error);
    });
    const refused = kinds.findIndex((kind) => !READ_ONLY_KINDS.has(kind));
    if (refused >= 0) {
      throw new MedallionError('QUERY_NOT_READ_ONLY', `medallion query runs queries only; statement ${refused + 1} is ${kinds[refused]}`, {
        exitCode: 2,
        hint: 'use SELECT (or WITH ... SELECT, EXPLAIN); to export a result, use --format csv or json and redirect it',
      });
    }
    for (const { table, problem } of attached.damaged) io.err(`warning: table ${table} cannot be read (${problem}); the other tables can\n`);
    if (!options.allowLocalFiles) {
      // The tables' folders, and DuckDB's own spill folder (a large sort or join spills there).
      const [spill] = (await engine.query("SELECT current_setting('temp_directory') AS dir")).rows;
      const allowed = [...attached.directories, ...(spill?.dir ? [`${String(spill.dir)}${path.sep}`] : [])];
      await engine.run(`SET allowed_directories = ${literalList(allowed)}`);
      await engine.run('SET enable_external_access = false');
      await engine.run('SET lock_configuration = true');
    }
    return await streamQuery(engine, sql, format, io);
  } catch (error) {
    // A query over a damaged table may fail before reading it (a column its stand-in view lacks): name the table.
    const failed = queryFailed(error);
    const named = attached.damaged.find((entry) => sql.toLowerCase().includes(entry.table.toLowerCase()));
    if (named && failed.code === 'QUERY_FAILED') {
      throw new MedallionError('TABLE_DAMAGED', `table ${named.table} cannot be read: ${named.problem}`, { exitCode: 1, hint: DAMAGED_HINT, cause: error });
    }
    throw failed;
  } finally {
    await attached.release();
    engine.close();
  }
}

const DAMAGED_HINT = 'a file or the manifest of the table is missing or damaged: runbooks/lost-or-corrupt-file.md says how to repair it';

/** DuckDB's message names the problem and where; its first lines are what a person needs. */
function queryFailed(error: unknown): MedallionError {
  if (error instanceof MedallionError) return error;
  const message = (error instanceof Error ? error.message : String(error)).split('\n').filter(Boolean).slice(0, 3).join(' ');
  // The machine refused (a full disk, for the output or DuckDB's spill): not a mistake in the query.
  const system = systemProblemOf(error);
  if (system) return new MedallionError(system.code, message, { exitCode: 1, hint: system.hint, cause: error });
  const outside = /file system operations are disabled by configuration/.test(message);
  // A damaged table is a data failure (1), not a mistake in the query (2).
  const damaged = /table \S+ (\(version \d+\) )?cannot be read/.test(message);
  return new MedallionError(damaged ? 'TABLE_DAMAGED' : 'QUERY_FAILED', message, {
    exitCode: damaged ? 1 : 2,
    hint: damaged
      ? DAMAGED_HINT
      : outside
        ? 'medallion query reads the lake\'s tables only; pass --allow-local-files to let it read other files on this machine'
        : 'tables are named layer.table; `medallion tables` lists them',
  });
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
      await io.out(renderTable(columns, shown, io.width));
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
