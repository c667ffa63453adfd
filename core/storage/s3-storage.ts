import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, NotFound, PutObjectCommand, S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError, MedallionError, NotFoundError } from '../errors.ts';
import { compareKeys } from './local-storage.ts';
import { parseS3Uri, type S3Location } from './s3-uri.ts';
import type { ListOptions, LocalFiles, ObjectInfo, StagingArea, Storage } from './storage.ts';


export interface S3StorageOptions {
  /**
   * Where the lake's objects live, by the first folder of their key (`landing`, `bronze`, `silver`, ...),
   * as `s3://bucket[/prefix]`; `default` takes every other key. A key keeps its whole name under the
   * prefix: `silver/tasks/x.parquet` in `s3://lake-silver/prod/` is `s3://lake-silver/prod/silver/tasks/x.parquet`.
   */
  readonly locations: Readonly<Record<string, string>>;
  /** Objects larger than this are uploaded in parts (default 16 MiB). */
  readonly multipartBytes?: number;
  /** Where temporary local copies go (default the OS temp folder). */
  readonly tempDirectory?: string;
}

const PARALLEL_TRANSFERS = 8;

/**
 * The lake in S3 buckets. DuckDB reads local files, so `fetchLocal` downloads into a temporary folder
 * (removed by `release`) and a staging area is a local folder whose files `persist` uploads; nothing
 * uploaded is part of a table until a state-store commit lists it.
 *
 * @example
 * const storage = new S3Storage(new S3Client({}), { locations: { default: 's3://my-lake/' } });
 */
export class S3Storage implements Storage {
  readonly location: string;
  private readonly client: S3Client;
  private readonly byFolder: ReadonlyMap<string, S3Location>;
  private readonly fallback: S3Location | undefined;
  private readonly multipartBytes: number;
  private readonly tempDirectory: string;

  private readonly options: S3StorageOptions;

  constructor(client: S3Client, options: S3StorageOptions) {
    this.client = client;
    this.options = options;
    const problems: string[] = [];
    const parsed = new Map<string, S3Location>();
    for (const [folder, uri] of Object.entries(options.locations)) {
      const location = parseS3Uri(uri);
      if (!location) problems.push(`${folder}: ${JSON.stringify(uri)} is not s3://bucket[/prefix]`);
      else parsed.set(folder, location);
    }
    if (parsed.size === 0 && problems.length === 0) problems.push('no location given');
    if (problems.length > 0) throw new ConfigError('STORAGE_CONFIG_INVALID', `S3 storage: ${problems.join('; ')}`);
    this.fallback = parsed.get('default');
    parsed.delete('default');
    this.byFolder = parsed;
    const shown = this.fallback ?? ([...parsed.values()][0] as S3Location);
    this.location = `s3://${shown.bucket}/${shown.prefix}`;
    this.multipartBytes = options.multipartBytes ?? 16 * 1024 * 1024;
    this.tempDirectory = options.tempDirectory ?? tmpdir();
  }

  /** The same storage reached through another client (another endpoint, retry policy or credentials). */
  withClient(client: S3Client): S3Storage {
    return new S3Storage(client, this.options);
  }

  uriOf(key: string): string {
    const { bucket, s3Key } = this.resolve(key);
    return `s3://${bucket}/${s3Key}`;
  }

  /** The bucket and S3 key of a lake key. */
  resolve(key: string): { bucket: string; s3Key: string } {
    checkKey(key);
    const location = this.locationOf(key);
    return { bucket: location.bucket, s3Key: `${location.prefix}${key}` };
  }

  async *list(prefix: string, _options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    // Every location a key with this prefix can live in, each listed once, merged in key order.
    const locations = new Map<string, S3Location>();
    const add = (location: S3Location) => locations.set(`${location.bucket}/${location.prefix}`, location);
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.indexOf('/')) : undefined;
    if (folder !== undefined) add(this.locationOf(prefix));
    else {
      for (const [name, location] of this.byFolder) if (name.startsWith(prefix) || prefix.startsWith(name)) add(location);
      if (this.fallback) add(this.fallback);
    }
    const listed: ObjectInfo[] = [];
    const same = (a: S3Location, b: S3Location) => a.bucket === b.bucket && a.prefix === b.prefix;
    for (const location of locations.values()) {
      for await (const object of this.listLocation(location, prefix)) {
        // A key listed under a location that is not its own belongs to another mapping: leave it out.
        if (same(this.locationOf(object.key), location)) listed.push(object);
      }
    }
    // S3 lists in UTF-8 byte order already; sorting also merges locations and evens out S3-compatible servers.
    listed.sort((a, b) => compareKeys(a.key, b.key));
    yield* listed;
  }

  private async *listLocation(location: S3Location, prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.call(location.bucket, `${location.prefix}${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: `${location.prefix}${prefix}`, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(location.prefix)) continue;
        yield { key: object.Key.slice(location.prefix.length), sizeBytes: object.Size ?? 0, lastModifiedMs: object.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const { bucket, s3Key } = this.resolve(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: s3Key }));
      return { key, sizeBytes: head.ContentLength ?? 0, lastModifiedMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) return undefined;
      throw storageError(bucket, s3Key, error);
    }
  }

  async get(key: string): Promise<Buffer> {
    const { bucket, s3Key } = this.resolve(key);
    const { body, length } = await this.getObject(key);
    const bytes = Buffer.from(await body.transformToByteArray());
    if (length !== undefined && bytes.length !== length) {
      // A body cut off on the way: worth another try (ECONNRESET is retried), never a short object.
      throw new MedallionError('STORAGE_ERROR', `s3://${bucket}/${s3Key}: read ${bytes.length} of ${length} bytes`, {
        cause: Object.assign(new Error('response body cut off'), { code: 'ECONNRESET' }),
      });
    }
    return bytes;
  }

  async getStream(key: string): Promise<Readable> {
    // In Node the SDK's body is the HTTP response stream.
    return (await this.getObject(key)).body;
  }

  private async getObject(key: string): Promise<{ body: Readable & { transformToByteArray(): Promise<Uint8Array> }; length: number | undefined }> {
    const { bucket, s3Key } = this.resolve(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: s3Key }));
      if (!response.Body) throw new MedallionError('STORAGE_ERROR', `s3://${bucket}/${s3Key}: the response had no body`);
      return { body: response.Body as Readable & { transformToByteArray(): Promise<Uint8Array> }, length: response.ContentLength };
    } catch (error) {
      if (error instanceof NoSuchKey) throw new NotFoundError('OBJECT_NOT_FOUND', `no object ${key} in ${this.location} (s3://${bucket}/${s3Key})`);
      throw storageError(bucket, s3Key, error);
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const { bucket, s3Key } = this.resolve(key);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await this.call(bucket, s3Key, () => this.upload(bucket, s3Key, bytes, bytes.length));
  }

  private async upload(bucket: string, s3Key: string, body: Buffer | Readable, size: number): Promise<void> {
    if (size <= this.multipartBytes) {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: s3Key, Body: body, ContentLength: size }));
      return;
    }
    await new Upload({ client: this.client, params: { Bucket: bucket, Key: s3Key, Body: body }, partSize: Math.max(5 * 1024 * 1024, this.multipartBytes), queueSize: 4 }).done();
  }

  async delete(keys: readonly string[]): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const key of keys) {
      const { bucket, s3Key } = this.resolve(key);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), s3Key]);
    }
    for (const [bucket, s3Keys] of byBucket) {
      for (let start = 0; start < s3Keys.length; start += 1000) {
        const batch = s3Keys.slice(start, start + 1000);
        const result = await this.call(bucket, batch[0] ?? '', () =>
          this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
        );
        const failed = result.Errors ?? [];
        if (failed.length > 0) {
          throw new MedallionError('STORAGE_ERROR', `s3://${bucket}: could not delete ${failed.length} objects, first ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message ?? ''}`);
        }
      }
    }
  }

  async fetchLocal(keys: readonly string[]): Promise<LocalFiles> {
    for (const key of keys) checkKey(key);
    const directory = await mkdtemp(path.join(this.tempDirectory, 'medallion-s3-'));
    const paths = new Map<string, string>();
    try {
      await forEachLimited(keys, PARALLEL_TRANSFERS, async (key) => {
        const target = path.join(directory, ...key.split('/'));
        await mkdir(path.dirname(target), { recursive: true });
        await pipeline(await this.getStream(key), createWriteStream(target));
        paths.set(key, target);
      });
    } catch (error) {
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
    return { paths: new Map(keys.map((key) => [key, paths.get(key) as string])), release: () => rm(directory, { recursive: true, force: true }) };
  }

  async createStagingArea(prefix: string): Promise<StagingArea> {
    const cleanPrefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
    checkKey(cleanPrefix.slice(0, -1));
    const localDir = await mkdtemp(path.join(this.tempDirectory, 'medallion-staging-'));
    const storage = this;
    const stored: string[] = [];
    return {
      localDir,
      prefix: cleanPrefix,
      async persist() {
        const files = (await readdir(localDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
        const objects: ObjectInfo[] = [];
        await forEachLimited(files, PARALLEL_TRANSFERS, async (entry) => {
          const file = path.join(entry.parentPath, entry.name);
          const key = `${cleanPrefix}${path.relative(localDir, file).split(path.sep).join('/')}`;
          const { bucket, s3Key } = storage.resolve(key);
          const { size } = await stat(file);
          // Small files in one request, large ones streamed in parts.
          await storage.call(bucket, s3Key, () => storage.upload(bucket, s3Key, size <= storage.multipartBytes ? readFileSync(file) : createReadStream(file), size));
          stored.push(key);
          objects.push({ key, sizeBytes: size, lastModifiedMs: Date.now() });
        });
        return objects.sort((a, b) => compareKeys(a.key, b.key));
      },
      async dispose(options) {
        await rm(localDir, { recursive: true, force: true });
        if (options?.discardStored && stored.length > 0) await storage.delete(stored);
      },
    };
  }

  private locationOf(key: string): S3Location {
    const folder = key.includes('/') ? key.slice(0, key.indexOf('/')) : key;
    const location = this.byFolder.get(folder) ?? this.fallback;
    if (!location) throw new ConfigError('STORAGE_CONFIG_INVALID', `no S3 location for ${folder}/ (configured: ${[...this.byFolder.keys()].join(', ')}) and no default`);
    return location;
  }

  /** Runs one S3 call, turning a failure into an error that names the bucket and key. */
  private async call<T>(bucket: string, key: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw storageError(bucket, key, error);
    }
  }
}

function checkKey(key: string): void {
  const normalized = path.posix.normalize(key);
  if (key === '' || normalized.startsWith('../') || normalized === '..' || path.posix.isAbsolute(normalized)) {
    throw new ConfigError('STORAGE_KEY_INVALID', `key ${JSON.stringify(key)} points outside the lake`);
  }
}

/** An S3 failure as a MedallionError naming the object, marked transient when S3 says it is. */
function storageError(bucket: string, key: string, error: unknown): Error {
  if (error instanceof MedallionError) return error;
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const wrapped = new MedallionError('STORAGE_ERROR', `s3://${bucket}/${key}: ${name}${status ? ` (HTTP ${status})` : ''}: ${message}`, {
    ...(status === 403 ? { hint: 'the credentials in use may not read or write this bucket' } : status === 404 ? { hint: 'check the bucket name in the storage configuration' } : {}),
    cause: error,
  });
  return wrapped;
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(workers);
}
