import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { spoolLandingObjects } from '../../core/landing/index.ts';
import type { ObjectInfo, Storage } from '../../core/storage/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { queryLake } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GiB = 1024 ** 3;

/** `copies` gzip members of `member`: a small object that inflates to `copies` times its size. */
const bomb = (member: Buffer, copies: number) => Buffer.concat(Array.from({ length: copies }, () => gzipSync(member, { level: 9 })));

describe('landing limits', () => {
  it('keep the memory of a whole pipeline run and reconcile bounded when decompression bombs land', async () => {
    const lakeDir = await tempDir('lake');
    const lake = openLocalLake(lakeDir);
    await generateLanding(lake.storage, { seed: 5, days: 1, users: 5, tasksPerDay: 10 });
    // The reviewer's three objects: 5 MB inflating to 5 GiB; 1 MB inflating to 1 GiB of one record;
    // a small gzip holding 16.7 million one-character records.
    const folder = path.join(lakeDir, 'landing/tasks/2025/11/22/08');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'bomb-5gib.gz'), bomb(Buffer.alloc(1024 * 1024), 5 * 1024));
    await writeFile(path.join(folder, 'bomb-1gib-one-record.gz'), bomb(Buffer.alloc(1024 * 1024, 'y'), 1024));
    await writeFile(path.join(folder, 'millions-of-records.gz'), gzipSync(Buffer.from('1\n'.repeat(16_700_000)), { level: 9 }));

    // In a child process, so that its peak resident set is the pipeline's alone.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'test/support/measure-child.ts'), lakeDir], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    const measured = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { states: Record<string, string>; differences: unknown[]; peakRssBytes: number };
    expect(Object.values(measured.states).every((state) => state === 'SUCCEEDED'), JSON.stringify(measured.states)).toBe(true);
    expect(measured.differences).toEqual([]);
    // Before the limits: over 12 GB, killed. Now the limit (256 MiB decompressed per object, a few objects
    // at once) and DuckDB's share of the machine's memory bound it.
    expect(measured.peakRssBytes).toBeLessThan(1.5 * GiB);

    const quarantined = await queryLake(lake, `SELECT regexp_extract(source_object, '[^/]+$') AS object, record_index, reason_code FROM quarantine.records ORDER BY object`);
    expect(quarantined).toEqual([
      { object: 'bomb-1gib-one-record.gz', record_index: 0, reason_code: 'object_too_large' },
      { object: 'bomb-5gib.gz', record_index: 0, reason_code: 'object_too_large' },
      { object: 'millions-of-records.gz', record_index: 0, reason_code: 'too_many_records' },
    ]);
  }, 240_000);

  it('cut records off the main thread: timers keep firing while a large object is cut', async () => {
    const dir = await tempDir('spool');
    const record = JSON.stringify({ eventID: 'x', eventName: 'INSERT', dynamodb: { Keys: { userId: { S: 'u' } } } });
    const body = gzipSync(Buffer.from(`${record}\n`.repeat(900_000)));
    const object: ObjectInfo = { key: 'landing/tasks/2025/11/22/08/large.gz', sizeBytes: body.length, lastModifiedMs: Date.UTC(2025, 10, 22, 8) };
    let fetched = false;
    const storage = {
      get: async () => {
        fetched = true;
        return body;
      },
    } as unknown as Storage;
    let ticksWhileCutting = 0;
    const timer = setInterval(() => {
      if (fetched) ticksWhileCutting += 1;
    }, 1);
    try {
      const spool = await spoolLandingObjects(storage, [object], path.join(dir, 'spool.txt'));
      expect(spool.records).toBe(900_000);
    } finally {
      clearInterval(timer);
    }
    // Cutting 900,000 records takes far longer than a millisecond: on the main thread no timer would fire
    // until it ended (the lock's heartbeat is such a timer).
    expect(ticksWhileCutting).toBeGreaterThan(0);
  });

  it('cut a group of small objects that inflate a lot in parts, every record once and in order', async () => {
    const dir = await tempDir('spool');
    const record = (n: number) => JSON.stringify({ eventID: `e-${n}`, eventName: 'INSERT' });
    // Three objects of 400,000 records each: a few hundred KB stored, over 64 MiB of spool lines each.
    const objects: ObjectInfo[] = [];
    const bodies = new Map<string, Buffer>();
    for (const index of [0, 1, 2]) {
      const key = `landing/tasks/2025/11/22/08/object-${index}.gz`;
      const body = gzipSync(Buffer.from(Array.from({ length: 400_000 }, (_, n) => `${record(n)}\n`).join('')), { level: 9 });
      bodies.set(key, body);
      objects.push({ key, sizeBytes: body.length, lastModifiedMs: Date.UTC(2025, 10, 22, 8, index) });
    }
    const storage = { get: async (key: string) => bodies.get(key) as Buffer } as unknown as Storage;
    const spool = await spoolLandingObjects(storage, objects, path.join(dir, 'spool.txt'));
    expect(spool.records).toBe(1_200_000);
    const { readFile } = await import('node:fs/promises');
    const lines = (await Promise.all(spool.paths.map((file) => readFile(file, 'latin1')))).flatMap((text) => text.split('\n').filter(Boolean));
    expect(lines).toHaveLength(1_200_000);
    // Each object's records, whole and in order, once.
    const seen = lines.map((line) => line.split('\x1f').slice(0, 3).join(' ')).map((fields) => fields.replace(/^landing\/tasks\/2025\/11\/22\/08\//, ''));
    for (const index of [0, 1, 2]) {
      const first = seen.indexOf(`object-${index}.gz ${objects[index]?.lastModifiedMs} 0`);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(seen.slice(first, first + 400_000)).toEqual(Array.from({ length: 400_000 }, (_, n) => `object-${index}.gz ${objects[index]?.lastModifiedMs} ${n}`));
    }
    expect(new Set(seen).size).toBe(1_200_000);
  }, 120_000);
});
