import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request an Athena client made: its operation (X-Amz-Target) and JSON body. */
export interface AthenaRequest {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/**
 * A loopback endpoint speaking Athena's JSON 1.1 protocol for StartQueryExecution, GetQueryExecution and
 * GetQueryResults, for the real `@aws-sdk/client-athena` to call (no Athena runs offline). `answer` gives each query's
 * columns and rows, or an error to fail it with; results come 2 rows a page (after the header row), so paging is used,
 * and each query but a count is RUNNING at its first look.
 */
export async function startAthenaEndpoint(answer: (sql: string) => { columns: { name: string; type: string }[]; rows: (string | null)[][] } | { error: string }): Promise<{
  url: string;
  requests: AthenaRequest[];
  stop: () => Promise<void>;
}> {
  const requests: AthenaRequest[] = [];
  const queries = new Map<string, { sql: string; looks: number }>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').replace(/^AmazonAthena\./, '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      requests.push({ operation, body });
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      const send = (payload: object) => response.end(JSON.stringify(payload));
      if (operation === 'StartQueryExecution') {
        const id = `q-${queries.size + 1}`;
        queries.set(id, { sql: String(body.QueryString), looks: 0 });
        send({ QueryExecutionId: id });
        return;
      }
      const query = queries.get(String(body.QueryExecutionId));
      if (!query) {
        response.statusCode = 400;
        send({ __type: 'InvalidRequestException', Message: `no query ${String(body.QueryExecutionId)}` });
        return;
      }
      const result = answer(query.sql);
      if (operation === 'GetQueryExecution') {
        query.looks += 1;
        // A count is done at once (verify runs many); any other query is RUNNING at the first look.
        const state = query.looks === 1 && !query.sql.startsWith('SELECT count(*)') ? 'RUNNING' : 'error' in result ? 'FAILED' : 'SUCCEEDED';
        send({
          QueryExecution: {
            QueryExecutionId: body.QueryExecutionId,
            Query: query.sql,
            Status: { State: state, ...('error' in result && state === 'FAILED' ? { StateChangeReason: result.error } : {}) },
            Statistics: { DataScannedInBytes: 1234 },
            ResultConfiguration: { OutputLocation: `s3://results-bucket/${String(body.QueryExecutionId)}.csv` },
          },
        });
        return;
      }
      if (operation === 'GetQueryResults' && !('error' in result)) {
        const page = Number(body.NextToken ?? 0);
        const rows = result.rows.slice(page * 2, page * 2 + 2);
        const header = page === 0 ? [{ Data: result.columns.map((column) => ({ VarCharValue: column.name })) }] : [];
        send({
          ResultSet: {
            Rows: [...header, ...rows.map((row) => ({ Data: row.map((value) => (value === null ? {} : { VarCharValue: value })) }))],
            ResultSetMetadata: { ColumnInfo: result.columns.map((column) => ({ Name: column.name, Type: column.type })) },
          },
          ...(page * 2 + 2 < result.rows.length ? { NextToken: String(page + 1) } : {}),
        });
        return;
      }
      response.statusCode = 400;
      send({ __type: 'InvalidRequestException', Message: `${operation} is not served here` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
