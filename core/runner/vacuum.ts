import { ConfigError, MedallionError } from '../errors.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import { jobRunFolders, symlinkCurrentFolder, symlinkRoot, tablePrefix } from '../layout/index.ts';
import type { LakeRoot } from '../state/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { DEFAULT_RETAIN_MS, manifestFiles, rootAsOf, VACUUM_RECORD, type TableName, type VacuumHorizon } from '../table/index.ts';
import { readRunRecords, TERMINAL_STATES } from './job-run-record.ts';
import { withMaintenanceLock } from './maintenance-lock.ts';

/** What the vacuum removed (or, in a dry run, would remove). */
export interface VacuumResult {
  readonly dryRun: boolean;
  /** Versions current at or after this time are kept, with every file they list. */
  readonly cutoff: string;
  /** The oldest lake commit kept whole: time travel and restore reach back to it. */
  readonly keptFromCommit: number;
  readonly filesRemoved: number;
  readonly bytesRemoved: number;
  /** Manifests of versions no kept commit names, removed from the state. */
  readonly manifestsRemoved: number;
  /** Data files the kept versions list. */
  readonly filesKept: number;
  /** The first removed keys, for the report. */
  readonly sample: readonly string[];
}

export { VACUUM_RECORD, type VacuumHorizon } from '../table/index.ts';

/** The shortest retention a vacuum accepts: files a run or the quality step is still writing are younger. */
export const MIN_RETAIN_MS = 60 * 60 * 1000;
export { DEFAULT_RETAIN_MS } from '../table/index.ts';

/** Parses `--retain`: a number with a unit, `7d`, `36h`, `90m`. */
export function parseRetain(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(d|h|m)$/.exec(text.trim());
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
  const ms = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : Number.NaN;
  if (!Number.isFinite(ms)) throw new ConfigError('VACUUM_RETAIN_INVALID', `--retain ${JSON.stringify(text)} is not a duration`, { hint: 'e.g. --retain 7d, --retain 36h' });
  if (ms < MIN_RETAIN_MS) {
    throw new ConfigError('VACUUM_RETAIN_TOO_SHORT', `--retain ${text} is shorter than an hour: files that runs are writing right now would look unreferenced`, { hint: 'keep at least --retain 1h; 7d (the default) keeps a week of time travel' });
  }
  return ms;
}

/**
 * Removes the data files, Athena symlink manifests and table manifests that no version inside the retention
 * window needs, and nothing else:
 * - kept: every version current at any moment since `now - retain` (the one current at the cutoff included),
 *   and every version a run still going may be reading (from the commit current when the oldest live run
 *   started), with all their files, and every symlink manifest the catalog may read for them (see
 *   liveSymlinkManifests: an unchanged partition reads the manifest of the version that last wrote it);
 * - never removed: a file younger than the cutoff, or under the folder of a run that is not over (staged,
 *   not committed yet), or of a job whose run records cannot be read;
 * - only the tables' own folders are looked at (`<layer>/<table>/`, their `_symlink/` folders).
 * Safe while runs commit: objects are listed before the runs and the roots are read, so a file listed is
 * either committed in a root read after it, or under a run that was still going (see the test with runs in
 * parallel). A restore, which makes an old version current again, never runs at the same time: both hold the
 * maintenance lock (a dry run takes none). Records how far back commits are whole (`vacuum/horizon`), so time travel and restore can say
 * when a commit is older than that.
 */
export async function vacuumLake(lake: Lake, jobs: readonly Job[], options: VacuumOptions = {}): Promise<VacuumResult> {
  // A dry run changes nothing: it needs no lock. A vacuum holds the maintenance lock, so no restore commits an
  // old version between its reading the roots and its removing that version's files.
  if (options.dryRun) return vacuum(lake, jobs, options);
  return withMaintenanceLock(lake, 'vacuum', (lost) => vacuum(lake, jobs, options, lost));
}

export interface VacuumOptions {
  readonly retainMs?: number;
  readonly dryRun?: boolean;
  readonly now?: () => Date;
}

async function vacuum(lake: Lake, jobs: readonly Job[], options: VacuumOptions, lost?: AbortSignal): Promise<VacuumResult> {
  const now = (options.now ?? (() => new Date()))();
  const retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
  const cutoff = new Date(now.getTime() - retainMs);
  const dryRun = options.dryRun ?? false;

  // 1. What storage holds, in the tables' folders (listed first: see above).
  const head0 = await lake.state.readRoot();
  const tables = Object.keys(head0.tables) as TableName[];
  const listed: { key: string; sizeBytes: number; lastModifiedMs: number }[] = [];
  for (const prefix of [...new Set(tables.flatMap((table) => [tablePrefix(table), symlinkRoot(table)]))]) {
    for await (const object of lake.storage.list(prefix)) listed.push(object);
  }

  // 2. Runs not over: their folders are not touched, and what they may read is kept.
  const liveRuns = new Set<string>();
  const untouchable: string[] = [];
  let oldestLiveStart = Number.POSITIVE_INFINITY;
  for (const job of jobs) {
    const { records, unreadable } = await readRunRecords(lake.state, job.name);
    if (unreadable.length > 0) untouchable.push(...jobRunFolders(job));
    for (const record of records) {
      if (TERMINAL_STATES.has(record.JobRunState)) continue;
      liveRuns.add(record.Id);
      oldestLiveStart = Math.min(oldestLiveStart, Date.parse(record.StartedOn));
    }
  }

  // 3. The commits to keep whole, read after the listing.
  const head = await lake.state.readRoot();
  const keepFrom = Math.min(cutoff.getTime(), oldestLiveStart);
  const first = Date.parse(head.committedAt) <= keepFrom ? head : await rootAsOf(lake.state, { time: new Date(keepFrom) }).catch(() => undefined);
  // Never back before the last vacuum's horizon (a longer --retain than last time): the manifests there are gone.
  const previous = await lake.state.getRecord<VacuumHorizon>(VACUUM_RECORD.collection, VACUUM_RECORD.id);
  // A run that starts after the run records were read (2.) reads the root it is based on after them, so no earlier
  // than head0: keeping from head0 keeps that root's versions too (a commit checks its replacing writes against them).
  const keptFromCommit = Math.max(Math.min(first?.seq ?? 1, head0.seq), previous?.keptFromCommit ?? 1);
  const keptManifests = new Set<string>();
  const keptFiles = new Set<string>();
  // The oldest version of each table a kept commit names: the catalog may show any version from there on.
  const oldestKeptVersion = new Map<string, number>();
  for (let seq = keptFromCommit; seq <= head.seq; seq += 1) {
    const root = seq === head.seq ? head : await lake.state.readRootAt(seq);
    if (!root) continue;
    for (const [table, ref] of Object.entries(root.tables)) {
      oldestKeptVersion.set(table, Math.min(oldestKeptVersion.get(table) ?? Number.POSITIVE_INFINITY, ref.version));
      if (keptManifests.has(ref.manifest)) continue;
      keptManifests.add(ref.manifest);
      for (const file of manifestFiles(await readManifest(lake.state, ref.manifest))) keptFiles.add(file.key);
    }
  }
  const alwaysKept = tables.map((table) => symlinkCurrentFolder(table));
  const keptSymlinks = liveSymlinkManifests(tables, listed, oldestKeptVersion);

  const removable = listed.filter((object) => {
    if (keptFiles.has(object.key)) return false;
    if (object.lastModifiedMs >= cutoff.getTime()) return false;
    if (untouchable.some((folder) => object.key.startsWith(folder))) return false;
    if (object.key.split('/').some((part) => liveRuns.has(part))) return false;
    if (object.key.includes('/_symlink/')) {
      if (alwaysKept.some((folder) => object.key.startsWith(folder))) return false;
      if (keptSymlinks.has(object.key)) return false;
    }
    return true;
  });

  // 4. Manifests of the versions no kept commit names: from the commits the last vacuum kept up to the first kept now.
  const dropped = new Set<string>();
  for (let seq = Math.max(1, previous?.keptFromCommit ?? 1); seq < keptFromCommit; seq += 1) {
    const root: LakeRoot | undefined = await lake.state.readRootAt(seq);
    for (const ref of Object.values(root?.tables ?? {})) if (!keptManifests.has(ref.manifest)) dropped.add(ref.manifest);
  }

  if (!dryRun) {
    // The horizon first: from here on, time travel before it says why, even if the removal stops half-way.
    lost?.throwIfAborted();
    if (keptFromCommit > (previous?.keptFromCommit ?? 0)) {
      await lake.state.putRecord(VACUUM_RECORD.collection, VACUUM_RECORD.id, { keptFromCommit, cutoff: cutoff.toISOString(), retainMs, at: now.toISOString() } satisfies VacuumHorizon);
    }
    for (let start = 0; start < removable.length; start += 1000) {
      lost?.throwIfAborted();
      await lake.storage.delete(removable.slice(start, start + 1000).map((object) => object.key));
    }
    for (const id of dropped) {
      lost?.throwIfAborted();
      await lake.state.deleteDocument(id);
    }
    await lake.metrics.emit([
      { name: 'medallion.vacuum.filesRemoved', value: removable.length, unit: 'Count', dimensions: { JobName: 'vacuum' }, timestampMs: now.getTime() },
      { name: 'medallion.vacuum.bytesRemoved', value: removable.reduce((sum, object) => sum + object.sizeBytes, 0), unit: 'Bytes', dimensions: { JobName: 'vacuum' }, timestampMs: now.getTime() },
    ]).catch(() => undefined);
  }
  return {
    dryRun,
    cutoff: cutoff.toISOString(),
    keptFromCommit,
    filesRemoved: removable.length,
    bytesRemoved: removable.reduce((sum, object) => sum + object.sizeBytes, 0),
    manifestsRemoved: dropped.size,
    filesKept: keptFiles.size,
    sample: removable.slice(0, 10).map((object) => object.key),
  };
}

/** Refuses a commit older than what the last vacuum kept whole, saying so (time travel, restore). */
export async function checkRetained(lake: Lake, commit: number, what: string): Promise<void> {
  const horizon = await lake.state.getRecord<VacuumHorizon>(VACUUM_RECORD.collection, VACUUM_RECORD.id);
  if (horizon && commit < horizon.keptFromCommit) {
    throw new MedallionError('OLDER_THAN_RETENTION',
      `${what} is commit ${commit}, older than the retention window: the vacuum at ${horizon.at} kept commits from ${horizon.keptFromCommit} on (${Math.round(horizon.retainMs / 3_600_000)} h), and removed the files of older versions`,
      { hint: 'pick a commit from `medallion history <table>` that is not marked removed; vacuum with a longer --retain to keep more', exitCode: 2 });
  }
}

/**
 * The symlink manifests the catalog may still read. A partition's manifest is written at the version that
 * changed the partition, and the catalog keeps reading it while later versions leave the partition alone (a
 * bronze day written once is read from its first version's manifest for as long as the table lives). So of
 * each partition's manifests, those of the versions a kept commit names are kept, and so is the newest one
 * older than the oldest of those: the one the catalog showed for that partition at that version. A
 * partition a later version dropped keeps that one manifest too (a few bytes), as the catalog may not have
 * been told yet.
 */
function liveSymlinkManifests(tables: readonly TableName[], listed: readonly { readonly key: string }[], oldestKeptVersion: ReadonlyMap<string, number>): Set<string> {
  const roots = new Map(tables.map((table) => [symlinkRoot(table), table] as const));
  // Each partition's manifests by version, in one pass over the listing: a key is `<root><partition>/v<version>/manifest`
  // (or, as lakes published before kept them, `<root>v<version>/<partition>/manifest`; both name the same partition).
  const byPartition = new Map<string, { key: string; version: number; oldest: number }[]>();
  for (const { key } of listed) {
    const at = key.indexOf('/_symlink/');
    if (at < 0) continue;
    // `<layer>/_symlink/<table>/`: the table's root.
    const rootEnd = key.indexOf('/', at + '/_symlink/'.length);
    const table = rootEnd < 0 ? undefined : roots.get(key.slice(0, rootEnd + 1));
    if (table === undefined) continue;
    const segments = key.slice(rootEnd + 1).split('/');
    const versionAt = segments.findIndex((segment) => /^v\d+$/.test(segment));
    if (versionAt < 0) continue;
    const partition = `${table} ${segments.filter((_, index) => index !== versionAt).join('/')}`;
    const manifests = byPartition.get(partition) ?? [];
    manifests.push({ key, version: Number(segments[versionAt]?.slice(1)), oldest: oldestKeptVersion.get(table) ?? Number.POSITIVE_INFINITY });
    byPartition.set(partition, manifests);
  }
  const kept = new Set<string>();
  for (const manifests of byPartition.values()) {
    const oldest = manifests[0]?.oldest ?? Number.POSITIVE_INFINITY;
    const shownAtOldest = Math.max(-1, ...manifests.filter((manifest) => manifest.version <= oldest).map((manifest) => manifest.version));
    for (const manifest of manifests) if (manifest.version >= shownAtOldest) kept.add(manifest.key);
  }
  return kept;
}
