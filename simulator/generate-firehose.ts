import type { FirehoseClient, _Record } from '@aws-sdk/client-firehose';
import { MedallionError } from '../core/errors.ts';
import { SOURCE_NAMES, type CdcEvent, type SourceName } from './cdc-event.ts';
import { parseGenerateOptions, type GenerateOptionsInput } from './generate-options.ts';
import { serializeKdsRecord } from './kds-record.ts';
import { TodoTraffic } from './todo-traffic.ts';

/** What `generateFirehose` sent. */
export interface FirehoseSummary {
  /** Change records put per delivery stream's source. */
  readonly records: Record<SourceName, number>;
  batches: number;
  /** Records Firehose refused in a batch (throttled, or failed inside) and that were sent again. */
  retried: number;
}

/** PutRecordBatch's limits: 500 records and 4 MiB a call, 1,000 KiB a record. */
export const FIREHOSE_BATCH_RECORDS = 500;
export const FIREHOSE_BATCH_BYTES = 4 * 1024 * 1024;
const FIREHOSE_RECORD_BYTES = 1000 * 1024;
const MAX_RETRIES = 12;

/**
 * Sends the simulated Todo API change records (those `generateLanding` writes for the same options, without its
 * faults) to Firehose delivery streams, one per source, as PutRecordBatch calls within its limits, in event-time
 * order, each record one line of the change record JSON that DynamoDB's Kinesis stream carries. A load generator for
 * a delivery stream that takes direct puts; the stack's own streams read their Kinesis source instead, which
 * `generate --to dynamodb` feeds. Records a batch refused (FailedPutCount) are sent again with backoff.
 *
 * @example
 * await generateFirehose(new FirehoseClient({}), { days: 1, users: 50 }, { streams: { tasks: 'load-tasks', users: 'load-users' } });
 */
export async function generateFirehose(client: FirehoseClient, options: GenerateOptionsInput, target: { readonly streams: Readonly<Record<SourceName, string>>; readonly retryBaseMs?: number }): Promise<FirehoseSummary> {
  const parsed = parseGenerateOptions({ ...options, faultRate: 0 });
  const summary: FirehoseSummary = { records: { tasks: 0, users: 0 }, batches: 0, retried: 0 };
  let hourEvents: CdcEvent[] = [];
  const simulation = new TodoTraffic(parsed, (event) => hourEvents.push(event));
  const pending: Record<SourceName, { records: _Record[]; bytes: number }> = { tasks: { records: [], bytes: 0 }, users: { records: [], bytes: 0 } };
  const flush = async (source: SourceName) => {
    const batch = pending[source];
    if (batch.records.length === 0) return;
    pending[source] = { records: [], bytes: 0 };
    await putBatch(client, target.streams[source], batch.records, summary, target.retryBaseMs ?? 100);
    summary.records[source] += batch.records.length;
  };
  for (let hour = 0; hour < simulation.hourCount; hour++) {
    simulation.generateHour(hour);
    const events = hourEvents.sort((a, b) => a.eventTimeMs - b.eventTimeMs || a.sequence - b.sequence);
    hourEvents = [];
    for (const event of events) {
      const data = Buffer.from(`${serializeKdsRecord(event, 'MICROSECOND')}\n`);
      if (data.length > FIREHOSE_RECORD_BYTES) throw new MedallionError('FIREHOSE_PUT_FAILED', `a change record of ${data.length} bytes is over Firehose's 1,000 KiB`);
      const batch = pending[event.source];
      if (batch.records.length === FIREHOSE_BATCH_RECORDS || batch.bytes + data.length > FIREHOSE_BATCH_BYTES) await flush(event.source);
      pending[event.source].records.push({ Data: data });
      pending[event.source].bytes += data.length;
    }
  }
  for (const source of SOURCE_NAMES) await flush(source);
  return summary;
}

async function putBatch(client: FirehoseClient, stream: string, records: readonly _Record[], summary: FirehoseSummary, baseMs: number): Promise<void> {
  let left = [...records];
  for (let attempt = 0; left.length > 0; attempt++) {
    if (attempt > MAX_RETRIES) {
      throw new MedallionError('FIREHOSE_PUT_FAILED', `Firehose refused ${left.length} records of a batch to ${stream} after ${MAX_RETRIES} retries`, { hint: 'try again later, or ask for a higher throughput limit on the delivery stream' });
    }
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)));
    let response;
    try {
      // Loaded here, as the client was: the simulator's landing path needs no AWS SDK.
      const { PutRecordBatchCommand } = await import('@aws-sdk/client-firehose');
      response = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: left }));
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      // Throttled as a whole: the same batch again.
      if (name === 'ServiceUnavailableException' || name === 'ThrottlingException') {
        summary.retried += left.length;
        continue;
      }
      throw new MedallionError('FIREHOSE_PUT_FAILED', `putting records to Firehose delivery stream ${stream}: ${name}: ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'check the delivery stream exists, takes direct puts (not a Kinesis source), and this identity may firehose:PutRecordBatch',
      });
    }
    summary.batches += 1;
    if (!response.FailedPutCount) return;
    // RequestResponses are in the order of the records: those with an ErrorCode go again.
    const responses = response.RequestResponses ?? [];
    left = left.filter((_, index) => responses[index]?.ErrorCode !== undefined);
    summary.retried += left.length;
  }
}
