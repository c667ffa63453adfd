import type { Readable } from 'node:stream';

/** One stored object. Keys use '/' separators and are relative to the lake root. */
export interface ObjectInfo {
  readonly key: string;
  readonly sizeBytes: number;
  readonly lastModifiedMs: number;
  /**
   * Only in a listing with `reportUnreadable`: a folder (its key ends with '/') or a link that could not be
   * listed or followed, and why. It holds no data; its objects are listed once it can be read.
   */
  readonly unreadable?: string;
}

/**
 * Local files DuckDB can read for some stored objects. On a folder lake these are the objects
 * themselves; on S3 they are temporary copies, removed by `release()`.
 */
export interface LocalFiles {
  readonly paths: ReadonlyMap<string, string>;
  release(): Promise<void>;
}

/**
 * A local directory that DuckDB writes a run's output files into, and the step that makes those files
 * stored objects under `prefix`. Stored is not visible: only a state-store commit makes files part of a table.
 */
export interface StagingArea {
  readonly localDir: string;
  readonly prefix: string;
  /** Stores every file written under `localDir`; returns them keyed by their lake key. */
  persist(): Promise<ObjectInfo[]>;
  /** Removes local temporaries (and, when `discardStored` is set, what `persist` stored). */
  dispose(options?: { discardStored?: boolean }): Promise<void>;
}

export interface ListOptions {
  /**
   * A hint for callers that only want recent objects (a bookmarked run): the listing may leave out
   * objects last modified at or before this time. A folder lake skips the files of folders unchanged
   * since then (landing objects are written once, by rename, so a file is never newer than its
   * folder); S3 lists everything. Objects modified later are always listed.
   */
  readonly modifiedAfterMs?: number;
  /**
   * A folder lake's folder that cannot be listed (permissions), or a link that leads nowhere or in a
   * circle, is listed as an entry with `unreadable` set instead of failing the listing (landing input:
   * one bad folder must not stop the lake). Without it, such a folder fails the listing.
   */
  readonly reportUnreadable?: boolean;
}

/**
 * Where the lake's objects live: a folder on the embedded default, S3 buckets in AWS.
 *
 * @example
 * const storage = new LocalStorage('./lake');
 * await storage.put('landing/tasks/2025/11/01/00/x.json', Buffer.from('{}'));
 * for await (const object of storage.list('landing/tasks/')) console.log(object.key);
 */
export interface Storage {
  /** Where the lake is, for messages: `file:///abs/path` or `s3://bucket/prefix`. */
  readonly location: string;
  /** Where one key's object is, for messages and links: `file:///abs/path/key` or `s3://bucket/prefix/key`. */
  uriOf(key: string): string;
  /** Every object whose key starts with `prefix`, in key order (see ListOptions for a narrower listing). */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  get(key: string): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  /** Writes a whole object; readers see the old object or the new one, never a part. */
  put(key: string, body: Buffer | string): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  fetchLocal(keys: readonly string[]): Promise<LocalFiles>;
  createStagingArea(prefix: string): Promise<StagingArea>;
}
