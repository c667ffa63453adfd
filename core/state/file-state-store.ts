import { link, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MedallionError, NotFoundError } from '../errors.ts';
import { EMPTY_ROOT, type LakeRoot, type StateStore } from './state-store.ts';

const SEQ_WIDTH = 12;

/**
 * State in files under a folder (`<lake>/_state`). A root is the file `roots/<seq>.json`, created with a
 * hard link from a fully written temporary file: the link fails if that sequence exists, which makes
 * the swap atomic and exclusive, and a reader never sees a half-written root.
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

  private documentPath(id: string): string {
    if (id.includes('..') || id.startsWith('/')) throw new MedallionError('STATE_DOCUMENT_ID_INVALID', `document id ${id} is not valid`);
    return path.join(this.directory, 'documents', `${id}.json`);
  }

  async readRoot(): Promise<LakeRoot> {
    let seq = await this.readHeadHint();
    // The hint may lag behind the newest root; walk forward to the last one that exists.
    let root = seq > 0 ? await this.readRootFile(seq) : EMPTY_ROOT;
    if (seq > 0 && root === undefined) {
      seq = await this.latestListedSeq();
      root = seq > 0 ? await this.readRootFile(seq) : EMPTY_ROOT;
    }
    let current = root ?? EMPTY_ROOT;
    for (;;) {
      const next = await this.readRootFile(current.seq + 1);
      if (!next) return current;
      current = next;
    }
  }

  async swapRoot(next: LakeRoot): Promise<boolean> {
    const target = this.rootPath(next.seq);
    await mkdir(path.dirname(target), { recursive: true });
    if (next.seq > 1 && !(await this.readRootFile(next.seq - 1))) {
      throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: root ${next.seq - 1} does not exist`);
    }
    const temporary = await this.writeTemporary(path.dirname(target), JSON.stringify(next));
    try {
      await link(temporary, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
    await this.writeHeadHint(next.seq);
    return true;
  }

  async putDocument(id: string, body: unknown): Promise<void> {
    const target = this.documentPath(id);
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = await this.writeTemporary(path.dirname(target), JSON.stringify(body));
    await rename(temporary, target);
  }

  async getDocument<T>(id: string): Promise<T> {
    try {
      return JSON.parse(await readFile(this.documentPath(id), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError('STATE_DOCUMENT_MISSING', `state document ${id} is missing from ${this.location}`);
      }
      throw error;
    }
  }

  private async readRootFile(seq: number): Promise<LakeRoot | undefined> {
    try {
      return JSON.parse(await readFile(this.rootPath(seq), 'utf8')) as LakeRoot;
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

  private async latestListedSeq(): Promise<number> {
    try {
      const names = await readdir(path.join(this.directory, 'roots'));
      return names.reduce((max, name) => {
        const seq = Number(name.replace(/\.json$/, ''));
        return Number.isSafeInteger(seq) && seq > max ? seq : max;
      }, 0);
    } catch {
      return 0;
    }
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
