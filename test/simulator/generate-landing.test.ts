import { describe, expect, it, beforeAll } from 'vitest';
import {
  KEY_PATTERN,
  classifyLanding,
  compareKeys,
  isGzip,
  keyArrivalMs,
  objectText,
  runInMemory,
  sourceOfKey,
  splitRecords,
  type LandingRun,
} from './landing-reader.ts';

const SMALL = { days: 2, users: 40, tasksPerDay: 200 } as const;

describe('generateLanding', () => {
  let run: LandingRun;
  beforeAll(async () => {
    run = await runInMemory({ ...SMALL, seed: 7 });
  });

  it('writes byte-identical objects under the same keys for the same seed', async () => {
    const again = await runInMemory({ ...SMALL, seed: 7 });
    expect([...again.objects.keys()].sort()).toEqual([...run.objects.keys()].sort());
    for (const [key, body] of run.objects) expect(again.objects.get(key)?.equals(body), key).toBe(true);
    expect(again.summary).toEqual(run.summary);
  });

  it('writes different data for a different seed', async () => {
    const other = await runInMemory({ ...SMALL, seed: 8 });
    const keys = new Set(run.objects.keys());
    expect([...other.objects.keys()].filter((key) => keys.has(key))).toEqual([]);
    const eventIds = (objects: Map<string, Buffer>): Set<string> =>
      new Set(classifyLanding(objects).flatMap((r) => (r.verdict.reason === 'ok' && 'good' in r.verdict ? [r.verdict.good.eventId] : [])));
    const ours = eventIds(run.objects);
    expect([...eventIds(other.objects)].filter((id) => ours.has(id))).toEqual([]);
  });

  it('names objects as Firehose does, under the key prefix, .gz exactly when gzipped', async () => {
    for (const [key, body] of run.objects) {
      const match = KEY_PATTERN.exec(key);
      expect(match, key).not.toBeNull();
      if (!match) continue;
      const [, source, year, month, day, hour, stream, year2, month2, day2, hour2] = match;
      expect(stream).toBe(source);
      expect([year2, month2, day2, hour2]).toEqual([year, month, day, hour]);
      expect(key.endsWith('.gz')).toBe(isGzip(body));
    }
    const prefixed = await runInMemory({ ...SMALL, days: 1, keyPrefix: 'raw/cdc/' });
    for (const key of prefixed.objects.keys()) expect(key).toMatch(/^raw\/cdc\/(tasks|users)\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/medallion-/);
  });

  it('gives every object of a stream its own arrival second, so keys sort strictly by arrival', () => {
    for (const source of ['tasks', 'users'] as const) {
      const keys = [...run.objects.keys()].filter((key) => sourceOfKey(key) === source).sort(compareKeys);
      const times = keys.map(keyArrivalMs);
      for (let index = 1; index < times.length; index++) expect(times[index]).toBeGreaterThan(times[index - 1] ?? 0);
    }
  });

  it('mixes gzip and plain objects, newline-delimited and concatenated records', () => {
    const layouts = new Set<string>();
    for (const body of run.objects.values()) {
      const text = objectText(body);
      const { newlineDelimited } = splitRecords(text);
      if (newlineDelimited) expect(text.endsWith('\n')).toBe(true);
      else expect(text.includes('\n')).toBe(false);
      layouts.add(`${isGzip(body) ? 'gzip' : 'plain'}/${newlineDelimited ? 'newline' : 'concatenated'}`);
    }
    expect([...layouts].sort()).toEqual(['gzip/concatenated', 'gzip/newline', 'plain/concatenated', 'plain/newline']);
  });

  it('writes event times in microseconds by default and in milliseconds in a few objects, labelled or not', () => {
    const precisions = new Map<string, number>();
    for (const record of classifyLanding(run.objects)) {
      if (!('good' in record.verdict)) continue;
      const dynamodb = record.verdict.good.record.dynamodb as Record<string, unknown>;
      const label = String(dynamodb.ApproximateCreationDateTimePrecision ?? 'absent');
      const time = dynamodb.ApproximateCreationDateTime as number;
      expect(label === 'MICROSECOND' ? time > 1e15 : time > 1e12 && time < 1e13).toBe(true);
      precisions.set(label, (precisions.get(label) ?? 0) + 1);
    }
    expect([...precisions.keys()].sort()).toEqual(['MICROSECOND', 'MILLISECOND', 'absent']);
    expect(precisions.get('MICROSECOND') ?? 0).toBeGreaterThan(10 * ((precisions.get('MILLISECOND') ?? 0) + (precisions.get('absent') ?? 0)));
  });

  it('writes records in the Kinesis Data Streams for DynamoDB shape', () => {
    const records = classifyLanding(run.objects);
    const good = records.flatMap((record) => ('good' in record.verdict ? [{ ...record.verdict.good, source: record.source }] : []));
    expect(good.length).toBeGreaterThan(500);
    for (const { record, source, eventName } of good) {
      expect(Object.keys(record)).toEqual(['awsRegion', 'eventID', 'eventName', 'userIdentity', 'recordFormat', 'tableName', 'dynamodb', 'eventSource']);
      expect(record).toMatchObject({ awsRegion: 'eu-west-1', recordFormat: 'application/json', eventSource: 'aws:dynamodb' });
      expect(record.tableName).toBe(source === 'tasks' ? 'Tasks' : 'Users');
      expect(record.eventID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const dynamodb = record.dynamodb as Record<string, unknown>;
      expect(Object.keys(dynamodb).filter((name) => name !== 'ApproximateCreationDateTimePrecision')).toEqual([
        'ApproximateCreationDateTime',
        'Keys',
        ...(eventName === 'REMOVE' ? [] : ['NewImage']),
        ...(eventName === 'INSERT' ? [] : ['OldImage']),
        'SizeBytes',
      ]);
      expect(dynamodb.SizeBytes).toBeGreaterThan(0);
      if (record.userIdentity !== null) {
        expect(record.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
        expect(eventName).toBe('REMOVE');
      }
    }
    expect(good.some((record) => record.record.userIdentity !== null)).toBe(true);
  });

  it('writes each hour\'s objects before generating much further (objects stream out in arrival order)', () => {
    // Apart from late objects (held back days on purpose), put order follows arrival within an hour or so.
    let latestMs = 0;
    const lateKeys = new Set(
      [...run.objects.keys()].filter((key) => {
        const times = classifyLanding(new Map([[key, run.objects.get(key) ?? Buffer.alloc(0)]])).flatMap((r) =>
          'good' in r.verdict ? [r.verdict.good.eventTimeUs / 1000] : [],
        );
        return times.length > 0 && keyArrivalMs(key) - Math.max(...times) > 86_400_000;
      }),
    );
    for (const key of run.putOrder) {
      if (lateKeys.has(key)) continue;
      const arrivalMs = keyArrivalMs(key);
      expect(arrivalMs).toBeGreaterThan(latestMs - 2 * 3_600_000);
      latestMs = Math.max(latestMs, arrivalMs);
    }
  });

  it('summarizes what it wrote', () => {
    const { summary } = run;
    expect(summary.objectsWritten).toBe(run.objects.size);
    expect(summary.objectsPerSource.tasks + summary.objectsPerSource.users).toBe(run.objects.size);
    expect(summary.bytesWritten).toBe([...run.objects.values()].reduce((sum, body) => sum + body.length, 0));
    const records = classifyLanding(run.objects);
    expect(summary.recordsPerSource.tasks).toBe(records.filter((r) => r.source === 'tasks').length);
    expect(summary.recordsPerSource.users).toBe(records.filter((r) => r.source === 'users').length);
    expect(summary.eventsPerSource.users.INSERT).toBe(SMALL.users);
    expect(summary.firstEventTime?.startsWith('2025-11-01')).toBe(true);
    expect(summary.lastEventTime?.startsWith('2025-11-02')).toBe(true);
  });
});
