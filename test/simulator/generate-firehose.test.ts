import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bufferIo, invoke } from '../../cli/index.ts';
import { generateLanding, type GenerateSummary } from '../../simulator/index.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { useTempDirs } from '../core/test-resources.ts';

/**
 * `medallion generate --to firehose` through the real @aws-sdk/client-firehose, against a loopback endpoint speaking
 * Firehose's JSON protocol (no Firehose runs offline): PutRecordBatch within its limits, the records refused in a batch
 * sent again, and the same change records generateLanding describes for the same options. Not run against a real account.
 */

const tempDir = useTempDirs();
interface Call { stream: string; records: string[]; bytes: number }
const calls: Call[] = [];
let refuseNext = 0;
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target']);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { DeliveryStreamName: string; Records: { Data: string }[] };
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'Firehose_20150804.PutRecordBatch') {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'InvalidArgumentException', message: `${target} is not served here` }));
        return;
      }
      const records = body.Records.map((record) => Buffer.from(record.Data, 'base64').toString('utf8'));
      // Refuse the first `refuseNext` records of this call, as Firehose does under load (the rest go in).
      const refused = Math.min(refuseNext, records.length);
      refuseNext = 0;
      calls.push({ stream: body.DeliveryStreamName, records: records.slice(refused), bytes: records.reduce((sum, record) => sum + Buffer.byteLength(record), 0) });
      response.end(JSON.stringify({
        FailedPutCount: refused,
        Encrypted: false,
        RequestResponses: records.map((_, index) => (index < refused ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' } : { RecordId: `r-${calls.length}-${index}` })),
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const [name, value] of Object.entries({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })) vi.stubEnv(name, value);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => server.close(resolve));
});

describe('medallion generate --to firehose', () => {
  it('puts every change record once, to its source\'s stream, in batches within PutRecordBatch\'s limits, resending what a batch refused', async () => {
    const options = ['--days', '3', '--users', '40', '--tasks-per-day', '400', '--seed', '13', '--start', '2025-11-01'];
    refuseNext = 7;
    const io = bufferIo();
    const code = await invoke(['generate', '--to', 'firehose', '--tasks-stream', 'load-tasks', '--users-stream', 'load-users', ...options, '--format', 'json'], { io, env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_FIREHOSE: url } });
    expect(code, io.stderr()).toBe(0);
    const sent = JSON.parse(io.stdout()) as { records: Record<string, number>; batches: number; retried: number };
    expect(sent.retried).toBe(7);
    for (const call of calls) {
      expect(call.records.length + (call === calls[0] ? 7 : 0)).toBeLessThanOrEqual(500);
      expect(call.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    }
    const received = (stream: string) => calls.filter((call) => call.stream === stream).flatMap((call) => call.records);
    const tasks = received('load-tasks');
    const users = received('load-users');
    expect([tasks.length, users.length]).toEqual([sent.records.tasks, sent.records.users]);
    // Each record once, a line of the change record JSON, of its own table.
    const ids = [...tasks, ...users].map((line) => (JSON.parse(line) as { eventID: string }).eventID);
    expect(new Set(ids).size).toBe(ids.length);
    expect(tasks.every((line) => line.endsWith('\n') && (JSON.parse(line) as { tableName: string }).tableName === 'Tasks')).toBe(true);
    expect(users.every((line) => (JSON.parse(line) as { tableName: string }).tableName === 'Users')).toBe(true);
    // The events generateLanding writes as files for the same options, without faults.
    const landed: GenerateSummary = await generateLanding(new LocalStorage(await tempDir('firehose')), { days: 3, users: 40, tasksPerDay: 400, seed: 13, start: '2025-11-01', faultRate: 0 });
    const events = (source: 'tasks' | 'users') => Object.values(landed.eventsPerSource[source]).reduce((sum, count) => sum + count, 0);
    expect([tasks.length, users.length]).toEqual([events('tasks'), events('users')]);
    expect(calls.length).toBeGreaterThan(2);
  }, 60_000);

  it('needs both streams, refused as a usage error', async () => {
    const io = bufferIo();
    expect(await invoke(['generate', '--to', 'firehose', '--tasks-stream', 'x'], { io, env: {} })).toBe(2);
    expect(io.stderr()).toMatch(/--to firehose needs --tasks-stream NAME and --users-stream NAME/);
  });
});
