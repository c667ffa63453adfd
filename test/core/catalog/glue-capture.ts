import { Readable } from 'node:stream';
import { GlueClient, type GlueClientConfig } from '@aws-sdk/client-glue';

/** One request the SDK serialized: the operation from `X-Amz-Target` and the parsed JSON body. */
export interface CapturedGlueRequest {
  /** Which client sent it (see `client`): 0 for the first. */
  readonly client: number;
  readonly operation: string;
  readonly target: string;
  readonly contentType: string;
  readonly url: string;
  readonly body: Record<string, any>;
}

type Handler = NonNullable<GlueClientConfig['requestHandler']>;
type Stored = Record<string, any>;

const READS = new Set(['GetDatabase', 'GetTable', 'GetPartitions']);

export interface CapturedGlue {
  readonly glue: GlueClient;
  /** Another client of the same catalog (another process publishing), numbered in `requests`. */
  client(): GlueClient;
  readonly requests: CapturedGlueRequest[];
  writes(): CapturedGlueRequest[];
  readonly tables: Map<string, Stored>;
  readonly partitions: Map<string, Map<string, Stored>>;
}

/**
 * A GlueClient whose request handler never touches the network: it records each HTTP request the SDK
 * serialized (AWS JSON 1.1) and answers with canned JSON shaped as Glue answers, from a small record of
 * what was created, so a catalog's whole flow runs through the real SDK serializers and deserializers.
 * As Glue does, a table has a VersionId that every change moves, and an UpdateTable naming an older one
 * fails with ConcurrentModificationException; batch partition calls report, per partition, one that
 * already exists (create) or does not (update, delete). With `delay`, each request waits that long
 * before Glue acts on it, so the requests of several clients interleave as they would over a network.
 */
export function capturingGlue(options: { readonly delay?: (client: number, operation: string) => Promise<void> } = {}): CapturedGlue {
  const requests: CapturedGlueRequest[] = [];
  const databases = new Set<string>();
  const tables = new Map<string, Stored>();
  const partitions = new Map<string, Map<string, Stored>>();

  const ok = (body: unknown) => ({ status: 200, body });
  const fail = (type: string, message: string) => ({ status: 400, body: { __type: type, Message: message } });

  const answer = (operation: string, body: Stored): { status: number; body: unknown } => {
    const tableId = `${body.DatabaseName}.${body.TableName ?? body.Name ?? body.TableInput?.Name}`;
    switch (operation) {
      case 'GetDatabase':
        return databases.has(body.Name) ? ok({ Database: { Name: body.Name } }) : fail('EntityNotFoundException', `Database ${body.Name} not found.`);
      case 'CreateDatabase':
        if (!body.DatabaseInput?.Name) return fail('InvalidInputException', 'DatabaseInput.Name is required');
        databases.add(body.DatabaseInput.Name);
        return ok({});
      case 'GetTable': {
        const table = tables.get(tableId);
        return table ? ok({ Table: { ...table, DatabaseName: body.DatabaseName, CreateTime: 1_700_000_000, IsRegisteredWithLakeFormation: false } }) : fail('EntityNotFoundException', `Table ${body.Name} not found.`);
      }
      case 'CreateTable':
        if (!databases.has(body.DatabaseName)) return fail('EntityNotFoundException', `Database ${body.DatabaseName} not found.`);
        if (tables.has(tableId)) return fail('AlreadyExistsException', `Table ${tableId} already exists.`);
        tables.set(tableId, { ...body.TableInput, VersionId: '0' });
        partitions.set(tableId, new Map());
        return ok({});
      case 'UpdateTable': {
        const table = tables.get(tableId);
        if (!table) return fail('EntityNotFoundException', `Table ${tableId} not found.`);
        if (body.VersionId !== undefined && body.VersionId !== table.VersionId) {
          return fail('ConcurrentModificationException', `Update table failed due to concurrent modifications: version ${body.VersionId} is not the current version ${table.VersionId}.`);
        }
        tables.set(tableId, { ...body.TableInput, VersionId: String(Number(table.VersionId) + 1) });
        return ok({});
      }
      case 'GetPartitions': {
        // Pages of 40, so a catalog must follow NextToken.
        const all = [...(partitions.get(tableId)?.values() ?? [])];
        const start = Number(body.NextToken ?? 0);
        const page = all.slice(start, start + 40).map((input) => ({ ...input, DatabaseName: body.DatabaseName, TableName: body.TableName }));
        return ok({ Partitions: page, ...(start + 40 < all.length ? { NextToken: String(start + 40) } : {}) });
      }
      case 'BatchCreatePartition': {
        if ((body.PartitionInputList ?? []).length > 100) return fail('InvalidInputException', 'at most 100 partitions');
        const store = partitions.get(tableId) as Map<string, Stored>;
        const Errors = [];
        for (const input of body.PartitionInputList) {
          const id = JSON.stringify(input.Values);
          if (store.has(id)) Errors.push({ PartitionValues: input.Values, ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'exists' } });
          else store.set(id, input);
        }
        return ok({ Errors });
      }
      case 'BatchUpdatePartition': {
        if ((body.Entries ?? []).length > 100) return fail('InvalidInputException', 'at most 100 entries');
        const store = partitions.get(tableId) as Map<string, Stored>;
        const Errors = [];
        for (const entry of body.Entries) {
          const id = JSON.stringify(entry.PartitionValueList);
          if (store.has(id)) store.set(id, entry.PartitionInput);
          else Errors.push({ PartitionValueList: entry.PartitionValueList, ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'Partition not found.' } });
        }
        return ok({ Errors });
      }
      case 'BatchDeletePartition': {
        if ((body.PartitionsToDelete ?? []).length > 25) return fail('InvalidInputException', 'at most 25 partitions');
        const store = partitions.get(tableId) as Map<string, Stored>;
        const Errors = [];
        for (const values of body.PartitionsToDelete) {
          if (!store.delete(JSON.stringify(values.Values))) Errors.push({ PartitionValues: values.Values, ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'Partition not found.' } });
        }
        return ok({ Errors });
      }
      default:
        return fail('UnknownOperationException', operation);
    }
  };

  const requestHandler = (client: number): Handler => ({
    async handle(request: { method: string; protocol: string; hostname: string; port?: number; path: string; headers: Record<string, string>; body?: unknown }) {
      const target = request.headers['x-amz-target'] ?? '';
      const operation = target.replace(/^AWSGlue\./, '');
      const text = typeof request.body === 'string' ? request.body : new TextDecoder().decode((request.body ?? new Uint8Array()) as Uint8Array);
      const body = text === '' ? {} : (JSON.parse(text) as Stored);
      await options.delay?.(client, operation);
      requests.push({
        client, operation, target, contentType: request.headers['content-type'] ?? '',
        url: `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`, body,
      });
      const result = answer(operation, structuredClone(body));
      return {
        response: {
          statusCode: result.status,
          reason: result.status === 200 ? 'OK' : 'Bad Request',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `request-${requests.length}` },
          body: Readable.from([new TextEncoder().encode(JSON.stringify(result.body))]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  }) as unknown as Handler;

  let clients = 0;
  const client = () => new GlueClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' },
    maxAttempts: 1,
    requestHandler: requestHandler(clients++),
  });
  return { glue: client(), client, requests, writes: () => requests.filter((request) => !READS.has(request.operation)), tables, partitions };
}
