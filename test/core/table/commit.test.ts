import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTable, type TableSpec } from '../../../core/index.ts';
import { CommitConflictError } from '../../../core/errors.ts';
import { EMPTY_ROOT, FileStateStore, type LakeRoot, type StateStore } from '../../../core/state/index.ts';
import { applyWrite, commitTables, emptyManifest, type CommitResult, type DataFile, type PartitionEntry, type TableManifest, type TableWrite } from '../../../core/table/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

const events = defineTable({
  name: 'silver.events',
  description: 'Events by day.',
  writeMode: 'append',
  partitionBy: ['day'],
  columns: [
    { name: 'id', type: 'BIGINT', description: 'Event id.' },
    { name: 'day', type: 'DATE', description: 'Partition: event day.' },
  ],
});
const users = defineTable({
  name: 'silver.users',
  description: 'Users.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'user_id', type: 'VARCHAR', description: 'User id.' }],
});

function dataFile(key: string, rows = 10): DataFile {
  return { key, rows, sizeBytes: rows * 100 };
}

/** Partitions of `events` by day: `{ '2025-11-01': ['a.parquet'] }`. */
function days(files: Readonly<Record<string, readonly string[]>>): Record<string, PartitionEntry> {
  return Object.fromEntries(Object.entries(files).map(([day, keys]) => [`day=${day}`, { values: { day }, files: keys.map((key) => dataFile(key)) }]));
}

function write(kind: TableWrite['kind'], files: Readonly<Record<string, readonly string[]>>, spec: TableSpec = events): TableWrite {
  return { spec, kind, partitions: spec === events ? days(files) : { '': { values: {}, files: (files[''] ?? []).map((key) => dataFile(key)) } } };
}

async function newStore(): Promise<StateStore> {
  return new FileStateStore(path.join(await tempDir('commit'), '_state'));
}

async function manifestOf(state: StateStore, root: LakeRoot, table: string): Promise<TableManifest> {
  const ref = root.tables[table];
  if (!ref) throw new Error(`no ${table} in root ${root.seq}`);
  return state.getDocument<TableManifest>(ref.manifest);
}

/** The committed table as partition key to file keys. */
async function filesOf(state: StateStore, table = 'silver.events'): Promise<Record<string, string[]>> {
  const manifest = await manifestOf(state, await state.readRoot(), table);
  return Object.fromEntries(Object.entries(manifest.partitions).map(([key, entry]) => [key, entry.files.map((file) => file.key)]));
}

async function commit(state: StateStore, runId: string, writes: readonly TableWrite[], basedOn?: LakeRoot): Promise<CommitResult> {
  return commitTables(state, { runId, basedOn: basedOn ?? (await state.readRoot()), writes });
}

describe('commitTables', () => {
  it('append adds files to their partitions and keeps the other partitions', async () => {
    const state = await newStore();
    await commit(state, 'r1', [write('append', { '2025-11-01': ['a1'], '2025-11-02': ['b1'] })]);
    await commit(state, 'r2', [write('append', { '2025-11-01': ['a2'], '2025-11-03': ['c1'] })]);
    expect(await filesOf(state)).toEqual({
      'day=2025-11-01': ['a1', 'a2'],
      'day=2025-11-02': ['b1'],
      'day=2025-11-03': ['c1'],
    });
  });

  it('replace_partitions replaces only the partitions it lists', async () => {
    const state = await newStore();
    await commit(state, 'r1', [write('append', { '2025-11-01': ['a1', 'a2'], '2025-11-02': ['b1'] })]);
    await commit(state, 'r2', [write('replace_partitions', { '2025-11-01': ['a3'] })]);
    expect(await filesOf(state)).toEqual({ 'day=2025-11-01': ['a3'], 'day=2025-11-02': ['b1'] });
  });

  it('replace_all makes the table exactly the partitions it lists', async () => {
    const state = await newStore();
    await commit(state, 'r1', [write('append', { '2025-11-01': ['a1'], '2025-11-02': ['b1'] })]);
    await commit(state, 'r2', [write('replace_all', { '2025-11-03': ['c1'] })]);
    expect(await filesOf(state)).toEqual({ 'day=2025-11-03': ['c1'] });
  });

  it('drops a partition left with no files', async () => {
    const state = await newStore();
    await commit(state, 'r1', [write('append', { '2025-11-01': ['a1'], '2025-11-02': ['b1'] })]);
    await commit(state, 'r2', [write('replace_partitions', { '2025-11-01': [] })]);
    expect(await filesOf(state)).toEqual({ 'day=2025-11-02': ['b1'] });
    await commit(state, 'r3', [write('replace_all', { '2025-11-05': [] })]);
    expect(await filesOf(state)).toEqual({});
  });

  it('counts versions per table and sequences per commit', async () => {
    const state = await newStore();
    const first = await commit(state, 'r1', [write('append', { '2025-11-01': ['a1'] }), write('replace_all', { '': ['u1'] }, users)]);
    await commit(state, 'r2', [write('append', { '2025-11-01': ['a2'] })]);
    const third = await commit(state, 'r3', [write('append', { '2025-11-01': ['a3'] })]);
    expect(first.root.seq).toBe(1);
    expect(third.root.seq).toBe(3);
    expect(third.root.tables['silver.events']?.version).toBe(3);
    expect(third.root.tables['silver.users']?.version).toBe(1);
    expect(third.root.runId).toBe('r3');
    // Earlier versions stay readable: manifests are new documents, never rewritten.
    expect((await manifestOf(state, first.root, 'silver.events')).partitions['day=2025-11-01']?.files.map((file) => file.key)).toEqual(['a1']);
    expect(third.manifests['silver.events']?.version).toBe(3);
    expect(await state.readRoot()).toEqual(third.root);
  });

  it('records the run, the commit time and the declared columns in the manifest', async () => {
    const state = await newStore();
    const at = new Date('2025-11-02T03:04:05.678Z');
    const { manifests, root } = await commitTables(state, { runId: 'jr_1', basedOn: EMPTY_ROOT, writes: [write('append', { '2025-11-01': ['a1'] })], now: () => at });
    expect(root.committedAt).toBe(at.toISOString());
    expect(manifests['silver.events']).toMatchObject({
      table: 'silver.events',
      runId: 'jr_1',
      committedAt: at.toISOString(),
      partitionBy: ['day'],
      columns: [{ name: 'id', type: 'BIGINT' }, { name: 'day', type: 'DATE' }],
    });
  });

  it('moves the bookmarks it is given in the same root, keeping the others', async () => {
    const state = await newStore();
    await commitTables(state, { runId: 'r1', basedOn: EMPTY_ROOT, writes: [write('append', { '2025-11-01': ['a1'] })], bookmarks: { 'silver.a': 'bookmarks/silver.a/1', 'silver.b': 'bookmarks/silver.b/1' } });
    const { root } = await commitTables(state, { runId: 'r2', basedOn: await state.readRoot(), writes: [], bookmarks: { 'silver.a': 'bookmarks/silver.a/2' } });
    expect(root.bookmarks).toEqual({ 'silver.a': 'bookmarks/silver.a/2', 'silver.b': 'bookmarks/silver.b/1' });
    expect((await state.readRoot()).bookmarks).toEqual(root.bookmarks);
  });

  describe('when another commit landed since the run read its inputs', () => {
    it('replays an append on top of it', async () => {
      const state = await newStore();
      await commit(state, 'r0', [write('append', { '2025-11-01': ['a0'] })]);
      const basedOn = await state.readRoot();
      await commit(state, 'other', [write('append', { '2025-11-01': ['other'] })], basedOn);
      const { root } = await commit(state, 'late', [write('append', { '2025-11-01': ['late'], '2025-11-02': ['b'] })], basedOn);
      expect(root.seq).toBe(3);
      expect(await filesOf(state)).toEqual({ 'day=2025-11-01': ['a0', 'other', 'late'], 'day=2025-11-02': ['b'] });
      expect(root.tables['silver.events']?.version).toBe(3);
    });

    it('lands every one of many concurrent appends', async () => {
      const state = await newStore();
      const basedOn = await state.readRoot();
      const runs = Array.from({ length: 8 }, (_, index) => `run_${index}`);
      await Promise.all(runs.map((runId) => commit(state, runId, [write('append', { '2025-11-01': [runId] })], basedOn)));
      const root = await state.readRoot();
      expect(root.seq).toBe(runs.length);
      expect([...((await filesOf(state))['day=2025-11-01'] ?? [])].sort()).toEqual(runs);
    });

    it('never rewrites a document: a commit that lost a race writes its rebased manifest under a new id', async () => {
      const state = await newStore();
      const written: string[] = [];
      const recording: StateStore = Object.create(state) as StateStore;
      recording.putDocument = async (id, body) => {
        written.push(id);
        return state.putDocument(id, body);
      };
      const basedOn = await recording.readRoot();
      // Half the runs write another table: losing to those leaves this table's version where it was.
      const runs = Array.from({ length: 8 }, (_, index) => `run_${index}`);
      await Promise.all(
        runs.map((runId, index) =>
          commit(recording, runId, [index % 2 === 0 ? write('append', { '2025-11-01': [runId] }) : write('append', { '': [runId] }, users)], basedOn),
        ),
      );
      expect(written.length).toBeGreaterThan(runs.length);
      expect(new Set(written).size).toBe(written.length);
    });

    it('refuses a replace_all when a partition changed, and leaves the root as it was', async () => {
      const state = await newStore();
      await commit(state, 'r0', [write('append', { '2025-11-01': ['a0'], '2025-11-02': ['b0'] })]);
      const basedOn = await state.readRoot();
      await commit(state, 'other', [write('append', { '2025-11-02': ['b1'] })]);
      const before = await state.readRoot();
      const error = await commit(state, 'slow', [write('replace_all', { '2025-11-01': ['a9'] })], basedOn).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CommitConflictError);
      expect(error).toMatchObject({ code: 'COMMIT_CONFLICT', table: 'silver.events' });
      expect((error as Error).message).toContain('day=2025-11-02');
      expect(await state.readRoot()).toEqual(before);
    });

    it('refuses a replace_all of a table that another run created meanwhile', async () => {
      const state = await newStore();
      const basedOn = await state.readRoot();
      await commit(state, 'other', [write('append', { '2025-11-01': ['a0'] })]);
      await expect(commit(state, 'slow', [write('replace_all', { '2025-11-01': ['a9'] })], basedOn)).rejects.toBeInstanceOf(CommitConflictError);
    });

    it('refuses replacing the partition that changed, but replaces an unrelated one', async () => {
      const state = await newStore();
      await commit(state, 'r0', [write('append', { '2025-11-01': ['a0'], '2025-11-02': ['b0'] })]);
      const basedOn = await state.readRoot();
      await commit(state, 'other', [write('append', { '2025-11-02': ['b1'] })]);
      await expect(commit(state, 'same', [write('replace_partitions', { '2025-11-02': ['b9'] })], basedOn)).rejects.toMatchObject({ code: 'COMMIT_CONFLICT' });
      const { root } = await commit(state, 'unrelated', [write('replace_partitions', { '2025-11-01': ['a9'] })], basedOn);
      expect(root.seq).toBe(3);
      expect(await filesOf(state)).toEqual({ 'day=2025-11-01': ['a9'], 'day=2025-11-02': ['b0', 'b1'] });
    });

    it('replaces a table freely when only other tables moved', async () => {
      const state = await newStore();
      await commit(state, 'r0', [write('append', { '2025-11-01': ['a0'] }), write('replace_all', { '': ['u0'] }, users)]);
      const basedOn = await state.readRoot();
      await commit(state, 'other', [write('replace_all', { '': ['u1'] }, users)]);
      await commit(state, 'slow', [write('replace_all', { '2025-11-03': ['c0'] })], basedOn);
      expect(await filesOf(state)).toEqual({ 'day=2025-11-03': ['c0'] });
      expect(await filesOf(state, 'silver.users')).toEqual({ '': ['u1'] });
    });
  });
});

describe('applyWrite', () => {
  it('builds the next version from the previous one without changing it', () => {
    const previous = Object.freeze({ ...emptyManifest('silver.events', [], ['day']), version: 4, partitions: Object.freeze(days({ '2025-11-01': ['a1'] })) });
    const next = applyWrite(previous, write('append', { '2025-11-01': ['a2'] }), 'r5', '2025-11-05T00:00:00.000Z');
    expect(next.version).toBe(5);
    expect(next.partitions['day=2025-11-01']?.files.map((file) => file.key)).toEqual(['a1', 'a2']);
    expect(previous.partitions['day=2025-11-01']?.files.map((file) => file.key)).toEqual(['a1']);
  });
});
