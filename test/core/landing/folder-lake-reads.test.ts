import { execFileSync } from 'node:child_process';
import fs, { appendFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DuckDbEngine } from '../../../core/engine/index.ts';
import { countLandingRecords, loadLandingSpool, spoolLandingObjects, type LandingSpool } from '../../../core/landing/index.ts';
import { LocalStorage, type ObjectInfo, type Storage } from '../../../core/storage/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

afterEach(() => {
  vi.restoreAllMocks();
  syncBuiltinESMExports();
});

const limits = { maxObjectBytes: 4096, maxObjectRecords: 1000 };

/**
 * A folder lake's landing: plain and gzip objects, one gzip stream cut short, one object listed over the limit,
 * and three that change after they were listed (removed, grown past the limit, replaced by a folder).
 */
async function folderLake(): Promise<{ storage: LocalStorage; objects: ObjectInfo[] }> {
  const root = await tempDir('folder-lake');
  const storage = new LocalStorage(root);
  const text = (name: string, records: number) => Buffer.from(Array.from({ length: records }, (_, n) => `${JSON.stringify({ eventID: `${name}-${n}` })}\n`).join(''));
  const key = (name: string) => `landing/tasks/2025/11/22/08/${name}`;
  await storage.put(key('plain'), text('plain', 20));
  await storage.put(key('zipped.gz'), gzipSync(text('zipped', 30)));
  const cut = gzipSync(text('cut', 40));
  await storage.put(key('cut.gz'), cut.subarray(0, cut.length - 30));
  await storage.put(key('listed-large'), Buffer.alloc(limits.maxObjectBytes + 1, 0x20));
  await storage.put(key('removed'), text('removed', 5));
  await storage.put(key('grown'), text('grown', 5));
  await storage.put(key('now-a-folder'), text('now-a-folder', 5));
  const objects: ObjectInfo[] = [];
  for await (const object of storage.list('landing/tasks/')) objects.push(object);
  await rm(storage.pathOf(key('removed')));
  appendFileSync(storage.pathOf(key('grown')), Buffer.alloc(limits.maxObjectBytes * 3, 0x20));
  await rm(storage.pathOf(key('now-a-folder')));
  await mkdir(storage.pathOf(key('now-a-folder')));
  return { storage, objects };
}

/** What DuckDB reads from a spool: object, record index, error code and record, in a stable order. */
async function spooled(spool: LandingSpool): Promise<string[]> {
  const engine = await DuckDbEngine.create();
  try {
    await loadLandingSpool(engine, spool, 'spooled');
    const { rows } = await engine.query('SELECT source_object, record_index, split_error, raw FROM spooled ORDER BY ALL');
    return rows.map((row) => `${String(row.source_object)} ${String(row.record_index)} ${String(row.split_error)} ${String(row.raw)}`);
  } finally {
    engine.close();
  }
}

/** The same lake read through `get`, as any store that is not a folder lake read as it is. */
function throughGet(storage: LocalStorage): Storage {
  const wrapped = Object.create(storage) as Storage;
  wrapped.get = (key) => storage.get(key);
  return wrapped;
}

describe("a folder lake's landing objects", () => {
  it('are read by the cut workers, not by the main thread', async () => {
    const { storage, objects } = await folderLake();
    const mainThreadReads = vi.spyOn(fs, 'readFileSync');
    syncBuiltinESMExports();
    const landingReads = () => mainThreadReads.mock.calls.filter(([file]) => String(file).startsWith(storage.root)).length;
    const spoolDir = await tempDir('spool');
    const spool = await spoolLandingObjects(storage, objects, path.join(spoolDir, 'direct.txt'), { limits });
    expect(spool.unreadable).toHaveLength(2);
    expect(landingReads()).toBe(0);
    // Through get, each object the main thread fetches is read there (the spy sees those reads).
    await spoolLandingObjects(throughGet(storage), objects, path.join(spoolDir, 'fetched.txt'), { limits });
    expect(landingReads()).toBe(objects.length - 1);
  });

  it('give the records, bytes read and unreadable objects that reading each through get gives', async () => {
    const { storage, objects } = await folderLake();
    const spoolDir = await tempDir('spool');
    const direct = await spoolLandingObjects(storage, objects, path.join(spoolDir, 'direct.txt'), { limits });
    const fetched = await spoolLandingObjects(throughGet(storage), objects, path.join(spoolDir, 'fetched.txt'), { limits });
    // The grown file is read through get whole, and directly not at all (as a file listed over the limit).
    const grownBytes = statSync(storage.pathOf('landing/tasks/2025/11/22/08/grown')).size;
    expect(direct.bytesRead).toBe(fetched.bytesRead - grownBytes);
    expect(direct.unreadable).toEqual(fetched.unreadable);
    expect(direct.unreadable.map(({ object, error }) => [object.key.split('/').at(-1), error.split(',')[0]])).toEqual([
      ['now-a-folder', 'EISDIR: illegal operation on a directory'],
      ['removed', `no object ${objects.find((object) => object.key.endsWith('removed'))?.key} in ${storage.location}`],
    ]);
    // The grown file is over the limit either way; read directly, the read stops there and says by how much.
    const rows = await spooled(direct);
    const fetchedRows = await spooled(fetched);
    const notGrown = (row: string) => !row.includes('/grown ');
    expect(rows.filter(notGrown)).toEqual(fetchedRows.filter(notGrown));
    expect(rows.filter((row) => !notGrown(row))).toEqual([
      `landing/tasks/2025/11/22/08/grown 0 object_too_large the object holds ${grownBytes} bytes, more than 4096 (the limit); it was not read`,
    ]);
    expect(fetchedRows.filter((row) => !notGrown(row))).toEqual([`landing/tasks/2025/11/22/08/grown 0 object_too_large the object holds more than 4096 bytes (the limit); it was not read`]);
    expect(rows.filter((row) => row.includes('/cut.gz ')).at(-1)).toMatch(/ corrupt_gzip gzip stream broken after/);
    expect(direct.records).toBe(fetched.records);
  });

  it('read objects of many sizes as get does, one worker buffer growing and used again', async () => {
    const root = await tempDir('folder-lake');
    const storage = new LocalStorage(root);
    const large = { maxObjectBytes: 16 * 1024 * 1024, maxObjectRecords: 1_000_000 };
    const text = (name: string, bytes: number) => {
      const line = (n: number) => `${JSON.stringify({ eventID: `${name}-${n}`, pad: 'x'.repeat(200 + (n % 97)) })}\n`;
      const lines: string[] = [];
      let length = 0;
      for (let n = 0; length < bytes; n += 1) {
        lines.push(line(n));
        length += lines.at(-1)?.length ?? 0;
      }
      return Buffer.from(lines.join('')).subarray(0, bytes);
    };
    const key = (name: string) => `landing/tasks/2025/11/22/08/${name}`;
    await storage.put(key('a-small'), text('a', 1024));
    await storage.put(key('b-nine-mib'), text('b', 9 * 1024 * 1024));
    await storage.put(key('c-five-mib'), text('c', 5 * 1024 * 1024));
    await storage.put(key('d-zipped.gz'), gzipSync(text('d', 12 * 1024 * 1024)));
    await storage.put(key('e-at-the-limit'), text('e', large.maxObjectBytes));
    await storage.put(key('f-small'), text('f', 2048));
    const objects: ObjectInfo[] = [];
    for await (const object of storage.list('landing/tasks/')) objects.push(object);
    const spoolDir = await tempDir('spool');
    const direct = await spoolLandingObjects(storage, objects, path.join(spoolDir, 'direct.txt'), { limits: large });
    const fetched = await spoolLandingObjects(throughGet(storage), objects, path.join(spoolDir, 'fetched.txt'), { limits: large });
    expect(direct.unreadable).toEqual([]);
    expect(direct.bytesRead).toBe(objects.reduce((sum, object) => sum + object.sizeBytes, 0));
    expect(direct.bytesRead).toBe(fetched.bytesRead);
    expect(direct.records).toBe(fetched.records);
    const rows = await spooled(direct);
    expect(rows).toEqual(await spooled(fetched));
    expect(rows.filter((row) => row.includes(' object_too_large '))).toEqual([]);
  }, 60_000);

  it('set aside a FIFO put where a listed file was, instead of waiting on it for a writer', async () => {
    const root = await tempDir('folder-lake');
    const storage = new LocalStorage(root);
    const key = 'landing/tasks/2025/11/22/08/fifo';
    await storage.put(key, Buffer.from('{"eventID":"a"}\n'));
    await storage.put(`${key}-after`, Buffer.from('{"eventID":"b"}\n'));
    const objects: ObjectInfo[] = [];
    for await (const object of storage.list('landing/tasks/')) objects.push(object);
    await rm(storage.pathOf(key));
    execFileSync('mkfifo', [storage.pathOf(key)]);
    const spool = await spoolLandingObjects(storage, objects, path.join(await tempDir('spool'), 'batch-0.txt'), { limits });
    expect(spool.unreadable).toEqual([{ object: objects[0], error: `${storage.pathOf(key)} is not a regular file (a FIFO, socket or device since it was listed)` }]);
    expect(spool.records).toBe(1);
  }, 20_000);

  it('are counted as they are cut (reconcile)', async () => {
    const { storage, objects } = await folderLake();
    const direct = [];
    for await (const item of countLandingRecords(storage, objects, limits)) direct.push(item);
    const fetched = [];
    for await (const item of countLandingRecords(throughGet(storage), objects, limits)) fetched.push(item);
    expect(direct).toEqual(fetched);
    const cutRecords = direct.find((item) => item.object.key.endsWith('cut.gz'))?.records ?? 0;
    expect(cutRecords).toBeGreaterThan(1);
    expect(direct.map((item) => [item.object.key.split('/').at(-1), item.records, item.unreadable !== undefined])).toEqual([
      ['cut.gz', cutRecords, false],
      ['grown', 1, false],
      ['listed-large', 1, false],
      ['now-a-folder', 0, true],
      ['plain', 20, false],
      ['removed', 0, true],
      ['zipped.gz', 30, false],
    ]);
  });
});
