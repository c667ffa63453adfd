import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  computeExpected,
  eventTimeToUs,
  medianCont,
  parseDate,
  parseTimestampUs,
  scaleRound,
  splitRecords,
} from '../support/oracle.ts';
import { expectPipelineMatchesOracle, queryLake } from '../support/pipeline-check.ts';

// ---------------------------------------------------------------------------------------------
// Fixture helpers
// ---------------------------------------------------------------------------------------------

const lakes: string[] = [];
afterEach(async () => {
  await Promise.all(lakes.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function newLake(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oracle-'));
  lakes.push(dir);
  return dir;
}

async function put(lake: string, key: string, content: string | Buffer): Promise<void> {
  const p = path.join(lake, ...key.split('/'));
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
}

type Json = Record<string, unknown>;
const S = (s: string): Json => ({ S: s });

/** Microseconds of an ISO instant (test side: Date.parse is fine for these well-formed strings). */
function us(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(iso);
  return BigInt(ms) * 1000n;
}

function taskImage(o: {
  title?: string; status: string; due?: string; priority?: string; tags?: string[]; completedAt?: string;
}): Json {
  const img: Json = {
    title: S(o.title ?? 'a task'),
    status: S(o.status),
    createdAt: S('2025-10-01T00:00:00Z'),
    updatedAt: S('2025-10-01T00:00:00Z'),
  };
  if (o.due !== undefined) img['dueDate'] = S(o.due);
  if (o.priority !== undefined) img['priority'] = { N: o.priority };
  if (o.tags !== undefined) img['tags'] = { SS: o.tags };
  if (o.completedAt !== undefined) img['completedAt'] = S(o.completedAt);
  return img;
}

/** A KDS-shaped Tasks record with a microsecond timestamp. */
function task(id: string, name: string, iso: string, user: string, taskId: string, image?: Json): string {
  const dynamodb: Json = {
    ApproximateCreationDateTime: Number(us(iso)),
    ApproximateCreationDateTimePrecision: 'MICROSECOND',
    Keys: { userId: S(user), taskId: S(taskId) },
    SizeBytes: 100,
  };
  if (image) dynamodb['NewImage'] = image;
  return JSON.stringify({ eventID: id, eventName: name, tableName: 'Tasks', eventSource: 'aws:dynamodb', dynamodb });
}

function user(id: string, name: string, iso: string, userId: string, image?: Json): string {
  const dynamodb: Json = {
    ApproximateCreationDateTime: Number(us(iso)),
    ApproximateCreationDateTimePrecision: 'MICROSECOND',
    Keys: { userId: S(userId) },
  };
  if (image) dynamodb['NewImage'] = image;
  return JSON.stringify({ eventID: id, eventName: name, tableName: 'Users', dynamodb });
}

/** A minimal valid Tasks envelope with a given ApproximateCreationDateTime (and precision field). */
function envelope(id: string, time: number, precision?: string): string {
  const dynamodb: Json = { ApproximateCreationDateTime: time, Keys: { userId: S('u1'), taskId: S(`t-${id}`) } };
  if (precision) dynamodb['ApproximateCreationDateTimePrecision'] = precision;
  return JSON.stringify({ eventID: id, eventName: 'INSERT', tableName: 'Tasks', dynamodb });
}

const lines = (...records: string[]): string => records.map((r) => `${r}\n`).join('');

// ---------------------------------------------------------------------------------------------
// Unit checks of the small parsers
// ---------------------------------------------------------------------------------------------

describe('parsers', () => {
  it('parses timestamps strictly to UTC microseconds', () => {
    expect(parseTimestampUs('1970-01-01T00:00:00Z')).toBe(0n);
    expect(parseTimestampUs('1969-12-31T23:59:59.999999Z')).toBe(-1n);
    expect(parseTimestampUs('2025-11-01T10:00:00.5+02:00')).toBe(us('2025-11-01T08:00:00.500Z'));
    expect(parseTimestampUs('2025-11-01T10:00:00.123456-01:30')).toBe(us('2025-11-01T11:30:00Z') + 123456n);
    expect(parseTimestampUs('2024-02-29T00:00:00Z')).toBe(us('2024-02-29T00:00:00Z'));
    for (const bad of [
      '2023-02-29T00:00:00Z', // not a leap year
      '2025-04-31T00:00:00Z',
      '2025-11-01T24:00:00Z',
      '2025-11-01T10:60:00Z',
      '2025-11-01T10:00:60Z',
      '2025-11-01T10:00:00.1234567Z', // 7 fraction digits
      '2025-11-01T10:00:00', // no zone
      '2025-11-01 10:00:00Z',
      '2025-11-01T10:00:00+0200',
      '2025-11-01T10:00Z',
      '2025-11-01t10:00:00z',
      ' 2025-11-01T10:00:00Z',
    ]) {
      expect(parseTimestampUs(bad), bad).toBeNull();
    }
  });

  it('validates dates', () => {
    expect(parseDate('2024-02-29')).toBe('2024-02-29');
    expect(parseDate('2100-02-29')).toBeNull();
    expect(parseDate('2025-13-01')).toBeNull();
    expect(parseDate('2025-1-01')).toBeNull();
  });

  it('scales event times exactly', () => {
    expect(eventTimeToUs(1762000000, undefined)).toBe(1762000000000000n); // seconds by magnitude
    expect(eventTimeToUs(1762000000.5, undefined)).toBe(1762000000500000n);
    expect(eventTimeToUs(1762000000123, undefined)).toBe(1762000000123000n); // ms by magnitude
    expect(eventTimeToUs(1762000000123456, undefined)).toBe(1762000000123456n); // us by magnitude
    expect(eventTimeToUs(1762000000123, 'MICROSECOND')).toBe(1762000000123n); // the field wins
    expect(eventTimeToUs(1762000000, 'MILLISECOND')).toBe(1762000000000n);
    expect(eventTimeToUs(1762000000123.4567, 'MILLISECOND')).toBe(1762000000123457n); // rounded
    expect(scaleRound(-2.5, 0)).toBe(-3n);
    expect(scaleRound(1e21, 0)).toBe(10n ** 21n);
  });

  it('splits records by newline or by scanning JSON values', () => {
    // Any newline before the trailing whitespace makes the object newline-delimited.
    expect(splitRecords('{"a":"}{"}{"b":{"c":1}}\n').map((r) => r.text)).toEqual(['{"a":"}{"}', '{"b":{"c":1}}']);
    expect(splitRecords('{"a":1}\n{"b":2}{"c":3}\n').map((r) => r.text)).toEqual(['{"a":1}', '{"b":2}{"c":3}']);
    expect(splitRecords('{"a":"}{"} {"b":{"c":"\\"}"}}x{"d":1}  ').map((r) => r.text)).toEqual([
      '{"a":"}{"}',
      '{"b":{"c":"\\"}"}}',
      'x',
      '{"d":1}',
    ]);
    expect(splitRecords('"s"[1,{"a":[2]}]true{"z":1}').map((r) => r.text)).toEqual(['"s"', '[1,{"a":[2]}]', 'true', '{"z":1}']);
    expect(splitRecords('{"a":1}{"b":').map((r) => r.text)).toEqual(['{"a":1}', '{"b":']);
    expect(splitRecords('\n\n{"a":1}\r\n\n  \n{"b":\nzz').map((r) => r.text)).toEqual(['{"a":1}', '{"b":', 'zz']);
    expect(splitRecords(' \n\t ')).toEqual([]);
  });

  it('interpolates the median like quantile_cont(0.5)', () => {
    expect(medianCont([])).toBeNull();
    expect(medianCont([5])).toBe(5);
    expect(medianCont([4, 1, 3, 2])).toBe(2.5);
    expect(medianCont([84, 60, 70])).toBe(70);
  });
});

// ---------------------------------------------------------------------------------------------
// Landing formats and bronze
// ---------------------------------------------------------------------------------------------

describe('landing formats and bronze', () => {
  it('splits gzip / plain, newline / concatenated objects and applies the envelope checks', async () => {
    const lake = await newLake();
    const dir = 'landing/tasks/2025/11/01/00';
    const name = (s: string): string => `${dir}/tasks-1-2025-11-01-00-00-00-${s}`;

    // a: gzip, newline-delimited, with a blank line between the records.
    await put(lake, name('a.gz'), zlib.gzipSync(`${envelope('e1', 1762000000123456, 'MICROSECOND')}\n\n${envelope('e2', 1762000000123, 'MILLISECOND')}\n`));
    // b: gzip although the name has no .gz, concatenated.
    await put(lake, name('b'), zlib.gzipSync(`${envelope('e3', 1762000000123)}${envelope('e4', 1762000000.5)}`));
    // c: plain text although named .gz, concatenated with whitespace between records.
    await put(lake, name('c.gz'), ` ${envelope('e5', 1762000000123456)} \n\t ${envelope('e6', 1762000000123.4567, 'MILLISECOND')}`);
    // d: plain newline-delimited, every bronze quarantine reason (in a later arrival folder).
    const noTask = JSON.parse(envelope('q8', 1762000000)) as { dynamodb: { Keys: Json } };
    noTask.dynamodb.Keys['taskId'] = { N: '1' };
    const emptyUser = JSON.parse(envelope('q9', 1762000000)) as { dynamodb: { Keys: Json } };
    emptyUser.dynamodb.Keys['userId'] = S('');
    const streamsShape = JSON.stringify({
      eventID: 'e7', eventName: 'MODIFY', eventSource: 'aws:dynamodb',
      eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Tasks/stream/2025-11-01T00:00:00.000',
      dynamodb: {
        ApproximateCreationDateTime: 1762000000, Keys: { userId: S('u1'), taskId: S('t7') },
        SequenceNumber: '111122223333444455556666', SizeBytes: 187, StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    await put(lake, 'landing/tasks/2025/11/02/13/tasks-1-2025-11-02-13-59-59-d', lines(
      '{"eventID": "x", oops}', // 0 invalid_json
      '[1,2]', // 1 not_an_object
      '"just a string"', // 2 not_an_object
      JSON.stringify({ eventID: '', eventName: 'BAD', dynamodb: {} }), // 3 missing_event_id (first failing check)
      JSON.stringify({ eventID: 7, eventName: 'INSERT' }), // 4 missing_event_id
      JSON.stringify({ eventID: 'q5', eventName: 'UPDATE', dynamodb: { ApproximateCreationDateTime: 1 } }), // 5 unknown_event_name
      JSON.stringify({ eventID: 'q6', eventName: 'INSERT', dynamodb: { ApproximateCreationDateTime: '1762000000' } }), // 6 missing_event_time
      JSON.stringify({ eventID: 'q7', eventName: 'REMOVE' }), // 7 missing_event_time
      JSON.stringify(noTask), // 8 missing_key
      JSON.stringify(emptyUser), // 9 missing_key
      streamsShape, // 10 ok
      'null', // 11 not_an_object
    ));
    // e: two gzip members, with record e8 split across them.
    const eText = `${envelope('e8', 1762000008)}\n${envelope('e9', 1762000009)}\n`;
    await put(lake, name('e.gz'), Buffer.concat([zlib.gzipSync(eText.slice(0, 30)), zlib.gzipSync(eText.slice(30))]));
    // f: stored (level 0) gzip cut in the middle of the second record: e10 kept, then corrupt_gzip.
    const e10 = envelope('e10', 1762000010);
    const fText = `${e10}\n${envelope('e11', 1762000011)}\n`;
    const stored = zlib.gzipSync(fText, { level: 0 });
    await put(lake, name('f.gz'), stored.subarray(0, 10 + 5 + e10.length + 1 + 20));
    // g: gzip with a wrong CRC: both records decoded, then corrupt_gzip.
    const g = zlib.gzipSync(`${envelope('e12', 1762000012)}${envelope('e13', 1762000013)}`);
    g.writeUInt32LE(g.readUInt32LE(g.length - 8) ^ 1, g.length - 8);
    await put(lake, name('g.gz'), g);
    // h: a complete member followed by junk: e14, then corrupt_gzip.
    await put(lake, name('h.gz'), Buffer.concat([zlib.gzipSync(`${envelope('e14', 1762000014)}\n`), Buffer.from('junk')]));
    // i, j: empty and blank objects have no records.
    await put(lake, name('i'), '');
    await put(lake, name('j'), ' \n\n ');
    // A users object: a users record needs no taskId.
    await put(lake, 'landing/users/2025/11/01/00/users-1-2025-11-01-00-00-00-u.gz', zlib.gzipSync(
      JSON.stringify({ eventID: 'u1', eventName: 'INSERT', dynamodb: { ApproximateCreationDateTime: 1762000000, Keys: { userId: S('u1') } } }),
    ));

    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    const b = exp.bronze.tasks;
    // f's partial second record is a record of its own (invalid_json) before the corrupt_gzip one.
    expect(b.records).toBe(28);
    expect(b.rows).toBe(13);
    expect(b.quarantined).toEqual({
      invalid_json: 2, not_an_object: 3, missing_event_id: 2, unknown_event_name: 1,
      missing_event_time: 2, missing_key: 2, corrupt_gzip: 3,
    });
    expect(b.table.map((r) => [r.event_id, r.source_object.slice(dir.length + 1), r.record_index])).toEqual([
      ['e1', 'tasks-1-2025-11-01-00-00-00-a.gz', 0],
      ['e2', 'tasks-1-2025-11-01-00-00-00-a.gz', 1],
      ['e3', 'tasks-1-2025-11-01-00-00-00-b', 0],
      ['e4', 'tasks-1-2025-11-01-00-00-00-b', 1],
      ['e5', 'tasks-1-2025-11-01-00-00-00-c.gz', 0],
      ['e6', 'tasks-1-2025-11-01-00-00-00-c.gz', 1],
      ['e8', 'tasks-1-2025-11-01-00-00-00-e.gz', 0],
      ['e9', 'tasks-1-2025-11-01-00-00-00-e.gz', 1],
      ['e10', 'tasks-1-2025-11-01-00-00-00-f.gz', 0],
      ['e12', 'tasks-1-2025-11-01-00-00-00-g.gz', 0],
      ['e13', 'tasks-1-2025-11-01-00-00-00-g.gz', 1],
      ['e14', 'tasks-1-2025-11-01-00-00-00-h.gz', 0],
      // 'landing/tasks/2025/11/02/...' sorts after every 'landing/tasks/2025/11/01/...' key
      ['e7', 'landing/tasks/2025/11/02/13/tasks-1-2025-11-02-13-59-59-d'.slice(dir.length + 1), 10],
    ]);
    const byId = new Map(b.table.map((r) => [r.event_id, r]));
    expect(byId.get('e1')?.event_ts_us).toBe(1762000000123456n);
    expect(byId.get('e2')?.event_ts_us).toBe(1762000000123000n);
    expect(byId.get('e3')?.event_ts_us).toBe(1762000000123000n);
    expect(byId.get('e4')?.event_ts_us).toBe(1762000000500000n);
    expect(byId.get('e5')?.event_ts_us).toBe(1762000000123456n);
    expect(byId.get('e6')?.event_ts_us).toBe(1762000000123457n);
    expect(byId.get('e7')).toMatchObject({
      event_name: 'MODIFY', event_ts_us: 1762000000000000n, table_name: 'Tasks', size_bytes: 187,
      source_object: 'landing/tasks/2025/11/02/13/tasks-1-2025-11-02-13-59-59-d', ingest_date: '2025-11-02',
      keys: { userId: S('u1'), taskId: S('t7') }, new_image: null, old_image: null,
    });
    expect(byId.get('e1')).toMatchObject({ table_name: 'Tasks', ingest_date: '2025-11-01', source_object: name('a.gz') });
    expect(b.quarantine.map((q) => [q.source_object.split('-').pop(), q.record_index, q.reason])).toEqual([
      ['f.gz', 1, 'invalid_json'],
      ['f.gz', 2, 'corrupt_gzip'],
      ['g.gz', 2, 'corrupt_gzip'],
      ['h.gz', 1, 'corrupt_gzip'],
      ['d', 0, 'invalid_json'],
      ['d', 1, 'not_an_object'],
      ['d', 2, 'not_an_object'],
      ['d', 3, 'missing_event_id'],
      ['d', 4, 'missing_event_id'],
      ['d', 5, 'unknown_event_name'],
      ['d', 6, 'missing_event_time'],
      ['d', 7, 'missing_event_time'],
      ['d', 8, 'missing_key'],
      ['d', 9, 'missing_key'],
      ['d', 11, 'not_an_object'],
    ]);
    expect(exp.bronze.users).toMatchObject({ records: 1, rows: 1, quarantined: {} });
    expect(exp.bronze.users.table[0]).toMatchObject({ event_id: 'u1', event_ts_us: 1762000000000000n, table_name: null });

    // The other reading of a broken stream's partial last record: folded into the corrupt_gzip record.
    const merged = await computeExpected(lake, { brokenGzipTail: 'merge' });
    expect(merged.bronze.tasks.records).toBe(27);
    expect(merged.bronze.tasks.quarantined).toMatchObject({ invalid_json: 1, corrupt_gzip: 3 });
  });

  it('keeps what a corrupt deflate stream decoded before the error', async () => {
    const lake = await newLake();
    const good = Array.from({ length: 40 }, (_, i) => envelope(`c${i}`, 1762000000 + i)).join('\n') + '\n';
    const bad = zlib.gzipSync(Buffer.from(`${good}${'{"tail":"never decoded"}\n'.repeat(50)}`), { level: 0 });
    // Level 0 is stored blocks: break the first stored block's length check (LEN vs NLEN) after
    // a complete first member, so the second member yields nothing.
    const broken = Buffer.from(bad);
    broken[10 + 3] = (broken[10 + 3] ?? 0) ^ 0xff;
    await put(lake, 'landing/tasks/2025/11/01/00/tasks-1-2025-11-01-00-00-00-x.gz', Buffer.concat([zlib.gzipSync(good), broken]));
    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    expect(exp.bronze.tasks.records).toBe(41);
    expect(exp.bronze.tasks.rows).toBe(40);
    expect(exp.bronze.tasks.quarantine).toEqual([
      expect.objectContaining({ record_index: 40, reason: 'corrupt_gzip' }),
    ]);
  });

  it("quarantines Firehose's error output as firehose_error with its errorCode, never as data, and the good records around it go through", async () => {
    const lake = await newLake();
    const good = (id: string) => task(id, 'INSERT', '2025-11-01T10:00:00Z', 'u1', `t-${id}`, taskImage({ status: 'todo' }));
    // rawData is a perfectly good change record: Firehose could not deliver it, so it is not data here.
    const failed = (code: string, record: string) =>
      JSON.stringify({ attemptsMade: 4, arrivalTimestamp: 1762000000000, errorCode: code, errorMessage: `${code} happened`, rawData: Buffer.from(record).toString('base64') });
    await put(lake, 'landing/tasks/errors/processing-failed/2025/11/01/00/tasks-1-2025-11-01-00-00-00-e.gz',
      zlib.gzipSync(lines(failed('S3.AccessDenied', good('lost-1')), failed('KMS.DisabledException', good('lost-2')), 'not even JSON')));
    // An error record that ended up among the data records.
    await put(lake, 'landing/tasks/2025/11/01/00/tasks-1-2025-11-01-00-00-00-d', lines(good('a'), failed('S3.AccessDenied', good('lost-3')), good('b')));
    const { expected, lake: opened } = await expectPipelineMatchesOracle(lake);
    expect(expected.bronze.tasks.table.map((row) => row.event_id)).toEqual(['a', 'b']);
    expect(expected.silver.tasks.events.map((row) => row.event_id)).toEqual(['a', 'b']);
    expect(expected.bronze.tasks.quarantine.map((q) => [q.source_object.split('-').pop(), q.record_index, q.reason])).toEqual([
      ['d', 1, 'firehose_error'], ['e.gz', 0, 'firehose_error'], ['e.gz', 1, 'firehose_error'], ['e.gz', 2, 'firehose_error'],
    ]);
    const reasons = await queryLake(opened, "SELECT record_index, reason FROM quarantine.records WHERE source_object LIKE '%-e.gz' ORDER BY record_index");
    expect(reasons.map((row) => row.reason)).toEqual([
      expect.stringMatching(/^Firehose could not deliver the record: S3\.AccessDenied: S3\.AccessDenied happened \(4 attempts\)/),
      expect.stringMatching(/^Firehose could not deliver the record: KMS\.DisabledException: /),
      expect.stringMatching(/^Firehose could not deliver the record: no errorCode/),
    ]);
  });

  it('rejects a landing file outside the YYYY/MM/DD/HH layout', async () => {
    const lake = await newLake();
    await put(lake, 'landing/tasks/stray.json', '{}');
    await expect(computeExpected(lake)).rejects.toThrow(/landing\/tasks\/stray\.json/);
  });

  it('returns empty results for an empty lake', async () => {
    const lake = await newLake();
    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    expect(exp.bronze.tasks).toEqual({ records: 0, rows: 0, quarantined: {}, table: [], quarantine: [] });
    expect(exp.silver.users.current).toEqual([]);
    expect(exp.gold.daily_task_kpis).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Silver: typing and quarantine
// ---------------------------------------------------------------------------------------------

describe('silver typing', () => {
  it('types images and quarantines with the first failing reason', async () => {
    const lake = await newLake();
    const t = '2025-11-03T10:00:00Z';
    const img = (patch: Json, drop: string[] = []): Json => {
      const base = taskImage({ status: 'todo' });
      for (const d of drop) delete base[d];
      return { ...base, ...patch };
    };
    await put(lake, 'landing/tasks/2025/11/03/10/tasks-1-2025-11-03-10-00-00-s1', lines(
      task('ok1', 'INSERT', t, 'u1', 't1', {
        ...taskImage({ title: 'Renew passport', status: 'done', priority: '3', due: '2025-11-30', tags: ['travel', 'admin', 'Zeta'] }),
        createdAt: S('2025-11-01T10:00:00.5+02:00'),
        updatedAt: S('2025-11-02T00:00:00Z'),
        completedAt: S('2025-11-02T23:30:00-01:00'),
        userId: S('ignored'),
      }),
      task('ok2', 'MODIFY', t, 'u1', 't2', img({ dueDate: { NULL: true }, priority: { NULL: true } })),
      task('ok3', 'REMOVE', t, 'u1', 't3'), // REMOVE: no image, always passes
      task('q1', 'MODIFY', t, 'u1', 't4'), // missing_new_image
      task('q2', 'INSERT', t, 'u1', 't5', img({ title: { N: '1' }, status: S('closed') })), // wrong_attribute_type (title first)
      task('q3', 'INSERT', t, 'u1', 't6', img({}, ['title'])), // missing_attribute
      task('q4', 'INSERT', t, 'u1', 't7', img({ title: { NULL: true } })), // missing_attribute (NULL)
      task('q5', 'INSERT', t, 'u1', 't8', img({ status: S('closed'), dueDate: S('2025-02-30') })), // invalid_status (before date)
      task('q6', 'INSERT', t, 'u1', 't9', img({ priority: { N: '5' } })), // invalid_priority
      task('q7', 'INSERT', t, 'u1', 't10', img({ priority: { N: '2.0' } })), // invalid_priority
      task('q8', 'INSERT', t, 'u1', 't11', img({ priority: S('2') })), // wrong_attribute_type
      task('q9', 'INSERT', t, 'u1', 't12', img({ dueDate: S('2025-02-30') })), // invalid_date
      task('q10', 'INSERT', t, 'u1', 't13', img({ tags: { L: [S('a')] } })), // wrong_attribute_type
      task('q11', 'INSERT', t, 'u1', 't14', img({ createdAt: S('2025-11-01 10:00:00Z') })), // invalid_timestamp
      task('q12', 'INSERT', t, 'u1', 't15', img({ completedAt: S('2025-11-01T25:00:00Z') })), // invalid_timestamp
      task('q13', 'INSERT', t, 'u1', 't16', img({}, ['updatedAt'])), // missing_attribute
      task('q14', 'INSERT', t, 'u1', 't17', img({ status: S('done') }, ['createdAt'])), // missing_attribute
    ));
    // A later object repeats a quarantined event and a good one, each with other content: both are quarantined
    // as conflicting duplicates (the first copy is the event, whatever became of it).
    await put(lake, 'landing/tasks/2025/11/03/11/tasks-1-2025-11-03-11-00-00-s2', lines(
      task('q1', 'MODIFY', t, 'u1', 't4', img({})),
      task('ok1', 'MODIFY', t, 'u1', 't1', img({ status: S('in_progress') })),
    ));
    await put(lake, 'landing/users/2025/11/03/10/users-1-2025-11-03-10-00-00-s1', lines(
      user('v1', 'INSERT', t, 'u1', { email: S('a@x.io'), name: S('Ann'), plan: S('pro'), createdAt: S('2025-01-01T00:00:00Z'), country: S('FR') }),
      user('v2', 'INSERT', t, 'u2', { email: S('b@x.io'), name: S('Bob'), plan: S('free'), createdAt: S('2025-01-01T00:00:00Z') }),
      user('v3', 'INSERT', t, 'u3', { email: S('c@x.io'), name: S('Cy'), plan: S('enterprise'), createdAt: S('bad') }), // invalid_plan
      user('v4', 'INSERT', t, 'u4', { name: S('Di'), plan: S('free'), createdAt: S('2025-01-01T00:00:00Z') }), // missing_attribute
      user('v5', 'INSERT', t, 'u5', { email: S('e@x.io'), name: S('Ed'), plan: S('team'), createdAt: S('2025-13-01T00:00:00Z') }), // invalid_timestamp
      user('v6', 'INSERT', t, 'u6', { email: S('f@x.io'), name: S('Flo'), plan: S('team'), createdAt: S('2025-01-01T00:00:00Z'), country: { N: '33' } }), // wrong_attribute_type
    ));

    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    const s = exp.silver.tasks;
    expect(exp.bronze.tasks.rows).toBe(19);
    expect(s.duplicates).toBe(0);
    expect(s.effective).toBe(3);
    expect(s.quarantined).toEqual({
      missing_new_image: 1, wrong_attribute_type: 3, missing_attribute: 4, invalid_status: 1,
      invalid_priority: 2, invalid_date: 1, invalid_timestamp: 2, conflicting_duplicate: 2,
    });
    expect(s.effective + s.duplicates + s.quarantine.length).toBe(exp.bronze.tasks.rows);
    expect(s.quarantine.map((q) => [q.event_id, q.reason])).toEqual([
      ['q1', 'missing_new_image'], ['q2', 'wrong_attribute_type'], ['q3', 'missing_attribute'],
      ['q4', 'missing_attribute'], ['q5', 'invalid_status'], ['q6', 'invalid_priority'],
      ['q7', 'invalid_priority'], ['q8', 'wrong_attribute_type'], ['q9', 'invalid_date'],
      ['q10', 'wrong_attribute_type'], ['q11', 'invalid_timestamp'], ['q12', 'invalid_timestamp'],
      ['q13', 'missing_attribute'], ['q14', 'missing_attribute'], ['q1', 'conflicting_duplicate'], ['ok1', 'conflicting_duplicate'],
    ]);
    expect(s.events[0]).toEqual({
      event_id: 'ok1', event_name: 'INSERT', deleted_by_ttl: false, event_ts_us: us(t), event_date: '2025-11-03', sequence_number: null,
      user_id: 'u1', task_id: 't1', title: 'Renew passport', status: 'done', priority: 3, due_date: '2025-11-30',
      tags: ['Zeta', 'admin', 'travel'],
      created_at: us('2025-11-01T08:00:00.500Z'), updated_at: us('2025-11-02T00:00:00Z'),
      completed_at: us('2025-11-03T00:30:00Z'),
      source_object: 'landing/tasks/2025/11/03/10/tasks-1-2025-11-03-10-00-00-s1', record_index: 0,
    });
    expect(s.events[1]).toMatchObject({ event_id: 'ok2', priority: null, due_date: null, tags: null, completed_at: null });
    expect(s.events[2]).toMatchObject({
      event_id: 'ok3', event_name: 'REMOVE', user_id: 'u1', task_id: 't3', title: null, status: null,
      created_at: null, updated_at: null,
    });
    // t3's last event is a REMOVE: absent from the current state.
    expect(s.current.map((r) => r.task_id)).toEqual(['t1', 't2']);

    const u = exp.silver.users;
    expect(u.quarantined).toEqual({ invalid_plan: 1, missing_attribute: 1, invalid_timestamp: 1, wrong_attribute_type: 1 });
    expect(u.current).toEqual([
      expect.objectContaining({ user_id: 'u1', email: 'a@x.io', name: 'Ann', plan: 'pro', country: 'FR', created_at: us('2025-01-01T00:00:00Z') }),
      expect.objectContaining({ user_id: 'u2', plan: 'free', country: null }),
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Silver: dedup and current state
// ---------------------------------------------------------------------------------------------

describe('silver current state', () => {
  it('applies event order, not arrival order', async () => {
    const lake = await newLake();
    const o1 = 'landing/tasks/2025/11/10/10/tasks-1-2025-11-10-10-00-00-o1';
    const o2 = 'landing/tasks/2025/11/10/11/tasks-1-2025-11-10-11-00-00-o2.gz';
    const at = (hhmm: string): string => `2025-11-10T${hhmm}:00Z`;
    await put(lake, o1, [
      task('a2', 'MODIFY', at('10:05'), 'u1', 'a', taskImage({ status: 'in_progress' })), // arrives before its INSERT
      task('b1', 'INSERT', at('10:00'), 'u1', 'b', taskImage({ status: 'todo' })),
      task('b3', 'MODIFY', at('10:30'), 'u1', 'b', taskImage({ status: 'done' })),
      task('c1', 'INSERT', at('10:00'), 'u1', 'c', taskImage({ status: 'todo' })),
      task('c2', 'REMOVE', at('10:10'), 'u1', 'c'),
      task('d1', 'INSERT', at('10:00'), 'u1', 'd', taskImage({ status: 'todo' })),
      task('e1', 'MODIFY', at('10:00'), 'u1', 'e', taskImage({ status: 'todo', title: 'e-first' })),
      task('e2', 'MODIFY', at('10:00'), 'u1', 'e', taskImage({ status: 'todo', title: 'e-second' })), // same ts, later index
      task('f1', 'MODIFY', at('10:00'), 'u1', 'f', taskImage({ status: 'todo', title: 'f-o1' })),
    ].join('')); // concatenated, plain
    await put(lake, o2, zlib.gzipSync(lines(
      task('a1', 'INSERT', at('10:00'), 'u1', 'a', taskImage({ status: 'todo' })), // out-of-order pair
      task('b2', 'MODIFY', at('10:20'), 'u1', 'b', taskImage({ status: 'in_progress' })), // late and older than b3
      task('c3', 'INSERT', at('10:20'), 'u1', 'c', taskImage({ status: 'todo', title: 'again' })), // re-insert
      task('d2', 'REMOVE', at('10:05'), 'u1', 'd'),
      task('b1', 'INSERT', at('09:00'), 'u1', 'b', taskImage({ status: 'done' })), // a later copy of b1 that says something else
      task('f2', 'MODIFY', at('10:00'), 'u1', 'f', taskImage({ status: 'todo', title: 'f-o2' })), // same ts, later object
    )));
    const u1 = 'landing/users/2025/11/10/10/users-1-2025-11-10-10-00-00-u1';
    const uimg = (plan: string, country?: string): Json => ({
      email: S('x@y.z'), name: S('X'), plan: S(plan), createdAt: S('2025-01-01T00:00:00Z'),
      ...(country ? { country: S(country) } : {}),
    });
    await put(lake, u1, lines(
      user('w1', 'INSERT', at('10:00'), 'u1', uimg('free', 'DE')),
      user('w2', 'MODIFY', at('10:10'), 'u1', uimg('pro', 'DE')),
      user('w3', 'INSERT', at('10:00'), 'u2', uimg('team')),
      user('w4', 'MODIFY', at('10:10'), 'u2', uimg('enterprise')), // quarantined: u2 stays at w3
      user('w5', 'INSERT', at('10:00'), 'u3', uimg('free')),
      user('w6', 'REMOVE', at('10:01'), 'u3'),
    ));

    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    const s = exp.silver.tasks;
    expect(exp.bronze.tasks.rows).toBe(15);
    expect(s).toMatchObject({ effective: 14, duplicates: 0, quarantined: { conflicting_duplicate: 1 } });
    // The first b1 (o1, index 1) is kept, not the later copy with an earlier timestamp, which is quarantined.
    expect(s.events.find((e) => e.event_id === 'b1')).toMatchObject({ source_object: o1, record_index: 1, status: 'todo' });
    expect(s.current.map((r) => [r.task_id, r.event_id, r.status, r.title, r.source_object, r.record_index])).toEqual([
      ['a', 'a2', 'in_progress', 'a task', o1, 0],
      ['b', 'b3', 'done', 'a task', o1, 2],
      ['c', 'c3', 'todo', 'again', o2, 2],
      ['e', 'e2', 'todo', 'e-second', o1, 7],
      ['f', 'f2', 'todo', 'f-o2', o2, 5],
    ]);
    expect(exp.silver.users).toMatchObject({ effective: 5, duplicates: 0, quarantined: { invalid_plan: 1 } });
    expect(exp.silver.users.current.map((r) => [r.user_id, r.event_id, r.plan, r.country])).toEqual([
      ['u1', 'w2', 'pro', 'DE'],
      ['u2', 'w3', 'team', null],
    ]);

    // Gold over one day: 5 INSERTs (a1, b1, c1, c3, d1), b3 is the only completion (b: todo -> in_progress
    // -> done), 2 REMOVEs; open at end of day: a, c, e, f (b is done, d removed).
    expect(exp.gold.daily_task_kpis).toEqual([
      {
        dt: '2025-11-10', tasks_created: 5, tasks_completed: 1, tasks_deleted: 2, active_users: 1,
        open_tasks_eod: 4, overdue_tasks_eod: 0, median_hours_to_complete: 0.5,
      },
    ]);
  });
});

describe('schema contracts', () => {
  it('drops an undeclared Tasks attribute and keeps the event (discard_value); quarantines a Users event that has one (freeze)', async () => {
    const lake = await newLake();
    const at = '2025-11-10T10:00:00Z';
    await put(lake, 'landing/tasks/2025/11/10/10/tasks-1-2025-11-10-10-00-00-c1', lines(
      task('t1', 'INSERT', at, 'u1', 'a', { ...taskImage({ status: 'todo' }), color: S('red'), estimate: { N: '12345678901234567890123456789012345678' } }),
    ));
    const uimg = (extra: Json = {}): Json => ({ userId: S('u1'), email: S('x@y.z'), name: S('X'), plan: S('pro'), createdAt: S('2025-01-01T00:00:00Z'), ...extra });
    await put(lake, 'landing/users/2025/11/10/10/users-1-2025-11-10-10-00-00-c2', lines(
      user('w1', 'INSERT', at, 'u1', uimg()),
      user('w2', 'MODIFY', '2025-11-10T11:00:00Z', 'u1', uimg({ phone: S('+33 1 23'), birthday: S('1990-01-01') })),
    ));
    const { expected, lake: opened } = await expectPipelineMatchesOracle(lake);
    expect(expected.silver.tasks.events.map((e) => [e.event_id, e.status])).toEqual([['t1', 'todo']]);
    expect(expected.silver.users.quarantine.map((q) => [q.event_id, q.reason])).toEqual([['w2', 'unknown_attribute']]);
    expect(expected.silver.users.current.map((r) => r.event_id)).toEqual(['w1']);
    const [row] = await queryLake(opened, "SELECT reason FROM quarantine.records WHERE reason_code = 'unknown_attribute'");
    expect(row?.reason).toBe('attributes birthday, phone not declared, and the schema is frozen (declared: email, name, plan, createdAt, country, userId)');
  });
});

describe('DynamoDB Streams records', () => {
  /** A Tasks record as a Lambda consumer of DynamoDB Streams writes it: seconds, SequenceNumber, table in the ARN. */
  function streamsTask(id: string, name: string, seconds: number, sequence: unknown, taskId: string, image?: Json): string {
    const dynamodb: Json = { ApproximateCreationDateTime: seconds, Keys: { userId: S('u1'), taskId: S(taskId) }, SequenceNumber: sequence, SizeBytes: 90, StreamViewType: 'NEW_AND_OLD_IMAGES' };
    if (image) dynamodb['NewImage'] = image;
    return JSON.stringify({
      eventID: id, eventVersion: '1.1', eventName: name, eventSource: 'aws:dynamodb', awsRegion: 'eu-west-1',
      eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Tasks/stream/2025-11-01T00:00:00.000', dynamodb,
    });
  }

  it('orders events of one key within the same second by SequenceNumber (numerically), whatever the arrival order', async () => {
    const lake = await newLake();
    const second = Date.parse('2025-11-10T10:00:00Z') / 1000;
    const first = 'landing/tasks/2025/11/10/10/tasks-1-2025-11-10-10-00-00-s1';
    const later = 'landing/tasks/2025/11/10/11/tasks-1-2025-11-10-11-00-00-s2';
    // Task a: INSERT, then in_progress, then done, all in one second; done arrives first, INSERT last.
    // The sequence numbers differ in length: numeric order, not text order (9... < 10...).
    await put(lake, first, lines(
      streamsTask('a3', 'MODIFY', second, '300000000000000000000000', 'a', taskImage({ status: 'done' })),
      streamsTask('b2', 'MODIFY', second, '2000000000000000000000', 'b', taskImage({ status: 'in_progress', title: 'b-second' })),
      streamsTask('x1', 'INSERT', second, '12ab', 'x', taskImage({ status: 'todo' })), // invalid SequenceNumber
      streamsTask('y1', 'INSERT', second, 7, 'y', taskImage({ status: 'todo' })), // not a string
    ));
    await put(lake, later, lines(
      streamsTask('a2', 'MODIFY', second, '200000000000000000000000', 'a', taskImage({ status: 'in_progress' })),
      streamsTask('a1', 'INSERT', second, '100000000000000000000000', 'a', taskImage({ status: 'todo' })),
      streamsTask('b1', 'INSERT', second, '999999999999999999999', 'b', taskImage({ status: 'todo', title: 'b-first' })),
    ));
    const { expected, lake: opened } = await expectPipelineMatchesOracle(lake);
    expect(expected.bronze.tasks.quarantine.map((q) => [q.record_index, q.reason])).toEqual([[2, 'invalid_sequence_number'], [3, 'invalid_sequence_number']]);
    expect(expected.bronze.tasks.table.map((row) => [row.event_id, row.table_name, row.event_ts_us, row.sequence_number])).toEqual([
      ['a3', 'Tasks', BigInt(second) * 1_000_000n, '0000000000000000300000000000000000000000'],
      ['b2', 'Tasks', BigInt(second) * 1_000_000n, '0000000000000000002000000000000000000000'],
      ['a2', 'Tasks', BigInt(second) * 1_000_000n, '0000000000000000200000000000000000000000'],
      ['a1', 'Tasks', BigInt(second) * 1_000_000n, '0000000000000000100000000000000000000000'],
      ['b1', 'Tasks', BigInt(second) * 1_000_000n, '0000000000000000000999999999999999999999'],
    ]);
    // Current state: the last event by SequenceNumber, not the last to arrive.
    expect(expected.silver.tasks.current.map((row) => [row.task_id, row.event_id, row.status, row.title])).toEqual([
      ['a', 'a3', 'done', 'a task'],
      ['b', 'b2', 'in_progress', 'b-second'],
    ]);
    // a was completed once (todo -> in_progress -> done), at its INSERT's second: 0 hours.
    expect(expected.gold.daily_task_kpis).toEqual([
      expect.objectContaining({ dt: '2025-11-10', tasks_created: 2, tasks_completed: 1, open_tasks_eod: 1, median_hours_to_complete: 0 }),
    ]);
    const reasons = await queryLake(opened, "SELECT DISTINCT reason FROM quarantine.records WHERE reason_code = 'invalid_sequence_number'");
    expect(reasons).toEqual([{ reason: 'dynamodb.SequenceNumber is not a string of 1 to 40 digits' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Gold
// ---------------------------------------------------------------------------------------------

describe('gold daily_task_kpis', () => {
  it('counts per day, carries state over a gap day and computes the median hours', async () => {
    const lake = await newLake();
    const done = (due?: string): Json => taskImage({ status: 'done', ...(due ? { due } : {}), completedAt: '2025-11-02T00:00:00Z' });
    const todo = (due?: string): Json => taskImage({ status: 'todo', ...(due ? { due } : {}) });
    // Day 1 (2025-11-01).
    await put(lake, 'landing/tasks/2025/11/01/23/tasks-1-2025-11-01-23-00-00-g1', lines(
      task('k1-ins', 'INSERT', '2025-11-01T08:00:00Z', 'u1', 't1', todo('2025-11-02')),
      task('k2-ins', 'INSERT', '2025-11-01T09:00:00Z', 'u1', 't2', taskImage({ status: 'in_progress', due: '2025-11-01' })),
      task('k3-ins', 'INSERT', '2025-11-01T12:00:00Z', 'u2', 't3', todo()),
    ));
    // Day 2 (2025-11-02).
    await put(lake, 'landing/tasks/2025/11/02/23/tasks-1-2025-11-02-23-00-00-g2', lines(
      task('k3-del', 'REMOVE', '2025-11-02T08:00:00Z', 'u2', 't3'),
      task('k5-ins', 'INSERT', '2025-11-02T06:00:00Z', 'u2', 't5', done()), // completed at creation: 0 h
      task('k1-done', 'MODIFY', '2025-11-02T10:30:00Z', 'u1', 't1', done('2025-11-02')), // 26.5 h
      task('k4-done', 'MODIFY', '2025-11-02T11:00:00Z', 'u3', 't4', done()), // no INSERT: out of the median
      task('k5-ins', 'INSERT', '2025-11-02T06:00:00Z', 'u2', 't5', done()), // duplicate
    ));
    // 2025-11-03 has no event. Day 4 (2025-11-04), arriving late, with a late day-1 INSERT.
    await put(lake, 'landing/tasks/2025/11/05/00/tasks-1-2025-11-05-00-00-00-g3.gz', zlib.gzipSync(lines(
      task('k7-ins', 'INSERT', '2025-11-01T20:00:00Z', 'u1', 't7', todo()),
      task('k6-ins', 'INSERT', '2025-11-04T00:00:00Z', 'u3', 't6', todo('2025-11-03')),
      task('k7-done', 'MODIFY', '2025-11-04T08:00:00Z', 'u1', 't7', done()), // 60 h
      task('k1-reopen', 'MODIFY', '2025-11-04T09:00:00Z', 'u1', 't1', todo('2025-11-02')),
      task('k3-reins', 'INSERT', '2025-11-04T10:00:00Z', 'u2', 't3', done()), // after a REMOVE: 70 h from k3-ins
      task('k1-redone', 'MODIFY', '2025-11-04T20:00:00Z', 'u1', 't1', done('2025-11-02')), // 84 h
      task('k1-again', 'MODIFY', '2025-11-04T21:00:00Z', 'u1', 't1', { ...done('2025-11-02'), title: S('renamed') }), // done -> done
    )));

    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    expect(exp.silver.tasks.duplicates).toBe(1);
    expect(exp.gold.daily_task_kpis).toEqual([
      {
        dt: '2025-11-01', tasks_created: 4, tasks_completed: 0, tasks_deleted: 0, active_users: 2,
        open_tasks_eod: 4, overdue_tasks_eod: 0, median_hours_to_complete: null,
      },
      {
        dt: '2025-11-02', tasks_created: 1, tasks_completed: 3, tasks_deleted: 1, active_users: 3,
        open_tasks_eod: 2, overdue_tasks_eod: 1, median_hours_to_complete: 13.25,
      },
      {
        dt: '2025-11-03', tasks_created: 0, tasks_completed: 0, tasks_deleted: 0, active_users: 0,
        open_tasks_eod: 2, overdue_tasks_eod: 1, median_hours_to_complete: null,
      },
      {
        dt: '2025-11-04', tasks_created: 2, tasks_completed: 3, tasks_deleted: 0, active_users: 3,
        open_tasks_eod: 2, overdue_tasks_eod: 2, median_hours_to_complete: 70,
      },
    ]);
    expect(exp.silver.tasks.current.map((r) => [r.user_id, r.task_id, r.event_id, r.status])).toEqual([
      ['u1', 't1', 'k1-again', 'done'],
      ['u1', 't2', 'k2-ins', 'in_progress'],
      ['u1', 't7', 'k7-done', 'done'],
      ['u2', 't3', 'k3-reins', 'done'],
      ['u2', 't5', 'k5-ins', 'done'],
      ['u3', 't4', 'k4-done', 'done'],
      ['u3', 't6', 'k6-ins', 'todo'],
    ]);
  });

  it('leaves a key with no INSERT out of the median and gives NULL when no completion remains', async () => {
    const lake = await newLake();
    await put(lake, 'landing/tasks/2025/11/01/00/tasks-1-2025-11-01-00-00-00-m', lines(
      task('m1', 'MODIFY', '2025-11-01T05:00:00Z', 'u1', 'x', taskImage({ status: 'done' })),
      task('m2', 'INSERT', '2025-11-01T01:00:00Z', 'u1', 'y', taskImage({ status: 'todo', due: '2025-10-31' })),
      task('m3', 'MODIFY', '2025-11-01T01:00:01.5Z', 'u1', 'y', taskImage({ status: 'done', due: '2025-10-31' })),
    ));
    const exp = (await expectPipelineMatchesOracle(lake)).expected;
    expect(exp.gold.daily_task_kpis).toEqual([
      {
        dt: '2025-11-01', tasks_created: 1, tasks_completed: 2, tasks_deleted: 0, active_users: 1,
        open_tasks_eod: 0, overdue_tasks_eod: 0, median_hours_to_complete: 1.5 / 3600,
      },
    ]);

    const lake2 = await newLake();
    await put(lake2, 'landing/tasks/2025/11/01/00/tasks-1-2025-11-01-00-00-00-m', lines(
      task('n1', 'MODIFY', '2025-11-01T05:00:00Z', 'u1', 'x', taskImage({ status: 'done' })),
      task('n2', 'MODIFY', '2025-11-01T06:00:00Z', 'u2', 'z', taskImage({ status: 'todo', due: '2025-10-31' })),
    ));
    const exp2 = (await expectPipelineMatchesOracle(lake2)).expected;
    expect(exp2.gold.daily_task_kpis).toEqual([
      {
        dt: '2025-11-01', tasks_created: 0, tasks_completed: 1, tasks_deleted: 0, active_users: 2,
        open_tasks_eod: 1, overdue_tasks_eod: 1, median_hours_to_complete: null,
      },
    ]);
  });
});
