import { deflateRawSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeObjectBody, isGzip, isNewlineDelimited, readObjectRecords, splitRecords, type SplitRecord } from '../../../core/landing/index.ts';

/** `n` newline-delimited change records with varied content (so deflate cannot squeeze them to nothing). */
function makeRecords({ n, seed }: { n: number; seed: number }): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state;
  };
  return Array.from({ length: n }, (_, index) =>
    JSON.stringify({ eventID: `${next().toString(16)}-${index}`, eventName: 'MODIFY', dynamodb: { Keys: { taskId: { S: next().toString(36) } }, SizeBytes: next() % 1000 } }),
  );
}

const splitText = (text: string) => [...splitRecords(Buffer.from(text))].map((record) => record.toString('utf8'));

async function recordsOf(body: Buffer): Promise<SplitRecord[]> {
  const out: SplitRecord[] = [];
  for await (const record of readObjectRecords(body)) out.push(record);
  return out;
}

/** A gzip member whose header carries an original file name (FNAME) and an extra field (FEXTRA). */
function gzipWithNameAndExtra(text: string): Buffer {
  const plain = gzipSync(text);
  const header = Buffer.from(plain.subarray(0, 10));
  header[3] = 0x04 | 0x08;
  const extra = Buffer.from([4, 0, 0x41, 0x42, 0x43, 0x44]);
  return Buffer.concat([header, extra, Buffer.from('records.json\0', 'latin1'), plain.subarray(10)]);
}

describe('isGzip', () => {
  it('goes by the magic bytes, not the name', () => {
    expect(isGzip(gzipSync('{}'))).toBe(true);
    expect(isGzip(Buffer.from([0x1f, 0x8b]))).toBe(true);
    expect(isGzip(Buffer.from('{"a":1}'))).toBe(false);
    expect(isGzip(Buffer.from([0x1f]))).toBe(false);
    expect(isGzip(Buffer.from([0x8b, 0x1f]))).toBe(false);
    expect(isGzip(Buffer.alloc(0))).toBe(false);
  });
});

describe('decodeObjectBody', () => {
  const lines = makeRecords({ n: 400, seed: 7 }).map((record) => `${record}\n`);
  const first = lines.slice(0, 200).join('');
  const second = lines.slice(200).join('');

  it('returns plain text as it is', async () => {
    const body = Buffer.from(first);
    expect(await decodeObjectBody(body)).toEqual({ text: body });
  });

  it('reads gzip members one after another', async () => {
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync(first), gzipSync(second), gzipSync('')]));
    expect(decoded.brokenAt).toBeUndefined();
    expect(decoded.text.toString('utf8')).toBe(first + second);
  });

  it('reads a member whose header carries a file name and an extra field', async () => {
    const decoded = await decodeObjectBody(Buffer.concat([gzipWithNameAndExtra(first), gzipSync(second)]));
    expect(decoded).toEqual({ text: Buffer.from(first + second) });
  });

  it('keeps the decoded prefix of a cut stream and says it broke', async () => {
    const whole = gzipSync(first + second);
    const decoded = await decodeObjectBody(whole.subarray(0, Math.floor(whole.length * 0.75)));
    expect(decoded.brokenAt).toMatch(/cut|corrupt/);
    const text = decoded.text.toString('utf8');
    expect((first + second).startsWith(text)).toBe(true);
    expect(text.length).toBeGreaterThan((first + second).length / 2);
  });

  it('keeps the members before one cut inside its trailer', async () => {
    const cut = gzipSync(second);
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync(first), cut.subarray(0, cut.length - 3)]));
    expect(decoded.brokenAt).toBeDefined();
    expect((first + second).startsWith(decoded.text.toString('utf8'))).toBe(true);
    expect(decoded.text.length).toBeGreaterThanOrEqual(first.length);
  });

  it('stops at a member whose CRC does not match, keeping what came before', async () => {
    const bad = gzipSync(second);
    bad[bad.length - 8] = (bad[bad.length - 8] as number) ^ 0xff;
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync(first), bad, gzipSync('{"after":1}\n')]));
    expect(decoded.brokenAt).toMatch(/CRC/);
    expect(decoded.text.toString('utf8').startsWith(first)).toBe(true);
    expect(decoded.text.toString('utf8')).not.toContain('after');
  });

  it('stops at a member whose length does not match', async () => {
    const bad = gzipSync(second);
    bad.writeUInt32LE(bad.readUInt32LE(bad.length - 4) + 1, bad.length - 4);
    expect((await decodeObjectBody(Buffer.concat([gzipSync(first), bad]))).brokenAt).toMatch(/length/);
  });

  it('keeps what inflates before an invalid deflate block', async () => {
    // The first text, flushed to a byte boundary, then a block of the reserved type 11: inflating fails there.
    const deflated = Buffer.concat([deflateRawSync(first, { finishFlush: zlibConstants.Z_FULL_FLUSH }), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const member = Buffer.concat([gzipSync('').subarray(0, 10), deflated]);
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync('{"before":0}\n'), member, gzipSync(second)]));
    expect(decoded.brokenAt).toMatch(/corrupt or cut/);
    expect(decoded.text.toString('utf8')).toBe(`{"before":0}\n${first}`);
  });

  it('says the stream broke when damaged deflate data still inflates', async () => {
    const body = gzipSync(first + second);
    const middle = Math.floor(body.length / 2);
    body.fill(0xff, middle, middle + 64);
    expect((await decodeObjectBody(body)).brokenAt).toBeDefined();
  });

  it('ignores zero padding after the last member', async () => {
    expect(await decodeObjectBody(Buffer.concat([gzipSync(first), Buffer.alloc(512)]))).toEqual({ text: Buffer.from(first) });
  });

  it('breaks on trailing bytes that are neither a member nor zero padding', async () => {
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync(first), Buffer.from('junk\n')]));
    expect(decoded.brokenAt).toMatch(/5 bytes/);
    expect(decoded.text.toString('utf8')).toBe(first);
  });

  it('breaks on a member with a bad header', async () => {
    const decoded = await decodeObjectBody(Buffer.concat([gzipSync(first), Buffer.from([0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])]));
    expect(decoded.brokenAt).toMatch(/header/);
    expect(decoded.text.toString('utf8')).toBe(first);
  });
});

describe('splitRecords', () => {
  it('cuts newline-delimited text into its non-blank lines, dropping a trailing \\r', () => {
    expect(splitText('{"a":1}\n\n{"b":2}\r\n   \n\t\r\n{"c":3}\n')).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(splitText('{"a":1}\n{"b":2}')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('keeps a broken line whole as one record in newline-delimited text', () => {
    expect(splitText('{"a":1}\n{"b": [1, 2\n{"c":3}\n')).toEqual(['{"a":1}', '{"b": [1, 2', '{"c":3}']);
  });

  it('treats text with only trailing newlines as concatenated', () => {
    expect(isNewlineDelimited(Buffer.from('{"a":1}{"b":2}\n\n'))).toBe(false);
    expect(isNewlineDelimited(Buffer.from('{"a":1}\n{"b":2}'))).toBe(true);
    expect(splitText('{"a":1}{"b":2}\n\n')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('cuts concatenated objects at the brace that closes each, ignoring braces and escaped quotes in strings', () => {
    expect(splitText('{"a":"}{"}{"b":"x\\"}{"} {"c":{"d":[1,{"e":"]"}]}}')).toEqual(['{"a":"}{"}', '{"b":"x\\"}{"}', '{"c":{"d":[1,{"e":"]"}]}}']);
  });

  it('ends a string at a quote preceded by an escaped backslash', () => {
    expect(splitText('{"a":"ends with \\\\"}{"b":1}')).toEqual(['{"a":"ends with \\\\"}', '{"b":1}']);
  });

  it('cuts arrays, bare strings, numbers and literals', () => {
    expect(splitText('[1,[2,3]] "str\\"ing {" 42 true{"a":1}null"x"[]-1.5e3')).toEqual(['[1,[2,3]]', '"str\\"ing {"', '42', 'true', '{"a":1}', 'null', '"x"', '[]', '-1.5e3']);
  });

  it('runs a value that never closes to the end of the text', () => {
    expect(splitText('{"a":1}{"b":{"c":"unterminated }')).toEqual(['{"a":1}', '{"b":{"c":"unterminated }']);
    expect(splitText('{"a":1} "never closed')).toEqual(['{"a":1}', '"never closed']);
  });

  it('yields nothing for empty or blank text', () => {
    expect(splitText('')).toEqual([]);
    expect(splitText(' \t ')).toEqual([]);
    expect(splitText('\n\n\r\n')).toEqual([]);
  });
});

describe('readObjectRecords', () => {
  it('numbers the records of an object from 0', async () => {
    const records = await recordsOf(gzipSync('{"a":1}{"b":2} {"c":3}'));
    expect(records.map(({ recordIndex, raw, errorCode }) => ({ recordIndex, raw: raw.toString('utf8'), errorCode }))).toEqual([
      { recordIndex: 0, raw: '{"a":1}', errorCode: undefined },
      { recordIndex: 1, raw: '{"b":2}', errorCode: undefined },
      { recordIndex: 2, raw: '{"c":3}', errorCode: undefined },
    ]);
  });

  it('does not count blank lines as records', async () => {
    const records = await recordsOf(Buffer.from('{"a":1}\n\n\n{"b":2}\n'));
    expect(records.map((record) => [record.recordIndex, record.raw.toString('utf8')])).toEqual([[0, '{"a":1}'], [1, '{"b":2}']]);
  });

  it('drops a UTF-8 byte-order mark at the start of the decoded text, and only there', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const body of [Buffer.concat([bom, Buffer.from('{"a":1}\n{"b":2}\n')]), gzipSync(Buffer.concat([bom, Buffer.from('{"a":1}{"b":2}')]))]) {
      const records = await recordsOf(body);
      expect(records.map((record) => [record.recordIndex, record.raw.toString('utf8')])).toEqual([[0, '{"a":1}'], [1, '{"b":2}']]);
    }
    // A byte-order mark anywhere else is part of a record (and makes it invalid JSON downstream).
    const inside = await recordsOf(Buffer.concat([Buffer.from('{"a":1}\n'), bom, Buffer.from('{"b":2}\n')]));
    expect(inside.map((record) => record.raw)).toEqual([Buffer.from('{"a":1}'), Buffer.concat([bom, Buffer.from('{"b":2}')])]);
    expect(await recordsOf(bom)).toEqual([]);
  });

  it('adds a corrupt_gzip record after the records decoded before a break', async () => {
    const bad = gzipSync('{"c":3}\n');
    bad[bad.length - 6] = (bad[bad.length - 6] as number) ^ 0x01;
    const records = await recordsOf(Buffer.concat([gzipSync('{"a":1}\n{"b":2}\n'), bad]));
    expect(records).toHaveLength(4);
    expect(records.slice(0, 3).map((record) => record.raw.toString('utf8'))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    const last = records[3] as SplitRecord;
    expect(last.recordIndex).toBe(3);
    expect(last.errorCode).toBe('corrupt_gzip');
    expect(last.raw.length).toBe(0);
    expect(last.errorDetail).toMatch(/CRC/);
    for (const record of records.slice(0, 3)) expect(record.errorCode).toBeUndefined();
  });

  it('keeps every whole record of a cut stream, then the cut one, then corrupt_gzip', async () => {
    const lines = makeRecords({ n: 300, seed: 11 });
    const whole = gzipSync(lines.map((line) => `${line}\n`).join(''));
    const records = await recordsOf(whole.subarray(0, Math.floor(whole.length * 0.6)));
    const last = records.at(-1) as SplitRecord;
    expect(last.errorCode).toBe('corrupt_gzip');
    expect(last.recordIndex).toBe(records.length - 1);
    const decoded = records.slice(0, -1).map((record) => record.raw.toString('utf8'));
    expect(decoded.length).toBeGreaterThan(100);
    // All but the last decoded record are whole; the last is a prefix of the record the break cut.
    expect(decoded.slice(0, -1)).toEqual(lines.slice(0, decoded.length - 1));
    expect((lines[decoded.length - 1] as string).startsWith(decoded.at(-1) as string)).toBe(true);
  });
});

describe('readObjectRecords with limits', () => {
  const limited = async (body: Buffer, maxObjectBytes: number, maxObjectRecords: number) => {
    const out: SplitRecord[] = [];
    for await (const record of readObjectRecords(body, { maxObjectBytes, maxObjectRecords })) out.push(record);
    return out;
  };
  const text = 'a\nbb\nccc\n'; // 9 bytes, 3 records

  it('reads an object at exactly the limits, plain or gzip, in one member or several', async () => {
    for (const body of [Buffer.from(text), gzipSync(text), Buffer.concat([gzipSync('a\nbb\n'), gzipSync('ccc\n')])]) {
      expect((await limited(body, 9, 3)).map((record) => record.raw.toString())).toEqual(['a', 'bb', 'ccc']);
    }
  });

  it('makes an object one byte over the limit one object_too_large record, whatever the form', async () => {
    for (const body of [Buffer.from(text), gzipSync(text), Buffer.concat([gzipSync('a\nbb\n'), gzipSync('ccc\n')])]) {
      const records = await limited(body, 8, 3);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ recordIndex: 0, errorCode: 'object_too_large' });
      expect(records[0]?.errorDetail).toMatch(/more than 8 bytes/);
    }
  });

  it('makes an object with one record too many one too_many_records record', async () => {
    expect((await limited(Buffer.from(text), 100, 2)).map((record) => record.errorCode)).toEqual(['too_many_records']);
    // Concatenated JSON counts its values, not its bytes.
    expect((await limited(Buffer.from('{"a":1}{"b":2}{"c":3}'), 100, 2)).map((record) => record.errorCode)).toEqual(['too_many_records']);
    expect((await limited(Buffer.from('{"a":1}{"b":2}'), 100, 2)).map((record) => record.errorCode)).toEqual([undefined, undefined]);
  });

  it('stops a corrupt stream that inflates past the limit as too large, not as corrupt', async () => {
    const whole = gzipSync(Buffer.alloc(1024 * 1024, 'z'));
    const records = await limited(whole.subarray(0, whole.length - 20), 64 * 1024, 10);
    expect(records.map((record) => record.errorCode)).toEqual(['object_too_large']);
  });
});

describe('landing limits of a source', () => {
  it('take whole numbers in range, refuse the rest by name, and default what is not given', async () => {
    const { landingSource } = await import('../../../core/job/index.ts');
    expect(landingSource('tasks', { limits: { maxObjectRecords: 10 } }).limits).toEqual({ maxObjectBytes: 256 * 1024 * 1024, maxObjectRecords: 10 });
    for (const limits of [{ maxObjectBytes: 0 }, { maxObjectBytes: 2 * 1024 ** 3 }, { maxObjectBytes: 1.5 }, { maxObjectRecords: -1 }, { maxObjectRecords: Number.NaN }]) {
      expect(() => landingSource('tasks', { limits }), JSON.stringify(limits)).toThrow(/LANDING_LIMITS_INVALID|landing source tasks: max/);
    }
  });
});
