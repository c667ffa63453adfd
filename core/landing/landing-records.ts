import { closeSync, constants, ftruncateSync, openSync, truncateSync } from 'node:fs';
import type { Engine } from '../engine/index.ts';
import { quoteIdentifier, quoteLiteral } from '../engine/index.ts';
import { LocalStorage, type ObjectInfo, type Storage } from '../storage/index.ts';
import { cutPool, type CutObject, type CutPool } from './cut-pool.ts';
import { DEFAULT_LANDING_LIMITS, type LandingLimits } from './record-splitter.ts';
import { FIELD_SEPARATOR, MAX_LINE_BYTES, SpoolLines, oversizedObjectRecord, writeAt } from './spool-lines.ts';
import { isUnreadableObjectError } from './unreadable-objects.ts';

/** Columns of the relation a landing source becomes. */
export const LANDING_RECORD_COLUMNS = [
  'source_object VARCHAR',
  'record_index BIGINT',
  'object_last_modified TIMESTAMP',
  'raw VARCHAR',
  'split_error VARCHAR',
] as const;

/** Records of some landing objects, cut apart and written to local spool files DuckDB reads. */
export interface LandingSpool {
  /** The spool's files: the one it was asked for, and one beside it per worker that cut some of its objects. */
  readonly paths: readonly string[];
  readonly objects: readonly ObjectInfo[];
  readonly records: number;
  readonly bytesRead: number;
  /** Objects that could not be fetched, and why (see isUnreadableObjectError): none of their records is in the spool. */
  readonly unreadable: readonly { object: ObjectInfo; error: string }[];
}

/**
 * Cuts the records of `objects` apart (docs/semantics.md, "Landing") and writes them to `spoolPath` and
 * files beside it (`<spoolPath>.<n>`), one line each. The cutting is done by the cut pool's worker threads,
 * a group of objects at a time, each writing its lines to a file of its own (and reading a folder lake's files
 * itself); this thread fetches from an object store (and writes the one-line records of objects over the limit),
 * so its event loop stays free. Each object's lines are together and in its records' order; objects' order
 * across the files is not kept (every line names its object and record). An object over `limits` becomes one
 * record that says so. The data work is left to DuckDB.
 *
 * A spool path used again (a batch's, once the batch before last is written) is written over in place, and
 * cut to its new length at the end: pages a file already has cost far less to write than new ones, which
 * on a virtual machine can cost as much as the cutting.
 */
export async function spoolLandingObjects(
  storage: Storage,
  objects: readonly ObjectInfo[],
  spoolPath: string,
  options: { signal?: AbortSignal; limits?: LandingLimits } = {},
): Promise<LandingSpool> {
  const limits = options.limits ?? DEFAULT_LANDING_LIMITS;
  let records = 0;
  let bytesRead = 0;
  const unreadable: { object: ObjectInfo; error: string }[] = [];
  // Where this thread's file ends, and each file the workers wrote.
  let ownEnd = 0;
  const workerEnds = new Map<string, number>();
  const spool = openSync(spoolPath, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    spoolGeneration += 1;
    const mode = { spool: { path: spoolPath, generation: spoolGeneration } };
    for await (const group of cutInOrder(storage, objects, limits, mode, options.signal)) {
      for (const item of group.items) {
        if (item.unreadable !== undefined) unreadable.push({ object: item.object, error: item.unreadable });
        records += item.records;
        bytesRead += item.bytesRead;
      }
      // The lines of objects over the limit, made here (a few bytes each); the workers wrote the rest.
      ownEnd += writeAt(spool, group.lines, ownEnd);
      if (group.spooled) workerEnds.set(group.spooled.file, Math.max(group.spooled.end, workerEnds.get(group.spooled.file) ?? 0));
    }
    ftruncateSync(spool, ownEnd);
  } finally {
    closeSync(spool);
  }
  // What an earlier use of a file left beyond this use's lines goes (each worker's writes end at its last reply's end).
  for (const [file, end] of workerEnds) truncateSync(file, end);
  return { paths: [spoolPath, ...workerEnds.keys()], objects, records, bytesRead, unreadable };
}

/** Counts uses of spool paths, so a worker knows a path used again starts over. */
let spoolGeneration = 0;

/** A landing source's objects, and the folders and links under it that could not be listed or followed. */
export async function listLanding(
  storage: Storage,
  prefix: string,
  options: { modifiedAfterMs?: number } = {},
): Promise<{ objects: ObjectInfo[]; unreadable: { key: string; error: string }[] }> {
  const objects: ObjectInfo[] = [];
  const unreadable: { key: string; error: string }[] = [];
  for await (const object of storage.list(prefix, { ...options, reportUnreadable: true })) {
    if (object.unreadable !== undefined) unreadable.push({ key: object.key, error: object.unreadable });
    else objects.push(object);
  }
  return { objects, unreadable };
}

/** How many records each object holds, cut as `spoolLandingObjects` cuts them (reconcile's count). */
export async function* countLandingRecords(
  storage: Storage,
  objects: readonly ObjectInfo[],
  limits: LandingLimits = DEFAULT_LANDING_LIMITS,
): AsyncGenerator<{ object: ObjectInfo; records: number; unreadable?: string }> {
  for await (const group of cutInOrder(storage, objects, limits, 'count')) {
    for (const item of group.items) yield { object: item.object, records: item.records, ...(item.unreadable === undefined ? {} : { unreadable: item.unreadable }) };
  }
}

export { isUnreadableObjectError };

/**
 * Fetches ahead (object stores answer faster with many reads in flight, up to PREFETCH_OBJECTS and
 * PREFETCH_BYTES of stored data) and has the pool cut groups of objects (up to GROUP_OBJECTS and
 * GROUP_BYTES each, one worker message per group) a few groups at once, yielding the results in the
 * objects' order. What waits in memory is bounded by those numbers, not by the input.
 */
async function* cutInOrder(
  storage: Storage,
  objects: readonly ObjectInfo[],
  limits: LandingLimits,
  mode: CutMode,
  signal?: AbortSignal,
): AsyncGenerator<CutGroup> {
  const pool = cutPool();
  const fileOf = localFiles(storage);
  const fetched: Fetched[] = [];
  const cutting: Promise<CutGroup>[] = [];
  const stored = (object: ObjectInfo) => Math.min(object.sizeBytes, limits.maxObjectBytes);
  let fetchedBytes = 0;
  let next = 0;
  const fetchAhead = () => {
    while (next < objects.length && fetched.length < PREFETCH_OBJECTS && (fetched.length === 0 || fetchedBytes < PREFETCH_BYTES)) {
      const object = objects[next] as ObjectInfo;
      next += 1;
      // An object whose stored bytes alone are over the limit is not fetched at all; a folder lake's file is
      // read by the worker that cuts it.
      if (object.sizeBytes <= limits.maxObjectBytes && fileOf !== undefined) {
        fetched.push({ object, file: fileOf(object.key) });
      } else {
        const body = object.sizeBytes > limits.maxObjectBytes ? Promise.resolve(undefined) : storage.get(object.key);
        body.catch(() => undefined);
        fetched.push({ object, body });
      }
      fetchedBytes += stored(object);
    }
  };
  const startGroup = () => {
    const group: Fetched[] = [];
    let groupBytes = 0;
    while (fetched.length > 0 && group.length < GROUP_OBJECTS && (group.length === 0 || groupBytes + stored((fetched[0] as { object: ObjectInfo }).object) <= GROUP_BYTES)) {
      const head = fetched.shift() as Fetched;
      fetchedBytes -= stored(head.object);
      groupBytes += stored(head.object);
      group.push(head);
    }
    const cut = cutGroup(group, pool, limits, mode, storage.location);
    cut.catch(() => undefined);
    cutting.push(cut);
  };
  try {
    while (next < objects.length || fetched.length > 0 || cutting.length > 0) {
      signal?.throwIfAborted();
      fetchAhead();
      while (cutting.length < pool.size + 1 && fetched.length > 0) {
        startGroup();
        fetchAhead();
      }
      yield await (cutting.shift() as Promise<CutGroup>);
    }
  } finally {
    // Given up early (an error, a stop): the groups still with the workers end first, so none writes to a spool
    // file after the caller has moved on (and the run's end removes the spool folder).
    await Promise.allSettled(cutting);
  }
}

/** Only counting records (`'count'`), or cutting them into spool lines beside `spool`. */
type CutMode = 'count' | { readonly spool: { readonly path: string; readonly generation: number } };

/** An object on its way to the pool: its body being fetched (undefined: over the limit, not fetched), or its local file. */
type Fetched = { readonly object: ObjectInfo } & ({ readonly body: Promise<Buffer | undefined>; readonly file?: undefined } | { readonly file: string; readonly body?: undefined });

/**
 * A local file for each key when `storage` is a folder lake read as it is: the workers then read the files
 * themselves, off this thread and without a copy. A store that wraps a folder lake's reads (to count or
 * refuse them) is read through its own `get`.
 */
function localFiles(storage: Storage): ((key: string) => string) | undefined {
  return storage instanceof LocalStorage && storage.get === LocalStorage.prototype.get ? (key) => storage.pathOf(key) : undefined;
}

/** One group's objects, once fetched: objects set aside or over the limit by size here, the rest cut by a worker. */
async function cutGroup(group: readonly Fetched[], pool: CutPool, limits: LandingLimits, mode: CutMode, location: string): Promise<CutGroup> {
  const settled = await Promise.allSettled(group.map((item) => item.body));
  const items: CutItem[] = [];
  const toCut: (CutObject & { index: number })[] = [];
  const oversized = new SpoolLines(1024);
  settled.forEach((outcome, index) => {
    const { object, file } = group[index] as Fetched;
    if (file !== undefined) {
      toCut.push({ index: items.length, object, file });
      items.push({ object, records: 0, bytesRead: 0 });
    } else if (outcome.status === 'rejected') {
      if (!isUnreadableObjectError(outcome.reason)) throw outcome.reason;
      items.push({ object, records: 0, bytesRead: 0, unreadable: (outcome.reason as Error).message });
    } else if (outcome.value === undefined) {
      items.push({ object, records: mode === 'count' ? 1 : oversized.addAll(object, [oversizedObjectRecord(object.sizeBytes, limits)]), bytesRead: 0 });
    } else {
      toCut.push({ index: items.length, object, body: outcome.value });
      items.push({ object, records: 0, bytesRead: outcome.value.length });
    }
  });
  if (toCut.length > 0) {
    const cut = mode === 'count' ? await pool.cut('count', toCut, limits, undefined, location) : await pool.cut('lines', toCut, limits, mode.spool, location);
    if (cut.records.length !== toCut.length) throw new Error(`the cut pool returned ${cut.records.length} counts for ${toCut.length} objects`);
    cut.records.forEach((records, position) => {
      const { index } = toCut[position] as { index: number };
      const item = items[index] as CutItem;
      const why = cut.unreadable.get(position);
      items[index] = { ...item, records, bytesRead: item.bytesRead + (cut.bytes[position] ?? 0), ...(why === undefined ? {} : { unreadable: why }) };
    });
    return { items, lines: oversized.contents(), ...(cut.spooled ? { spooled: cut.spooled } : {}) };
  }
  return { items, lines: oversized.contents() };
}

/** One object of a group: its records, the stored bytes read, and why it could not be fetched. */
interface CutItem {
  readonly object: ObjectInfo;
  readonly records: number;
  readonly bytesRead: number;
  readonly unreadable?: string;
}

/** A group of objects, cut: each object in order, the lines of those over the limit, and where the worker wrote the rest. */
interface CutGroup {
  readonly items: readonly CutItem[];
  readonly lines: Uint8Array;
  readonly spooled?: { readonly file: string; readonly end: number };
}

/**
 * Makes `relation` a view over a spool, with LANDING_RECORD_COLUMNS; the spool's files must stay as they are
 * until the view's last use (a batch's spool path is written over two batches later: see landingBatches).
 */
export async function loadLandingSpool(engine: Engine, spool: LandingSpool, relation: string): Promise<void> {
  const columns = `{'source_object': 'VARCHAR', 'last_modified_ms': 'BIGINT', 'record_index': 'BIGINT', 'split_error': 'VARCHAR', 'encoding': 'VARCHAR', 'payload': 'VARCHAR'}`;
  // Every line carries its object's key: joining an object table instead costs more than the bytes.
  await engine.run(`
    CREATE OR REPLACE VIEW ${quoteIdentifier(relation)} AS
    SELECT CASE WHEN contains(encoding, 'k') THEN decode(from_base64(source_object)) ELSE source_object END AS source_object,
           record_index,
           make_timestamp(last_modified_ms * 1000) AS object_last_modified,
           CASE WHEN contains(encoding, 'p') THEN decode(from_base64(payload)) ELSE coalesce(payload, '') END AS raw,
           split_error
    FROM read_csv([${spool.paths.map(quoteLiteral).join(', ')}], delim = ${quoteLiteral(FIELD_SEPARATOR)}, quote = '', escape = '',
                  header = false, auto_detect = false, columns = ${columns}, max_line_size = ${MAX_LINE_BYTES},
                  buffer_size = ${SPOOL_READ_BUFFER_BYTES})`);
}

/**
 * Groups objects, in key order, into batches of about `maxBytes` of stored data (at least one object
 * each). The first batch is a quarter of that, so the engine starts working sooner.
 */
export function batchObjects(objects: readonly ObjectInfo[], maxBytes: number): ObjectInfo[][] {
  const batches: ObjectInfo[][] = [];
  let current: ObjectInfo[] = [];
  let currentBytes = 0;
  for (const object of objects) {
    const limit = batches.length === 0 ? maxBytes / 4 : maxBytes;
    if (current.length > 0 && currentBytes + object.sizeBytes > limit) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(object);
    currentBytes += object.sizeBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}


/**
 * The CSV reader's buffer: by default 16 times the line limit (64 MiB here), which leaves two threads few
 * buffers to share; 16 MiB (four of the longest lines) reads the benchmark's 1 GB spool in about half the time.
 */
const SPOOL_READ_BUFFER_BYTES = 16 * 1024 * 1024;

const PREFETCH_OBJECTS = 1024;
const PREFETCH_BYTES = 64 * 1024 * 1024;
const GROUP_OBJECTS = 256;
const GROUP_BYTES = 4 * 1024 * 1024;
