import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { ConfigError, NotFoundError } from '../errors.ts';
import type { LocalFiles, ObjectInfo, StagingArea, Storage } from './storage.ts';

/** A lake in a folder. Writes go to a temporary file and are renamed into place, so they are atomic. */
export class LocalStorage implements Storage {
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = `file://${this.root}`;
  }

  pathOf(key: string): string {
    const normalized = path.posix.normalize(key);
    if (normalized.startsWith('../') || normalized === '..' || path.posix.isAbsolute(normalized)) {
      throw new ConfigError('STORAGE_KEY_INVALID', `key ${JSON.stringify(key)} points outside the lake`);
    }
    return path.join(this.root, ...normalized.split('/'));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // List the deepest folder the prefix names fully, then filter by the rest of the prefix.
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(folderKey, prefix);
  }

  private async *walk(folderKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    const folder = folderKey === '' ? this.root : this.pathOf(folderKey);
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const names = entries.map((entry) => ({ entry, key: folderKey === '' ? entry.name : `${folderKey}/${entry.name}` }));
    // Key order: a folder's children sort as if the folder name were followed by '/'.
    names.sort((a, b) => compareKeys(a.entry.isDirectory() ? `${a.key}/` : a.key, b.entry.isDirectory() ? `${b.key}/` : b.key));
    for (const { entry, key } of names) {
      if (entry.name.startsWith('.tmp-')) continue;
      if (entry.isDirectory()) {
        const asFolder = `${key}/`;
        if (asFolder.startsWith(prefix) || prefix.startsWith(asFolder)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = statSync(path.join(folder, entry.name));
        yield { key, sizeBytes: info.size, lastModifiedMs: info.mtimeMs };
      }
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, sizeBytes: info.size, lastModifiedMs: info.mtimeMs } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      // A synchronous read of a local file is ten times faster than fs/promises' chunked readFile,
      // and landing objects are read one after another anyway.
      return readFileSync(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError('OBJECT_NOT_FOUND', `no object ${key} in ${this.location}`);
      }
      throw error;
    }
  }

  async getStream(key: string): Promise<Readable> {
    if (!(await this.stat(key))) throw new NotFoundError('OBJECT_NOT_FOUND', `no object ${key} in ${this.location}`);
    return createReadStream(this.pathOf(key));
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = path.join(path.dirname(target), `.tmp-${randomUUID()}`);
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.pathOf(key), { force: true })));
  }

  async fetchLocal(keys: readonly string[]): Promise<LocalFiles> {
    return { paths: new Map(keys.map((key) => [key, this.pathOf(key)])), release: async () => undefined };
  }

  async createStagingArea(prefix: string): Promise<StagingArea> {
    const cleanPrefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const localDir = this.pathOf(cleanPrefix.slice(0, -1));
    await mkdir(localDir, { recursive: true });
    const storage = this;
    return {
      localDir,
      prefix: cleanPrefix,
      // DuckDB wrote straight into the lake folder: storing is listing what it wrote.
      async persist() {
        const stored: ObjectInfo[] = [];
        for await (const object of storage.list(cleanPrefix)) stored.push(object);
        return stored;
      },
      async dispose(options) {
        if (options?.discardStored) await rm(localDir, { recursive: true, force: true });
      },
    };
  }
}

/** Byte order of UTF-8 keys, as S3 lists them. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
