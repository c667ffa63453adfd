import { readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage, compareKeys } from '../../../core/storage/index.ts';
import { collect, useTempDirs } from '../test-resources.ts';
import { storageContract } from './storage-contract.ts';

const tempDir = useTempDirs();

storageContract('LocalStorage', async () => new LocalStorage(await tempDir('storage')));

async function allFileNames(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe('LocalStorage', () => {
  it('leaves no temporary file behind after puts', async () => {
    const root = await tempDir('storage');
    const storage = new LocalStorage(root);
    await Promise.all(Array.from({ length: 10 }, (_, index) => storage.put(`a/b/${index % 3}.json`, `{"n":${index}}`)));
    expect((await allFileNames(root)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('never lists the temporary file of an unfinished put', async () => {
    const root = await tempDir('storage');
    const storage = new LocalStorage(root);
    await storage.put('landing/tasks/a.json', '{}');
    // What a put interrupted before its rename leaves behind.
    await writeFile(path.join(root, 'landing', 'tasks', '.tmp-1b2c3d'), '{"half');
    expect((await collect(storage.list('landing/'))).map((object) => object.key)).toEqual(['landing/tasks/a.json']);
  });

  it('hands DuckDB the objects themselves: fetchLocal paths and the staging folder are inside the lake folder', async () => {
    const root = await tempDir('storage');
    const storage = new LocalStorage(root);
    await storage.put('bronze/t/x.parquet', 'x');
    const files = await storage.fetchLocal(['bronze/t/x.parquet']);
    expect(files.paths.get('bronze/t/x.parquet')).toBe(path.join(root, 'bronze', 't', 'x.parquet'));
    const area = await storage.createStagingArea('bronze/t/run_1');
    expect(area.localDir).toBe(path.join(root, 'bronze', 't', 'run_1'));
    expect(storage.location).toBe(`file://${root}`);
  });

  it('with a modifiedAfterMs hint, skips the files of folders unchanged since then and stats only the rest', async () => {
    const root = await tempDir('storage');
    const storage = new LocalStorage(root);
    await storage.put('landing/t/2025/11/01/00/old.json', '{}');
    await storage.put('landing/t/2025/11/01/01/old.json', '{}');
    await storage.put('landing/t/2025/11/01/01/new.json', '{}');
    const hour = (name: string) => path.join(root, 'landing', 't', '2025', '11', '01', name);
    const longAgo = new Date('2025-11-01T02:00:00Z');
    // Folder 00 and every folder above it last changed long ago; folder 01 gained new.json just now.
    for (const folder of [hour('00'), path.dirname(hour('00')), path.join(root, 'landing', 't'), path.join(root, 'landing')]) {
      await utimes(folder, longAgo, longAgo);
    }
    await utimes(path.join(hour('01'), 'old.json'), longAgo, longAgo);
    const keys = (await collect(storage.list('landing/', { modifiedAfterMs: longAgo.getTime() }))).map((object) => object.key);
    expect(keys).toEqual(['landing/t/2025/11/01/01/new.json', 'landing/t/2025/11/01/01/old.json']);
    expect((await collect(storage.list('landing/'))).map((object) => object.key)).toHaveLength(3);
  });

  it('compareKeys orders keys as their UTF-8 bytes, surrogate pairs and private-use characters included', () => {
    const alphabet = ['a', 'Z', '/', '-', '0', 'é', '\u{e000}', '\u{ffff}', '\u{1f600}', '\u{10000}', '\u{7ff}', '\u{800}'];
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 1);
    const keys = Array.from({ length: 400 }, () => Array.from({ length: 1 + (next() % 5) }, () => alphabet[next() % alphabet.length]).join(''));
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareKeys)).toEqual(byBytes);
    expect(compareKeys('\u{1f600}', '\u{e000}')).toBeGreaterThan(0);
    expect(compareKeys('ab', 'ab')).toBe(0);
  });
});
