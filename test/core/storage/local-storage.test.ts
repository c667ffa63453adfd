import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage } from '../../../core/index.ts';
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
});
