import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, type ResultSet } from '@aws-sdk/client-athena';
import type { Lake } from '../../core/index.ts';
import { glueDatabaseName, quoteAthenaIdentifier } from '../../core/catalog/index.ts';
import type { ResultColumn, ResultRow } from '../../core/engine/index.ts';
import { MedallionError } from '../../core/errors.ts';
import { layerOf, shortNameOf, tableHistory } from '../../core/table/index.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';

/** How long `athena query` waits between looks at a running query, and at most in all. */
const POLL_MS = 500;
const MAX_WAIT_MS = 30 * 60_000;

/** A finished Athena query's id, and where its results went. */
export interface AthenaQueryOutcome {
  readonly queryExecutionId: string;
  readonly outputLocation?: string;
  readonly dataScannedBytes?: number;
}

/**
 * Runs `sql` in Athena as the AWS SDK's StartQueryExecution, waits for it (GetQueryExecution), and hands its rows
 * page by page (GetQueryResults, 1000 rows a page) to `onRows`, never all at once. A query that fails or is cancelled
 * is ATHENA_QUERY_FAILED with Athena's reason.
 *
 * @example
 * await athenaQuery(new AthenaClient({}), { sql: 'SELECT 1', workGroup: 'medallion-dev-analysts' }, async (columns, rows) => print(rows));
 */
export async function athenaQuery(
  client: AthenaClient,
  query: { readonly sql: string; readonly workGroup?: string; readonly database?: string },
  onRows: (columns: readonly ResultColumn[], rows: readonly ResultRow[]) => Promise<void>,
  options: { readonly pollMs?: number } = {},
): Promise<AthenaQueryOutcome> {
  const started = await client.send(new StartQueryExecutionCommand({
    QueryString: query.sql,
    ...(query.workGroup ? { WorkGroup: query.workGroup } : {}),
    ...(query.database ? { QueryExecutionContext: { Database: query.database } } : {}),
  }));
  const id = started.QueryExecutionId;
  if (!id) throw new MedallionError('ATHENA_QUERY_FAILED', 'Athena started no query (no QueryExecutionId)');
  const deadline = Date.now() + MAX_WAIT_MS;
  for (;;) {
    const { QueryExecution: execution } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = execution?.Status?.State;
    if (state === 'SUCCEEDED') {
      let columns: ResultColumn[] | undefined;
      let token: string | undefined;
      do {
        const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
        const resultSet: ResultSet = page.ResultSet ?? {};
        columns ??= (resultSet.ResultSetMetadata?.ColumnInfo ?? []).map((column) => ({ name: column.Name ?? '', type: athenaType(column.Type) }));
        const raw = resultSet.Rows ?? [];
        // A SELECT's first row is its header.
        const body = token === undefined && raw.length > 0 && raw[0]!.Data?.every((cell, index) => cell.VarCharValue === columns![index]?.name) ? raw.slice(1) : raw;
        const rows = body.map((row) => Object.fromEntries(columns!.map((column, index) => [column.name, cellValue(row.Data?.[index]?.VarCharValue, column.type)])));
        if (rows.length > 0) await onRows(columns, rows);
        token = page.NextToken;
      } while (token);
      return {
        queryExecutionId: id,
        ...(execution?.ResultConfiguration?.OutputLocation ? { outputLocation: execution.ResultConfiguration.OutputLocation } : {}),
        ...(execution?.Statistics?.DataScannedInBytes === undefined ? {} : { dataScannedBytes: execution.Statistics.DataScannedInBytes }),
      };
    }
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new MedallionError('ATHENA_QUERY_FAILED', `Athena query ${id} ${state}: ${execution?.Status?.StateChangeReason ?? execution?.Status?.AthenaError?.ErrorMessage ?? 'no reason given'}`, {
        hint: 'the query text, the workgroup (--workgroup) and the Glue tables it names (medallion athena ddl)',
      });
    }
    if (Date.now() > deadline) throw new MedallionError('ATHENA_QUERY_FAILED', `Athena query ${id} still ${state ?? 'unknown'} after ${MAX_WAIT_MS / 60_000} minutes`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? POLL_MS));
  }
}

/** Athena's column types as the CLI's formats know them: numbers stay numbers. */
function athenaType(type: string | undefined): string {
  if (type === 'bigint' || type === 'integer' || type === 'smallint' || type === 'tinyint') return 'BIGINT';
  if (type === 'double' || type === 'float' || type === 'real' || type?.startsWith('decimal')) return 'DOUBLE';
  return 'VARCHAR';
}

function cellValue(text: string | undefined, type: string): string | number | null {
  if (text === undefined) return null;
  if (type === 'BIGINT' || type === 'DOUBLE') {
    const number = Number(text);
    return Number.isFinite(number) && Number.isSafeInteger(Math.trunc(number)) ? number : text;
  }
  return text;
}

/** One table of `athena verify`: the rows its committed version holds, and the rows Athena counts. */
export interface AthenaVerifyRow {
  readonly table: string;
  readonly version: number;
  readonly lake_rows: number;
  readonly athena_rows: number | null;
  readonly ok: boolean;
  readonly problem: string | null;
}

/**
 * For every table the lake has committed, the row count of its committed version (from its manifest) against
 * `SELECT count(*)` in Athena over its Glue table (`<prefix>_<layer>.<table>`): a check after a deploy, or when a
 * runbook suspects the catalog points at an older version. A table Athena cannot read counts as a difference.
 */
export async function athenaVerify(lake: Lake, client: AthenaClient, options: { readonly databasePrefix: string; readonly workGroup?: string }): Promise<AthenaVerifyRow[]> {
  const root = await lake.state.readRoot();
  const rows: AthenaVerifyRow[] = [];
  for (const spec of PIPELINE_TABLES) {
    if (!root.tables[spec.name]) continue;
    const [current] = await tableHistory(lake.state, spec.name, { root, limit: 1 });
    const lakeRows = current?.rows ?? 0;
    const table = `${quoteAthenaIdentifier(glueDatabaseName(options.databasePrefix, layerOf(spec.name)))}.${quoteAthenaIdentifier(shortNameOf(spec.name))}`;
    let athenaRows: number | null = null;
    let problem: string | null = null;
    try {
      await athenaQuery(client, { sql: `SELECT count(*) AS n FROM ${table}`, ...(options.workGroup ? { workGroup: options.workGroup } : {}) }, async (_columns, page) => {
        athenaRows = Number(page[0]?.n);
      });
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    rows.push({ table: spec.name, version: root.tables[spec.name]!.version, lake_rows: lakeRows, athena_rows: athenaRows, ok: problem === null && athenaRows === lakeRows, problem });
  }
  return rows;
}
