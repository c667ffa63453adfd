import { link, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MedallionError, NotFoundError } from '../errors.ts';
import { commitFenced, isCurrentLease, lockLost } from './lock-lease.ts';
import { EMPTY_ROOT, sameCommit, type LakeRoot, type ListRecordsOptions, type LockLease, type LockState, type StateStore } from './state-store.ts';
import { checkRoot } from './state-documents.ts';

const SEQ_WIDTH = 12;
const GENERATION_FILE = /^(\d+)\.json$/;

/**
 * State in files under a folder (`<lake>/_state`). A root is the file `roots/<seq>.json`, created with a
 * hard link from a fully written temporary file: the link fails if that sequence exists, which makes
 * the swap atomic and exclusive, and a reader never sees a half-written root.
 *
 * A lock is the folder `locks/<name>/` of generation files made the same way; the highest generation is
 * the lock's state, so taking, renewing and releasing are each one exclusive create. Records are
 * `records/<collection>/<id>.json`, replaced by rename.
 *
 * Fencing goes through the roots, the one sequence every commit takes a place in: taking a lock over from
 * a holder whose lease ran out commits a root that records the new generation (`fences`), before the new
 * holder does anything; a fenced swap is refused when the root it follows records a takeover after the
 * swapper's lease. Two files cannot change in one step, but a takeover and a commit both need the next
 * root's place, and only one gets it.
 */
export class FileStateStore implements StateStore {
  readonly directory: string;
  readonly location: string;

  constructor(directory: string) {
    this.directory = path.resolve(directory);
    this.location = `file://${this.directory}`;
  }

  private rootPath(seq: number): string {
    return path.join(this.directory, 'roots', `${String(seq).padStart(SEQ_WIDTH, '0')}.json`);
  }

  private lockPath(name: string, generation: number): string {
    return path.join(this.lockDirectory(name), `${String(generation).padStart(SEQ_WIDTH, '0')}.json`);
  }

  private lockDirectory(name: string): string {
    if (name === '' || name === '.' || /[/\\]/.test(name) || name.includes('..')) {
      throw new MedallionError('STATE_LOCK_NAME_INVALID', `lock name ${JSON.stringify(name)} is not valid`, { hint: 'a lock name is one path segment, like a job name: no "/" and no ".."' });
    }
    return path.join(this.directory, 'locks', name);
  }

  private recordDirectory(collection: string): string {
    const segments = collection.split('/');
    if (collection.includes('..') || collection.includes('\\') || segments.some((segment) => segment === '' || segment === '.')) {
      throw new MedallionError('STATE_RECORD_COLLECTION_INVALID', `record collection ${JSON.stringify(collection)} is not valid`, { hint: 'use non-empty segments joined by "/", like runs/silver.tasks, without ".."' });
    }
    return path.join(this.directory, 'records', ...segments);
  }

  private recordPath(collection: string, id: string): string {
    if (id === '' || id === '.' || /[/\\]/.test(id) || id.includes('..')) {
      throw new MedallionError('STATE_RECORD_ID_INVALID', `record id ${JSON.stringify(id)} in ${collection} is not valid`, { hint: 'a record id is a file name: no "/" and no ".."' });
    }
    return path.join(this.recordDirectory(collection), `${id}.json`);
  }

  private documentPath(id: string): string {
    if (id.includes('..') || id.startsWith('/')) throw new MedallionError('STATE_DOCUMENT_ID_INVALID', `document id ${id} is not valid`);
    return path.join(this.directory, 'documents', `${id}.json`);
  }

  async readRoot(): Promise<LakeRoot> {
    const seq = await this.readHeadHint();
    // The hint may lag behind the newest root, never run ahead of it (it moves after the root is written):
    // a root it names that is missing was removed, and reading an older one would roll the lake back.
    const root = seq > 0 ? await this.readRootFile(seq) : EMPTY_ROOT;
    if (root === undefined) {
      throw new MedallionError('STATE_CORRUPT', `root ${seq}, the lake's newest commit as ${path.join(this.directory, 'HEAD')} says, is missing from ${path.join(this.directory, 'roots')}`, {
        hint: `restore ${this.rootPath(seq)} from a backup of the lake folder; reading an older root instead would silently undo commits`,
      });
    }
    let current = root;
    for (;;) {
      const next = await this.readRootFile(current.seq + 1);
      if (!next) return current;
      current = next;
    }
  }

  async swapRoot(next: LakeRoot, fence?: LockLease): Promise<boolean> {
    const target = this.rootPath(next.seq);
    await mkdir(path.dirname(target), { recursive: true });
    const previous = next.seq > 1 ? await this.readRootFile(next.seq - 1) : EMPTY_ROOT;
    if (!previous) throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: root ${next.seq - 1} does not exist`);
    if (fence) {
      // A repeated call of a commit that went in is still its own, whatever happened to the lock since.
      const landed = await this.readRootFile(next.seq);
      if (landed && sameCommit(landed, next)) return true;
      const latest = await this.readLock(fence.name);
      const takenOverAt = previous.fences?.[fence.name] ?? 0;
      if (takenOverAt > fence.generation || !latest || latest.released || latest.owner !== fence.owner) throw commitFenced(fence, latest);
    }
    // The store keeps the fences: a caller's root cannot drop or move one.
    const { fences: _ignored, ...rest } = next;
    const stored: LakeRoot = previous.fences ? { ...rest, fences: previous.fences } : rest;
    if (!(await this.createExclusive(target, JSON.stringify(stored)))) {
      // The sequence is taken: by this very commit (a repeated call), or by another.
      const landed = await this.readRootFile(next.seq);
      return landed !== undefined && sameCommit(landed, next);
    }
    await this.writeHeadHint(next.seq);
    return true;
  }

  /**
   * Records in the next root that `lease` took its lock over from a holder whose lease ran out, so that
   * holder's fenced swaps are refused from here on (see the class comment). Another commit taking the place
   * first only means trying the next one.
   */
  private async fenceTakeover(lease: LockLease): Promise<void> {
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      const current = await this.readRoot();
      if ((current.fences?.[lease.name] ?? 0) >= lease.generation) return;
      const fenceRoot: LakeRoot = {
        ...current,
        seq: current.seq + 1,
        committedAt: new Date().toISOString(),
        runId: null,
        commitId: `takeover#${lease.name}#${lease.generation}#${lease.owner}`,
        fences: { ...current.fences, [lease.name]: lease.generation },
      };
      if (await this.createExclusive(this.rootPath(fenceRoot.seq), JSON.stringify(fenceRoot))) {
        await this.writeHeadHint(fenceRoot.seq);
        return;
      }
    }
    throw new MedallionError('COMMIT_CONTENDED', `could not fence lock ${lease.name} for ${lease.owner}: too many concurrent commits`, { hint: 'try again' });
  }

  async putDocument(id: string, body: unknown): Promise<void> {
    const target = this.documentPath(id);
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = await this.writeTemporary(path.dirname(target), JSON.stringify(body));
    await rename(temporary, target);
  }

  async getDocument<T>(id: string): Promise<T> {
    try {
      return parseStateFile<T>(this.documentPath(id), await readFile(this.documentPath(id), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError('STATE_DOCUMENT_MISSING', `state document ${id} is missing from ${this.location}`);
      }
      throw error;
    }
  }

  async deleteDocument(id: string): Promise<void> {
    await rm(this.documentPath(id), { force: true });
  }

  async acquireLock(name: string, owner: string, leaseMs: number, nowMs: number): Promise<LockLease | undefined> {
    const latest = await this.readLock(name);
    if (latest && !latest.released && latest.expiresAtMs > nowMs) return undefined;
    const lease: LockLease = { name, owner, generation: (latest?.generation ?? 0) + 1, expiresAtMs: nowMs + leaseMs };
    if (!(await this.writeLockGeneration({ ...lease, released: false }))) return undefined;
    // A holder whose lease ran out may be alive (stopped, or its event loop blocked) and about to commit.
    if (latest && !latest.released) {
      await this.fenceTakeover(lease).catch(async (error: unknown) => {
        await this.releaseLock(lease).catch(() => undefined);
        throw error;
      });
    }
    return lease;
  }

  async renewLock(lease: LockLease, leaseMs: number, nowMs: number): Promise<LockLease> {
    const latest = await this.readLock(lease.name);
    if (!isCurrentLease(lease, latest)) throw lockLost(lease, latest);
    const renewed: LockLease = { ...lease, generation: lease.generation + 1, expiresAtMs: nowMs + leaseMs };
    if (!(await this.writeLockGeneration({ ...renewed, released: false }))) throw lockLost(lease, await this.readLock(lease.name));
    return renewed;
  }

  async releaseLock(lease: LockLease): Promise<void> {
    if (!isCurrentLease(lease, await this.readLock(lease.name))) return;
    // Losing this write means someone moved the lock on since; their state is the one to keep.
    await this.writeLockGeneration({ ...lease, generation: lease.generation + 1, released: true });
  }

  async readLock(name: string): Promise<LockState | undefined> {
    for (;;) {
      const generation = (await this.listLockGenerations(name)).at(-1);
      if (generation === undefined) return undefined;
      try {
        return parseStateFile<LockState>(this.lockPath(name, generation), await readFile(this.lockPath(name, generation), 'utf8'));
      } catch (error) {
        // Pruned between listing and reading: newer generations exist, so list again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  async putRecord(collection: string, id: string, body: unknown): Promise<void> {
    const target = this.recordPath(collection, id);
    const temporary = await this.writeTemporary(path.dirname(target), JSON.stringify(body));
    await rename(temporary, target);
  }

  async getRecord<T>(collection: string, id: string): Promise<T | undefined> {
    try {
      return parseStateFile<T>(this.recordPath(collection, id), await readFile(this.recordPath(collection, id), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async listRecords<T>(collection: string, options: ListRecordsOptions = {}): Promise<T[]> {
    const directory = this.recordDirectory(collection);
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // Byte order of the UTF-8 ids, the order a DynamoDB sort key gives, not UTF-16 code unit order.
    const ids = entries
      .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
      .map((entry) => entry.name.slice(0, -'.json'.length))
      .sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    const records = await Promise.all(ids.map(async (id) => {
      try {
        return { record: parseStateFile<T>(path.join(directory, `${id}.json`), await readFile(path.join(directory, `${id}.json`), 'utf8')) };
      } catch (error) {
        if (!options.onUnreadable || !(error instanceof MedallionError)) throw error;
        options.onUnreadable(id, error);
        return undefined;
      }
    }));
    return records.filter((entry) => entry !== undefined).map((entry) => entry.record);
  }

  /**
   * Creates the file for `state.generation`; false when another writer created it first. Old generations
   * are pruned, so a writer that stalled between reading and writing could recreate a generation that
   * was already superseded and deleted: only a write that is still the highest generation counts.
   */
  private async writeLockGeneration(state: LockState): Promise<boolean> {
    const target = this.lockPath(state.name, state.generation);
    if (!(await this.createExclusive(target, JSON.stringify(state)))) return false;
    const generations = await this.listLockGenerations(state.name);
    if (generations.at(-1) !== state.generation) return false;
    // Keep this generation and the one before it; deleting is best effort, a leftover is only clutter.
    const stale = generations.filter((generation) => generation < state.generation - 1);
    await Promise.all(stale.map((generation) => rm(this.lockPath(state.name, generation), { force: true }).catch(() => undefined)));
    return true;
  }

  /** Generations present on disk, lowest first. */
  private async listLockGenerations(name: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.lockDirectory(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names
      .map((file) => GENERATION_FILE.exec(file)?.[1])
      .filter((digits) => digits !== undefined)
      .map(Number)
      .sort((left, right) => left - right);
  }

  /** Writes `text` to `target` only if `target` does not exist yet; false when it does. */
  private async createExclusive(target: string, text: string): Promise<boolean> {
    const temporary = await this.writeTemporary(path.dirname(target), text);
    try {
      await link(temporary, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  async readRootAt(seq: number): Promise<LakeRoot | undefined> {
    if (seq === 0) return EMPTY_ROOT;
    return this.readRootFile(seq);
  }

  private async readRootFile(seq: number): Promise<LakeRoot | undefined> {
    try {
      return checkRoot(parseStateFile<unknown>(this.rootPath(seq), await readFile(this.rootPath(seq), 'utf8')), `state file ${this.rootPath(seq)}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async readHeadHint(): Promise<number> {
    try {
      const seq = Number((await readFile(path.join(this.directory, 'HEAD'), 'utf8')).trim());
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : 0;
    } catch {
      return 0;
    }
  }

  private async writeHeadHint(seq: number): Promise<void> {
    const temporary = await this.writeTemporary(this.directory, String(seq));
    await rename(temporary, path.join(this.directory, 'HEAD'));
  }

  private async writeTemporary(directory: string, text: string): Promise<string> {
    await mkdir(directory, { recursive: true });
    const temporary = path.join(directory, `.tmp-${randomUUID()}`);
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temporary;
  }
}


/** State files are written whole, so one that does not parse was damaged outside medallion: say which. */
function parseStateFile<T>(file: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new MedallionError('STATE_CORRUPT', `state file ${file} is not valid JSON (${(error as Error).message})`, {
      hint: 'restore it from a backup of the lake folder; state files are only ever written whole',
    });
  }
}
