import { randomUUID } from 'node:crypto';
import { bookmarkDocumentId } from '../bookmark/index.ts';
import { ConfigError, JobBusyError, MedallionError, NotFoundError } from '../errors.ts';
import { jobLockName, type Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot, LockLease } from '../state/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { manifestFiles, tableHistory, type TableManifest, type TableVersion } from '../table/index.ts';
import { publishCommitted, type CatalogPublishOutcome } from './publish-catalog.ts';
import { withMaintenanceLock } from './maintenance-lock.ts';
import { checkRetained } from './vacuum.ts';
import { manifestDocumentId } from '../state/state-keys.ts';

/** What `medallion restore` will do (and, once done, did). */
export interface RestorePlan {
  readonly table: string;
  readonly current: TableVersion;
  readonly target: TableVersion;
  /** The version the restore commits: current + 1, holding exactly the target's files. */
  readonly newVersion: number;
  readonly filesAdded: number;
  readonly filesRemoved: number;
  /** The job that writes the table, if one of `jobs` does. */
  readonly job?: string;
  /**
   * Where the job's bookmark goes: back to the bookmark the run that made the target committed (so the job's
   * next bookmarked run reads again what came after, and nothing the newer versions held is lost for good), or
   * removed when that run committed none (its next run reads everything).
   */
  readonly bookmark?: { readonly job: string; readonly to: string | null };
  /** Jobs that read the table: their next run reads the restored version (in full, when files were removed). */
  readonly downstream: readonly string[];
  /** The restore's commit, once made. */
  readonly commit?: number;
  readonly catalog?: CatalogPublishOutcome;
}

const RESTORE_LEASE_MS = 60_000;

/** Decides what restoring `table` to `version` changes, without changing anything (the dry run). */
export async function planRestore(lake: Lake, jobs: readonly Job[], table: string, version: number): Promise<RestorePlan> {
  const root = await lake.state.readRoot();
  if (!root.tables[table]) throw new NotFoundError('TABLE_UNKNOWN', `the lake has no committed table ${table}`, { hint: '`medallion tables` lists the tables' });
  const history = await tableHistory(lake.state, table, { root });
  const current = history[0] as TableVersion;
  const target = history.find((entry) => entry.version === version);
  if (!target) {
    throw new NotFoundError('TABLE_VERSION_UNKNOWN', `${table} has no version ${version}: its versions are ${history.at(-1)?.version ?? 1} to ${current.version}`, {
      hint: `\`medallion history ${table}\` lists them`,
    });
  }
  if (target.removed) {
    throw new ConfigError('TABLE_VERSION_REMOVED', `${table} version ${version} was committed ${target.committedAt}, before the retention window: a vacuum removed its files`, {
      hint: `\`medallion history ${table}\` shows which versions are still kept; restore one of those`,
    });
  }
  if (version === current.version) throw new ConfigError('TABLE_VERSION_CURRENT', `${table} is at version ${version} already`);
  // Kept while it was current at the vacuum's horizon: the commit before the next version is what must be kept.
  const next = history[history.indexOf(target) - 1] as TableVersion;
  await checkRetained(lake, next.commit - 1, `${table} version ${version}`);
  const [now, then] = await Promise.all([readManifest(lake.state, current.manifestId), readManifest(lake.state, target.manifestId)]);
  await checkFilesExist(lake, then);
  const keysNow = new Set(manifestFiles(now).map((file) => file.key));
  const keysThen = new Set(manifestFiles(then).map((file) => file.key));
  const writer = jobs.find((job) => job.outputs.some((spec) => spec.name === table));
  let bookmark: RestorePlan['bookmark'];
  if (writer && root.bookmarks[writer.name] !== undefined) {
    // The job's bookmark as it was when version N was current (also when the run that made it committed none: a
    // replay, a pause run, another restore).
    const then = (await lake.state.readRootAt(target.commit))?.bookmarks[writer.name];
    const runOf = then === undefined ? null : then.slice(then.lastIndexOf('/') + 1);
    bookmark = { job: writer.name, to: runOf !== null && then === bookmarkDocumentId(writer.name, runOf) ? runOf : null };
  }
  return {
    table,
    current,
    target,
    newVersion: current.version + 1,
    filesAdded: [...keysThen].filter((key) => !keysNow.has(key)).length,
    filesRemoved: [...keysNow].filter((key) => !keysThen.has(key)).length,
    ...(writer ? { job: writer.name } : {}),
    ...(bookmark ? { bookmark } : {}),
    downstream: jobs.filter((job) => Object.values(job.sources).some((source) => source.kind === 'table' && source.table === table)).map((job) => job.name),
  };
}

/**
 * Makes version `version` of `table` current again as a new commit (history is never rewritten: the versions
 * in between stay, and can be restored in turn), and moves the writing job's bookmark back to where that
 * version was made (see RestorePlan.bookmark), in the same commit. Holds the writing job's lock, so no run of
 * it commits in between, and the commit is fenced by it; and the lake's maintenance lock, so no vacuum removes
 * the version's files between the check that they are all there and the commit.
 */
export async function restoreTable(lake: Lake, jobs: readonly Job[], table: string, version: number): Promise<RestorePlan> {
  await planRestore(lake, jobs, table, version);
  const writer = jobs.find((job) => job.outputs.some((spec) => spec.name === table))?.name;
  const owner = `restore-${randomUUID()}`;
  const lease = writer ? await lake.state.acquireLock(jobLockName(writer), owner, RESTORE_LEASE_MS, Date.now()) : undefined;
  if (writer && !lease) {
    const holder = await lake.state.readLock(jobLockName(writer));
    throw new JobBusyError(writer, holder?.owner ?? 'another run', holder ? new Date(holder.expiresAtMs).toISOString() : 'soon');
  }
  try {
    // Planned again under the maintenance lock: a vacuum that ran since the first look may have removed the
    // version's files, and none can remove them from here to the commit.
    return await withMaintenanceLock(lake, 'restore', async (lost) => commitRestore(lake, await planRestore(lake, jobs, table, version), owner, lease, lost));
  } finally {
    if (lease) await lake.state.releaseLock(lease).catch(() => undefined);
  }
}

async function commitRestore(lake: Lake, plan: RestorePlan, owner: string, lease: LockLease | undefined, lost: AbortSignal): Promise<RestorePlan> {
  const table = plan.table;
  const runId = owner;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const root = await lake.state.readRoot();
    if (root.tables[table]?.manifest !== plan.current.manifestId) {
      throw new MedallionError('TABLE_MOVED', `${table} moved to version ${root.tables[table]?.version} while the restore was being planned`, { hint: 'run the restore again' });
    }
    const target = await readManifest(lake.state, plan.target.manifestId);
    const committedAt = new Date().toISOString();
    const manifest: TableManifest = {
      ...target,
      version: plan.newVersion,
      committedAt,
      runId,
      ...(plan.job ? { job: plan.job } : {}),
      operation: 'restore',
      restoredFrom: plan.target.version,
      commitSeq: root.seq + 1,
    };
    const id = manifestDocumentId(table, manifest.version, runId, attempt);
    await lake.state.putDocument(id, manifest);
    const bookmarks = { ...root.bookmarks };
    if (plan.bookmark) {
      if (plan.bookmark.to === null) delete bookmarks[plan.bookmark.job];
      else bookmarks[plan.bookmark.job] = bookmarkDocumentId(plan.bookmark.job, plan.bookmark.to);
    }
    const next: LakeRoot = {
      seq: root.seq + 1, committedAt, runId, tables: { ...root.tables, [table]: { version: manifest.version, manifest: id } }, bookmarks, commitId: `${runId}#${attempt}`,
    };
    // The maintenance lock still held (its lease renewed): no vacuum can have started since the files were checked.
    lost.throwIfAborted();
    if (await lake.state.swapRoot(next, lease)) {
      const catalog = await publishCommitted(lake, next, [table], { jobs: plan.job ? [plan.job] : [] });
      return { ...plan, commit: next.seq, catalog };
    }
  }
  throw new MedallionError('COMMIT_CONTENDED', `could not restore ${table}: too many concurrent commits`, { hint: 'try again' });
}

/** Every file of the version to restore is still in storage (a vacuum or a hand may have removed some). */
async function checkFilesExist(lake: Lake, manifest: TableManifest): Promise<void> {
  const files = manifestFiles(manifest);
  for (let start = 0; start < files.length; start += 16) {
    const batch = files.slice(start, start + 16);
    const infos = await Promise.all(batch.map((file) => lake.storage.stat(file.key)));
    const index = infos.findIndex((info) => info === undefined);
    const file = batch[index];
    if (file) {
      throw new MedallionError('TABLE_VERSION_REMOVED', `${manifest.table} version ${manifest.version} cannot be restored: its data file ${file.key} is gone (removed by a vacuum, or by hand)`, {
        hint: `\`medallion history ${manifest.table}\` shows which versions are kept; restore a newer one, or put the file back from a backup`,
      });
    }
  }
}
