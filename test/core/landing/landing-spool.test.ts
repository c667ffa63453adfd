import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../../core/engine/index.ts';
import { loadLandingSpool, spoolLandingObjects } from '../../../core/landing/index.ts';
import type { ObjectInfo, Storage } from '../../../core/storage/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

/** Objects of `records` records each (every other one gzip), and a store that serves them. */
function landing(name: string, objects: number, records: number): { objects: ObjectInfo[]; storage: Storage } {
  const bodies = new Map<string, Buffer>();
  const infos: ObjectInfo[] = [];
  for (let index = 0; index < objects; index += 1) {
    const key = `landing/tasks/2025/11/22/08/${name}-${index}${index % 2 === 1 ? '.gz' : ''}`;
    const text = Buffer.from(Array.from({ length: records }, (_, n) => `${JSON.stringify({ eventID: `${name}-${index}-${n}`, pad: 'x'.repeat(n % 50) })}\n`).join(''));
    const body = index % 2 === 1 ? gzipSync(text) : text;
    bodies.set(key, body);
    infos.push({ key, sizeBytes: body.length, lastModifiedMs: Date.UTC(2025, 10, 22, 8, 0, index) });
  }
  return { objects: infos, storage: { get: async (key: string) => bodies.get(key) as Buffer } as unknown as Storage };
}

/** What DuckDB reads from a spool: object, record index and record, in a stable order. */
async function spooled(paths: readonly string[]): Promise<string[]> {
  const engine = await DuckDbEngine.create();
  try {
    await loadLandingSpool(engine, { paths, objects: [], records: 0, bytesRead: 0, unreadable: [] }, 'spooled');
    const { rows } = await engine.query('SELECT source_object, record_index, raw FROM spooled ORDER BY source_object, record_index');
    return rows.map((row) => `${String(row.source_object)} ${String(row.record_index)} ${String(row.raw)}`);
  } finally {
    engine.close();
  }
}

describe('landing spool', () => {
  it('holds every record of every object once, each object in one file and in its order', async () => {
    const dir = await tempDir('spool');
    const { objects, storage } = landing('a', 600, 40);
    const spool = await spoolLandingObjects(storage, objects, path.join(dir, 'batch-0.txt'));
    expect(spool.records).toBe(600 * 40);
    const files = (await Promise.all(spool.paths.map((file) => readFile(file, 'utf8')))).map((text) => text.split('\n').filter(Boolean));
    expect(files.flat()).toHaveLength(600 * 40);
    // Each object's record indexes, by file.
    const found = new Map<string, { file: number; indexes: number[] }[]>();
    files.forEach((lines, file) => {
      for (const line of lines) {
        const [key, , index] = line.split('\x1f');
        const entries = found.get(key as string) ?? [];
        if (entries.at(-1)?.file !== file) entries.push({ file, indexes: [] });
        entries.at(-1)?.indexes.push(Number(index));
        found.set(key as string, entries);
      }
    });
    for (const object of objects) expect(found.get(object.key)).toEqual([{ file: expect.any(Number), indexes: Array.from({ length: 40 }, (_, n) => n) }]);
  });

  it('used again for fewer records, reads only the new ones: nothing of the earlier use is left in its files', async () => {
    const dir = await tempDir('spool');
    const spoolPath = path.join(dir, 'batch-0.txt');
    const before = landing('before', 400, 60);
    const first = await spoolLandingObjects(before.storage, before.objects, spoolPath);
    const after = landing('after', 30, 5);
    const second = await spoolLandingObjects(after.storage, after.objects, spoolPath);
    expect(second.records).toBe(30 * 5);
    const rows = await spooled(second.paths);
    expect(rows).toHaveLength(30 * 5);
    expect(rows.every((row) => row.startsWith('landing/tasks/2025/11/22/08/after-'))).toBe(true);
    // The files the first use wrote and the second did not are not part of the second spool.
    const sizes = await Promise.all(second.paths.map(async (file) => (await stat(file)).size));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBeLessThan((await Promise.all(first.paths.map(async (file) => (await stat(file)).size))).reduce((sum, size) => sum + size, 0) / 10);
  });

  it("fails with the system's error code when a worker cannot write its spool file", async () => {
    const dir = await tempDir('spool');
    // A name one character short of the file system's limit (255 bytes): this thread's file fits, while every
    // worker's, `<name>.<thread id>`, is too long, whatever the worker's thread id.
    const spoolPath = path.join(dir, 's'.repeat(254));
    const { objects, storage } = landing('a', 4, 3);
    const error = await spoolLandingObjects(storage, objects, spoolPath).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^cutting 4 objects from landing\/tasks\/.* failed: .*ENAMETOOLONG/s);
    expect(((error as Error).cause as NodeJS.ErrnoException | undefined)?.code).toBe('ENAMETOOLONG');
  });
});
