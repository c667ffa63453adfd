import type { AttributeValue, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { MedallionError } from '../core/errors.ts';
import { SOURCES, type CdcEvent, type SourceName } from './cdc-event.ts';
import { parseGenerateOptions, type GenerateOptionsInput } from './generate-options.ts';
import { TodoTraffic } from './todo-traffic.ts';

export interface TrafficSummary {
  /** Item writes per table: puts (creates and updates) and deletes. */
  readonly writes: Record<SourceName, { puts: number; deletes: number }>;
  /** Write requests DynamoDB left unprocessed (throttled) and that were sent again. */
  retried: number;
}

export interface TrafficOptions {
  /** Table names (default `Users` and `Tasks`, as the stack names them). */
  readonly tables?: Partial<Record<SourceName, string>>;
  /** Waits before resending unprocessed items: the first, doubling up to 10 s (default 50 ms). */
  readonly retryBaseMs?: number;
}

const BATCH_ITEMS = 25;
const MAX_RETRIES = 12;

/**
 * Replays the simulated Todo API traffic (the same users and tasks `generateLanding` describes for the
 * same options) as writes to the `Users` and `Tasks` DynamoDB tables, in event-time order: a create or
 * update puts the item's new image, a delete (including what TTL deletes in the landing data) deletes it.
 * The tables' streams then carry real change data through Kinesis and Firehose. Writes go in batches of
 * 25 with distinct keys; what DynamoDB leaves unprocessed is sent again with backoff.
 *
 * @example
 * await generateTraffic(new DynamoDBClient({}), { days: 1, users: 50, seed: 7 });
 */
export async function generateTraffic(client: DynamoDBClient, options: GenerateOptionsInput = {}, traffic: TrafficOptions = {}): Promise<TrafficSummary> {
  const parsed = parseGenerateOptions(options);
  const summary: TrafficSummary = { writes: { tasks: { puts: 0, deletes: 0 }, users: { puts: 0, deletes: 0 } }, retried: 0 };
  const tables: Record<SourceName, string> = { users: traffic.tables?.users ?? SOURCES.users.tableName, tasks: traffic.tables?.tasks ?? SOURCES.tasks.tableName };
  let hourEvents: CdcEvent[] = [];
  const simulation = new TodoTraffic(parsed, (event) => hourEvents.push(event));
  for (let hour = 0; hour < simulation.hourCount; hour++) {
    simulation.generateHour(hour);
    const events = hourEvents.sort((a, b) => a.eventTimeMs - b.eventTimeMs || a.sequence - b.sequence);
    hourEvents = [];
    // One batch never holds two writes to one item: a key seen twice ends the batch.
    let batch: { table: string; request: WriteRequest; key: string }[] = [];
    const flush = async () => {
      await writeBatch(client, batch, summary, traffic.retryBaseMs ?? 50);
      batch = [];
    };
    for (const event of events) {
      const key = `${event.source}:${event.keysJson}`;
      if (batch.length === BATCH_ITEMS || batch.some((entry) => entry.key === key)) await flush();
      const request: WriteRequest = event.eventName === 'REMOVE' || event.newImageJson === undefined
        ? { DeleteRequest: { Key: JSON.parse(event.keysJson) as Record<string, AttributeValue> } }
        : { PutRequest: { Item: { ...(JSON.parse(event.newImageJson) as Record<string, AttributeValue>), ...(JSON.parse(event.keysJson) as Record<string, AttributeValue>) } } };
      summary.writes[event.source][request.DeleteRequest ? 'deletes' : 'puts'] += 1;
      batch.push({ table: tables[event.source], request, key });
    }
    if (batch.length > 0) await flush();
  }
  return summary;
}

async function writeBatch(client: DynamoDBClient, batch: readonly { table: string; request: WriteRequest }[], summary: TrafficSummary, baseMs: number): Promise<void> {
  let pending: Record<string, WriteRequest[]> = {};
  for (const { table, request } of batch) (pending[table] ??= []).push(request);
  for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
    if (attempt > MAX_RETRIES) {
      const left = Object.values(pending).reduce((sum, requests) => sum + requests.length, 0);
      throw new MedallionError('TRAFFIC_WRITE_FAILED', `DynamoDB left ${left} writes to ${Object.keys(pending).join(', ')} unprocessed after ${MAX_RETRIES} retries (throttled)`, {
        hint: "try again later or raise the tables' capacity",
      });
    }
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)));
    let unprocessed: Record<string, WriteRequest[]> | undefined;
    try {
      // Loaded here, as the client was: the simulator's landing path needs no AWS SDK.
      const { BatchWriteItemCommand } = await import('@aws-sdk/client-dynamodb');
      ({ UnprocessedItems: unprocessed } = await client.send(new BatchWriteItemCommand({ RequestItems: pending })));
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      throw new MedallionError('TRAFFIC_WRITE_FAILED', `writing to DynamoDB table ${Object.keys(pending).join(', ')}: ${name}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        hint: 'check the table names (--users-table, --tasks-table), the region and --endpoint-url',
      });
    }
    pending = Object.fromEntries(Object.entries(unprocessed ?? {}).filter(([, requests]) => (requests?.length ?? 0) > 0)) as Record<string, WriteRequest[]>;
    summary.retried += Object.values(pending).reduce((sum, requests) => sum + requests.length, 0);
  }
}
