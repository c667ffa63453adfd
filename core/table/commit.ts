import { randomUUID } from 'node:crypto';
import { CommitConflictError, MedallionError } from '../errors.ts';
import type { LakeRoot, LockLease, StateStore, TableRef } from '../state/index.ts';
import type { DataFile, PartitionEntry, TableManifest } from './manifest.ts';
import { emptyManifest } from './manifest.ts';
import type { TableSpec } from './table-spec.ts';
import { readManifest } from '../state/state-documents.ts';
import { manifestDocumentId } from '../state/state-keys.ts';

/**
 * How a run changes one table.
 * - `append`: adds files to their partitions (incremental runs of append-only tables).
 * - `replace_partitions`: each listed partition becomes exactly the listed files; others stay.
 * - `replace_all`: the table becomes exactly the listed partitions (a run that read all its input).
 */
export interface TableWrite {
  readonly spec: TableSpec;
  readonly kind: 'append' | 'replace_partitions' | 'replace_all';
  readonly partitions: Readonly<Record<string, PartitionEntry>>;
}

export interface CommitRequest {
  readonly runId: string;
  /** The job committing, recorded in each manifest (the writer `history` shows and repair hints name). */
  readonly job?: string;
  /** The root the run read its inputs from; replacing writes conflict with any commit to the table since. */
  readonly basedOn: LakeRoot;
  readonly writes: readonly TableWrite[];
  /** Job name to bookmark document id, moved in the same commit. */
  readonly bookmarks?: Readonly<Record<string, string>>;
  readonly now?: () => Date;
  /**
   * The lease of the job's lock, as last renewed: the swap goes in only while it still holds the lock, so a
   * run whose lease ran out and was taken over cannot commit (LockLostError). Without it, nothing fences.
   */
  readonly fence?: () => LockLease;
  /** Called at named points of the commit; tests use it to kill the process there. */
  readonly faultPoint?: (point: 'manifests-written' | 'before-swap') => void;
}

export interface CommitResult {
  readonly root: LakeRoot;
  readonly manifests: Readonly<Record<string, TableManifest>>;
}

const MAX_COMMIT_ATTEMPTS = 20;

/**
 * Publishes a run's tables and bookmarks in one atomic root swap. Manifests are written first as new
 * immutable documents; nothing is visible until the swap succeeds. When another commit wins the race,
 * appends are replayed on top of it and replacing writes are refused if their table moved.
 */
export async function commitTables(state: StateStore, request: CommitRequest): Promise<CommitResult> {
  const now = request.now ?? (() => new Date());
  // One identity for every attempt of this commit: a store that lost a swap's answer recognises its own root.
  const commitId = `${request.runId}#${randomUUID()}`;
  for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
    const current = await state.readRoot();
    const committedAt = now().toISOString();
    const tables: Record<string, TableRef> = { ...current.tables };
    const manifests: Record<string, TableManifest> = {};
    for (const write of request.writes) {
      const name = write.spec.name;
      const currentRef = current.tables[name];
      const baseRef = request.basedOn.tables[name];
      const empty = emptyManifest(name, write.spec.columns.map(({ name: column, type }) => ({ name: column, type })), write.spec.partitionBy);
      const previous = currentRef ? await readManifest(state, currentRef.manifest) : empty;
      if (write.kind !== 'append' && currentRef && currentRef.version !== (baseRef?.version ?? 0)) {
        const base = baseRef ? await readManifest(state, baseRef.manifest) : empty;
        const moved = changedPartitions(base, previous, write.kind === 'replace_all' ? undefined : Object.keys(write.partitions));
        if (moved.length > 0) {
          throw new CommitConflictError(
            name,
            `partition ${moved[0] || '(whole table)'} changed (version ${baseRef?.version ?? 0} to ${currentRef.version}) while run ${request.runId} was running`,
          );
        }
      }
      const manifest = { ...applyWrite(previous, write, request.runId, committedAt, request.job), commitSeq: current.seq + 1 };
      // The attempt is part of the id: a commit that lost a race to a commit of another table rebases onto
      // the same table version, and must write a new document rather than rewrite one, so documents stay
      // immutable (a conditional put in DynamoDB).
      const id = manifestDocumentId(name, manifest.version, request.runId, attempt);
      await state.putDocument(id, manifest);
      tables[name] = { version: manifest.version, manifest: id };
      manifests[name] = manifest;
    }
    request.faultPoint?.('manifests-written');
    const next: LakeRoot = {
      seq: current.seq + 1,
      committedAt,
      runId: request.runId,
      tables,
      bookmarks: { ...current.bookmarks, ...(request.bookmarks ?? {}) },
      commitId,
    };
    request.faultPoint?.('before-swap');
    if (await state.swapRoot(next, request.fence?.())) return { root: next, manifests };
  }
  throw new MedallionError('COMMIT_CONTENDED', `run ${request.runId} could not commit after ${MAX_COMMIT_ATTEMPTS} attempts: too many concurrent commits`, {
    hint: 'rerun the job; if it keeps happening, fewer jobs should run at once',
  });
}

export function applyWrite(previous: TableManifest, write: TableWrite, runId: string, committedAt: string, job?: string): TableManifest {
  let partitions: Record<string, PartitionEntry>;
  if (write.kind === 'replace_all') {
    partitions = { ...write.partitions };
  } else if (write.kind === 'replace_partitions') {
    partitions = { ...previous.partitions, ...write.partitions };
  } else {
    partitions = { ...previous.partitions };
    for (const [key, entry] of Object.entries(write.partitions)) {
      const existing = partitions[key];
      const files: DataFile[] = [...(existing?.files ?? []), ...entry.files];
      partitions[key] = { values: entry.values, files };
    }
  }
  for (const [key, entry] of Object.entries(partitions)) {
    if (entry.files.length === 0) delete partitions[key];
  }
  return {
    table: write.spec.name,
    version: previous.version + 1,
    columns: write.spec.columns.map(({ name, type, origin }) => ({ name, type, ...(origin === undefined ? {} : { origin }) })),
    partitionBy: [...write.spec.partitionBy],
    partitions,
    committedAt,
    runId,
    ...(job === undefined ? {} : { job }),
    operation: write.kind,
  };
}

/** Partitions (all, or only `keys`) whose files differ between two versions of a table. */
function changedPartitions(base: TableManifest, current: TableManifest, keys: readonly string[] | undefined): string[] {
  const candidates = keys ?? [...new Set([...Object.keys(base.partitions), ...Object.keys(current.partitions)])];
  const filesOf = (manifest: TableManifest, key: string) => (manifest.partitions[key]?.files ?? []).map((file) => file.key).join('\n');
  return candidates.filter((key) => filesOf(base, key) !== filesOf(current, key));
}
