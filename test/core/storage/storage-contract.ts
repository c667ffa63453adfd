import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../../../core/index.ts';
import { ConfigError, NotFoundError } from '../../../core/errors.ts';
import type { Storage } from '../../../core/storage/index.ts';
import { collect, useEngines } from '../test-resources.ts';

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  return (await collect(storage.list(prefix))).map((object) => object.key);
}

async function putAll(storage: Storage, keys: readonly string[]): Promise<void> {
  for (const key of keys) await storage.put(key, `body of ${key}`);
}

/**
 * What every Storage must do, whatever it stores into. `makeStorage` returns an empty storage;
 * the caller cleans up after each test.
 */
export function storageContract(
  implementation: string,
  makeStorage: () => Promise<Storage>,
  /**
   * `atomicOverwrites: false` for a stand-in server that writes an object in place (s3rver), so that
   * concurrent writers of one key can interleave; S3 itself and the folder lake replace objects whole.
   */
  options: { readonly atomicOverwrites?: boolean } = {},
): void {
  describe(`Storage contract: ${implementation}`, () => {
    const engine = useEngines();

    describe('list', () => {
      it('returns every key in byte order, walking nested folders', async () => {
        const storage = await makeStorage();
        // '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f), which sorts before '0'; uppercase before lowercase; UTF-8 last.
        await putAll(storage, ['b', 'a0', 'a/y/z', 'é', 'a-b', 'B', 'a/x', 'a.c/d', 'a/y/a/b/c']);
        expect(await keysOf(storage, '')).toEqual(['B', 'a-b', 'a.c/d', 'a/x', 'a/y/a/b/c', 'a/y/z', 'a0', 'b', 'é']);
      });

      it('reports each object with its size', async () => {
        const storage = await makeStorage();
        await storage.put('data/one', Buffer.alloc(3));
        await storage.put('data/two', Buffer.alloc(1234));
        const listed = await collect(storage.list('data/'));
        expect(listed.map(({ key, sizeBytes }) => ({ key, sizeBytes }))).toEqual([
          { key: 'data/one', sizeBytes: 3 },
          { key: 'data/two', sizeBytes: 1234 },
        ]);
        for (const object of listed) expect(object.lastModifiedMs).toBeGreaterThan(0);
      });

      it('matches a prefix that ends in the middle of a name', async () => {
        const storage = await makeStorage();
        await putAll(storage, [
          'landing/tasks/2025/11/01/00/a.json',
          'landing/tasks/2025/11/02/00/b.json',
          'landing/ta.json',
          'landing/users/2025/11/01/00/c.json',
          'landingx/tasks/d.json',
        ]);
        expect(await keysOf(storage, 'landing/ta')).toEqual([
          'landing/ta.json',
          'landing/tasks/2025/11/01/00/a.json',
          'landing/tasks/2025/11/02/00/b.json',
        ]);
        expect(await keysOf(storage, 'landing/tasks/2025/11/0')).toEqual(['landing/tasks/2025/11/01/00/a.json', 'landing/tasks/2025/11/02/00/b.json']);
        expect(await keysOf(storage, 'landing/tasks/2025/11/02/')).toEqual(['landing/tasks/2025/11/02/00/b.json']);
        expect(await keysOf(storage, 'landing/')).not.toContain('landingx/tasks/d.json');
        // A prefix is not a folder name: 'landing' also matches 'landingx/...'.
        expect(await keysOf(storage, 'landing')).toContain('landingx/tasks/d.json');
        expect(await keysOf(storage, 'landing/ta.json')).toEqual(['landing/ta.json']);
      });

      it('with a modifiedAfterMs hint, still lists every object modified after it, in key order', async () => {
        const storage = await makeStorage();
        await putAll(storage, ['landing/t/2025/11/01/00/a', 'landing/t/2025/11/01/01/b']);
        const old = await collect(storage.list('landing/'));
        const after = Math.max(...old.map((object) => object.lastModifiedMs));
        await new Promise((resolve) => setTimeout(resolve, 20));
        await putAll(storage, ['landing/t/2025/11/01/01/c', 'landing/t/2025/11/02/00/d', 'landing/t/2025/10/31/23/e']);
        const hinted = await collect(storage.list('landing/', { modifiedAfterMs: after }));
        const keys = hinted.map((object) => object.key);
        expect(keys).toEqual(expect.arrayContaining(['landing/t/2025/10/31/23/e', 'landing/t/2025/11/01/01/c', 'landing/t/2025/11/02/00/d']));
        expect(keys).toEqual([...keys].sort());
        // Whatever else it lists is a real object with its real modified time.
        for (const object of hinted) expect(old.concat(hinted).find((other) => other.key === object.key)?.lastModifiedMs).toBe(object.lastModifiedMs);
      });

      it('lists nothing for a prefix no key starts with', async () => {
        const storage = await makeStorage();
        await putAll(storage, ['landing/tasks/a.json']);
        expect(await keysOf(storage, 'nothing/here/')).toEqual([]);
        expect(await keysOf(storage, 'landing/tasks/b')).toEqual([]);
        expect(await keysOf(storage, 'landing/users/')).toEqual([]);
      });
    });

    describe('put and get', () => {
      it('round-trips bytes and text, and a second put replaces the object', async () => {
        const storage = await makeStorage();
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
        await storage.put('bin/all-bytes', bytes);
        expect(Buffer.compare(await storage.get('bin/all-bytes'), bytes)).toBe(0);
        await storage.put('text/greeting', 'héllo');
        expect((await storage.get('text/greeting')).toString('utf8')).toBe('héllo');
        await storage.put('text/greeting', 'bye');
        expect((await storage.get('text/greeting')).toString('utf8')).toBe('bye');
        expect(await keysOf(storage, 'text/')).toEqual(['text/greeting']);
      });

      it('streams an object', async () => {
        const storage = await makeStorage();
        await storage.put('s/obj', 'x'.repeat(100_000));
        expect(await text(await storage.getStream('s/obj'))).toBe('x'.repeat(100_000));
      });

      it.skipIf(options.atomicOverwrites === false)('is atomic: concurrent writers and listers see only whole objects under the real key', async () => {
        const storage = await makeStorage();
        const bodies = Array.from({ length: 8 }, (_, writer) => Buffer.alloc(256 * 1024, 65 + writer));
        const listings: string[][] = [];
        let writing = true;
        const lister = (async () => {
          while (writing) listings.push(await keysOf(storage, 'atomic/'));
        })();
        await Promise.all(bodies.map((body) => storage.put('atomic/object', body)));
        writing = false;
        await lister;
        listings.push(await keysOf(storage, 'atomic/'));
        for (const listing of listings) expect(listing.every((key) => key === 'atomic/object')).toBe(true);
        expect(await keysOf(storage, '')).toEqual(['atomic/object']);
        const stored = await storage.get('atomic/object');
        expect(bodies.some((body) => body.equals(stored))).toBe(true);
      });

      it('throws NotFoundError OBJECT_NOT_FOUND for a missing key', async () => {
        const storage = await makeStorage();
        await expect(storage.get('no/such/key')).rejects.toSatisfy((error) => error instanceof NotFoundError && error.code === 'OBJECT_NOT_FOUND');
        await expect(storage.getStream('no/such/key')).rejects.toSatisfy((error) => error instanceof NotFoundError && error.code === 'OBJECT_NOT_FOUND');
      });

      it.each(['../x', 'a/../../x', '/etc/passwd', '..'])('refuses the key %j, which points outside the lake', async (key) => {
        const storage = await makeStorage();
        const refused = (error: unknown) => error instanceof ConfigError && error.code === 'STORAGE_KEY_INVALID';
        await expect(storage.put(key, 'x')).rejects.toSatisfy(refused);
        await expect(storage.get(key)).rejects.toSatisfy(refused);
        await expect(storage.stat(key)).rejects.toSatisfy(refused);
        await expect(storage.delete([key])).rejects.toSatisfy(refused);
        await expect(storage.fetchLocal([key])).rejects.toSatisfy(refused);
      });
    });

    describe('stat and delete', () => {
      it('stats an object, and nothing for a missing key or a folder-like prefix', async () => {
        const storage = await makeStorage();
        await storage.put('folder/file.txt', '12345');
        expect(await storage.stat('folder/file.txt')).toMatchObject({ key: 'folder/file.txt', sizeBytes: 5 });
        expect(await storage.stat('folder/missing.txt')).toBeUndefined();
        expect(await storage.stat('folder')).toBeUndefined();
      });

      it('deletes the listed keys only, and a missing key is not an error', async () => {
        const storage = await makeStorage();
        await putAll(storage, ['d/a', 'd/b', 'd/c']);
        await storage.delete(['d/a', 'd/c', 'd/never-existed']);
        expect(await keysOf(storage, 'd/')).toEqual(['d/b']);
        await expect(storage.get('d/a')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    it('fetchLocal gives a local file holding each object', async () => {
      const storage = await makeStorage();
      await storage.put('f/one.json', '{"one":1}');
      await storage.put('f/two.json', '{"two":2}');
      const files = await storage.fetchLocal(['f/one.json', 'f/two.json']);
      try {
        expect([...files.paths.keys()]).toEqual(['f/one.json', 'f/two.json']);
        expect(await readFile(files.paths.get('f/one.json') as string, 'utf8')).toBe('{"one":1}');
        expect(await readFile(files.paths.get('f/two.json') as string, 'utf8')).toBe('{"two":2}');
      } finally {
        await files.release();
      }
    });

    describe('staging area', () => {
      it('stores what DuckDB writes under localDir as objects under the prefix', async () => {
        const storage = await makeStorage();
        await storage.put('silver/t/run_10/other.parquet', 'another run, same leading characters');
        const area = await storage.createStagingArea('silver/t/run_1');
        expect(area.prefix).toBe('silver/t/run_1/');
        const duckdb = await engine();
        const partitioned = quoteLiteral(area.localDir);
        const single = quoteLiteral(path.join(area.localDir, 'single.parquet'));
        await duckdb.run(`COPY (SELECT range AS id, range % 2 AS part FROM range(10)) TO ${partitioned} (FORMAT parquet, PARTITION_BY (part))`);
        await duckdb.run(`COPY (SELECT 1 AS id) TO ${single} (FORMAT parquet)`);

        const stored = await area.persist();
        const keys = stored.map((object) => object.key);
        expect(keys).toHaveLength(3);
        expect(keys).toContain('silver/t/run_1/single.parquet');
        expect(keys.filter((key) => key.startsWith('silver/t/run_1/part=0/') && key.endsWith('.parquet'))).toHaveLength(1);
        expect(keys.filter((key) => key.startsWith('silver/t/run_1/part=1/') && key.endsWith('.parquet'))).toHaveLength(1);
        for (const object of stored) {
          expect(object.sizeBytes).toBe((await storage.get(object.key)).length);
          expect((await storage.get(object.key)).subarray(0, 4).toString('latin1')).toBe('PAR1');
        }
        expect(await keysOf(storage, 'silver/t/run_1/')).toEqual([...keys].sort());
        await area.dispose();
      });

      it('keeps stored objects on dispose(), and removes them with dispose({ discardStored: true })', async () => {
        const storage = await makeStorage();
        await storage.put('silver/t/run_10/kept-by-another-run', 'x');
        const kept = await storage.createStagingArea('silver/t/run_1/');
        expect(kept.prefix).toBe('silver/t/run_1/');
        const duckdb = await engine();
        await duckdb.run(`COPY (SELECT 1 AS id) TO ${quoteLiteral(path.join(kept.localDir, 'a.parquet'))} (FORMAT parquet)`);
        await kept.persist();
        await kept.dispose();
        expect(await keysOf(storage, 'silver/t/run_1/')).toEqual(['silver/t/run_1/a.parquet']);

        const discarded = await storage.createStagingArea('silver/t/run_2');
        await duckdb.run(`COPY (SELECT 1 AS id) TO ${quoteLiteral(path.join(discarded.localDir, 'b.parquet'))} (FORMAT parquet)`);
        expect(await discarded.persist()).toHaveLength(1);
        await discarded.dispose({ discardStored: true });
        expect(await keysOf(storage, 'silver/t/run_2')).toEqual([]);
        expect(await keysOf(storage, 'silver/t/')).toEqual(['silver/t/run_1/a.parquet', 'silver/t/run_10/kept-by-another-run']);
      });
    });
  });
}
