import { describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { accessAllows, jobLakeAccess, qualityStepLakeAccess, reconcileLakeAccess, reportKey, reportLakeAccess, stateWriteAllows, vacuumLakeAccess, type LakeAccess } from '../../core/layout/index.ts';
import { EMPTY_ROOT, stateItemKey, type StateStore } from '../../core/state/index.ts';
import { rootCommitKeys } from '../../core/state/dynamodb-state-store.ts';
import { renderReport, reportData } from '../../core/monitoring/index.ts';
import type { TableName } from '../../core/table/index.ts';
import { RECONCILED_SOURCES, reconcileLake } from '../../jobs/reconcile.ts';
import { evaluateLakeQuality } from '../../core/quality/index.ts';
import { jobGraph, startJobRun, vacuumLake } from '../../core/runner/index.ts';
import type { Storage, StagingArea } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../jobs/quality.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';

const tempDir = useTempDirs();

type Touch = { readonly what: 'read' | 'list' | 'write' | 'state' | 'state-delete'; readonly key: string };

/** A storage that records every key it is asked to read, list or write, into whatever `touches` holds now. */
function recording(storage: Storage): { storage: Storage; touches: { current: Touch[] } } {
  const touches = { current: [] as Touch[] };
  const note = (what: Touch['what'], key: string) => touches.current.push({ what, key });
  const stagingArea = (area: StagingArea): StagingArea => ({
    localDir: area.localDir,
    prefix: area.prefix,
    persist: async () => {
      const stored = await area.persist();
      for (const object of stored) note('write', object.key);
      return stored;
    },
    dispose: async (options) => {
      // Discarding stored files deletes under the area's prefix.
      if (options?.discardStored) note('write', area.prefix);
      await area.dispose(options);
    },
  });
  return {
    touches,
    storage: {
      location: storage.location,
      uriOf: (key) => storage.uriOf(key),
      list: (prefix, options) => (note('list', prefix), storage.list(prefix, options)),
      stat: (key) => (note('read', key), storage.stat(key)),
      get: (key) => (note('read', key), storage.get(key)),
      getStream: (key) => (note('read', key), storage.getStream(key)),
      put: (key, body) => (note('write', key), storage.put(key, body)),
      delete: (keys) => (keys.forEach((key) => note('write', key)), storage.delete(keys)),
      fetchLocal: (keys) => (keys.forEach((key) => note('read', key)), storage.fetchLocal(keys)),
      createStagingArea: async (prefix) => (note('write', prefix), stagingArea(await storage.createStagingArea(prefix))),
    },
  };
}

/**
 * A state store that records the partition key of every item it is asked to put (as DynamoDbStateStore keys
 * them: a fenced commit also checks its lock's item) as a 'state' touch, and of every item it deletes as a
 * 'state-delete' touch.
 */
function recordingState(state: StateStore, touches: { current: Touch[] }): StateStore {
  const note = (key: string, what: 'state' | 'state-delete' = 'state') => touches.current.push({ what, key });
  return {
    location: state.location,
    readRoot: () => state.readRoot(),
    readRootAt: (seq) => state.readRootAt(seq),
    swapRoot: async (next, fence) => {
      // The root, the claims of the pointers it moves and their index entries (the items of DynamoDbStateStore's
      // transaction), and the hint.
      for (const key of rootCommitKeys((await state.readRootAt(next.seq - 1)) ?? EMPTY_ROOT, next)) note(key);
      note(stateItemKey.head);
      if (fence) note(stateItemKey.lock(fence.name));
      return state.swapRoot(next, fence);
    },
    putDocument: (id, body) => (note(stateItemKey.document(id)), state.putDocument(id, body)),
    getDocument: (id) => state.getDocument(id),
    deleteDocument: (id) => (note(stateItemKey.document(id), 'state-delete'), state.deleteDocument(id)),
    acquireLock: (name, owner, leaseMs, nowMs) => (note(stateItemKey.lock(name)), state.acquireLock(name, owner, leaseMs, nowMs)),
    renewLock: (lease, leaseMs, nowMs) => (note(stateItemKey.lock(lease.name)), state.renewLock(lease, leaseMs, nowMs)),
    releaseLock: (lease) => (note(stateItemKey.lock(lease.name)), state.releaseLock(lease)),
    readLock: (name) => state.readLock(name),
    putRecord: (collection, id, body) => (note(stateItemKey.records(collection)), state.putRecord(collection, id, body)),
    getRecord: (collection, id) => state.getRecord(collection, id),
    listRecords: (collection, options) => state.listRecords(collection, options),
  };
}

/** The touches `access` does not allow, as `what key` lines. */
const refused = (access: LakeAccess, touches: readonly Touch[]) =>
  touches
    .filter((touch) =>
      touch.what === 'state' ? !stateWriteAllows(access, touch.key) : touch.what === 'state-delete' ? !stateWriteAllows(access, touch.key, 'delete') : !accessAllows(access, touch.what, touch.key),
    )
    .map((touch) => `${touch.what} ${touch.key}`);

describe("every key a run touches is under a prefix its role is granted (core/layout, as infra's IAM policies grant it)", () => {
  it('holds for every job of the pipeline, in a first and a bookmarked run, and for the quality, reconcile, vacuum and report steps', async () => {
    const dir = await tempDir('lake-access');
    const local = openLocalLake(dir, { threads: 2 });
    const { storage, touches } = recording(local.storage);
    const lake: Lake = { ...local, storage, state: recordingState(local.state, touches) };
    const quality = await loadPipelineRuleSets();
    const ruleSets = [...quality.values()];
    const graph = jobGraph(PIPELINE_JOBS, ruleSets);
    const bookmarked = { bookmark: { option: 'job-bookmark-enable' as const } };

    const perJob = new Map<string, Touch[]>();
    for (const [day, start] of [[0, '2025-11-01'], [1, '2025-11-03']] as const) {
      await generateLanding(local.storage, { seed: 21 + day, days: 2, users: 12, tasksPerDay: 20, faultRate: 0.05, start });
      for (const job of graph.ordered) {
        touches.current = [];
        await startJobRun(lake, job, bookmarked, { quality, deferCatalogPublish: () => undefined });
        perJob.set(job.name, [...(perJob.get(job.name) ?? []), ...touches.current]);
      }
    }
    for (const job of graph.ordered) {
      const touched = perJob.get(job.name) ?? [];
      // The recording saw the run's work: it staged and stored files for every output.
      for (const output of job.outputs) expect(touched.some((touch) => touch.what === 'write' && touch.key.startsWith(`${output.name.replace('.', '/')}/jr_`)), output.name).toBe(true);
      // ... and committed: its manifests, the root, its bookmark, its run record and its lock.
      for (const output of job.outputs) expect(touched.some((touch) => touch.what === 'state' && touch.key.startsWith(`doc#manifests/${output.name}/`)), output.name).toBe(true);
      const stateKeys = touched.filter((touch) => touch.what === 'state').map((touch) => touch.key);
      expect(stateKeys, job.name).toEqual(expect.arrayContaining([stateItemKey.head, stateItemKey.lock(`job-${job.name}`), stateItemKey.records(`runs/${job.name}`)]));
      expect(stateKeys.some((key) => key.startsWith('root#')) && stateKeys.some((key) => key.startsWith(`doc#bookmarks/${job.name}/`)), job.name).toBe(true);
      // ... and claimed what its commits moved: its tables and its bookmark.
      expect(stateKeys, job.name).toEqual(expect.arrayContaining([stateItemKey.claimIndex, stateItemKey.bookmarkClaim(job.name), ...job.outputs.map((output) => stateItemKey.tableClaim(output.name))]));
      expect(refused(jobLakeAccess(job, ruleSets), touched), job.name).toEqual([]);
    }

    touches.current = [];
    await evaluateLakeQuality(lake, ruleSets);
    expect(touches.current.some((touch) => touch.what === 'write')).toBe(true);
    expect(refused(qualityStepLakeAccess(ruleSets), touches.current)).toEqual([]);

    // The pipeline's last steps: reconcile reads, vacuum deletes (a clock two days ahead, so it has work).
    touches.current = [];
    const report = await reconcileLake(lake);
    expect(report.differences).toEqual([]);
    expect(touches.current.some((touch) => touch.what === 'read' && touch.key.startsWith('landing/'))).toBe(true);
    expect(refused(reconcileLakeAccess(RECONCILED_SOURCES), touches.current)).toEqual([]);
    // A disabled rerun replaces every table, leaving files for the vacuum.
    for (const job of graph.ordered) await startJobRun(lake, job, {}, { quality, deferCatalogPublish: () => undefined });
    touches.current = [];
    const vacuumed = await vacuumLake(lake, PIPELINE_JOBS, { retainMs: 3_600_000, now: () => new Date(Date.now() + 48 * 3_600_000) });
    expect(vacuumed.filesRemoved).toBeGreaterThan(0);
    expect(touches.current.some((touch) => touch.what === 'state-delete')).toBe(true);
    const tables = [...new Set([...PIPELINE_JOBS.flatMap((job) => job.outputs.map((output) => output.name)), 'quarantine.records', 'quality.results', 'quality.rejected_rows'])] as TableName[];
    expect(refused(vacuumLakeAccess(tables), touches.current)).toEqual([]);

    // The report step reads the tables, and writes only its report.
    touches.current = [];
    const data = await reportData(lake, PIPELINE_JOBS, { from: '2025-11-01', to: new Date().toISOString().slice(0, 10), ruleSets });
    await lake.storage.put(reportKey(data.to), renderReport(data, '/* chart.js */'));
    expect(data.runs.length).toBeGreaterThan(0);
    expect(touches.current.some((touch) => touch.what === 'read' && touch.key.startsWith('gold/'))).toBe(true);
    expect(refused(reportLakeAccess(tables), touches.current)).toEqual([]);
  });

  it('catches a key outside the grant (the check itself can fail)', () => {
    const silverTasks = PIPELINE_JOBS.find((job) => job.name === 'silver.tasks')!;
    const access = jobLakeAccess(silverTasks, []);
    expect(refused(access, [{ what: 'write', key: 'gold/daily_task_kpis/jr_1/data_0.parquet' }, { what: 'write', key: 'quarantine/records/silver.users/jr_1/x' }])).toHaveLength(2);
    // Reconcile reads no gold; vacuum deletes no landing.
    expect(refused(reconcileLakeAccess(RECONCILED_SOURCES), [{ what: 'read', key: 'gold/daily_task_kpis/jr_1/data_0.parquet' }])).toHaveLength(1);
    expect(refused(vacuumLakeAccess(['silver.tasks']), [{ what: 'write', key: 'landing/tasks/2025/11/01/00/x' }])).toHaveLength(1);
    // The report step writes nothing but reports/.
    expect(refused(reportLakeAccess(['gold.daily_task_kpis']), [{ what: 'write', key: 'gold/daily_task_kpis/jr_1/data_0.parquet' }, { what: 'write', key: 'reports/x.html' }])).toHaveLength(1);
    expect(refused(access, [{ what: 'write', key: 'silver/tasks/jr_1/data_0.parquet' }, { what: 'read', key: 'bronze/tasks_cdc/jr_0/data_0.parquet' }])).toEqual([]);
    // State: a job writes its own manifests, bookmarks, run records and lock, and no other job's.
    const bronzeTasks = jobLakeAccess(PIPELINE_JOBS.find((job) => job.name === 'bronze.tasks_cdc')!, []);
    expect(refused(bronzeTasks, [
      { what: 'state', key: 'doc#manifests/gold.daily_task_kpis/0000000003-jr_1-0' },
      { what: 'state', key: 'doc#manifests/silver.tasks/0000000003-jr_1-0' },
      { what: 'state', key: 'doc#bookmarks/silver.tasks/jr_1' },
      { what: 'state', key: 'rec#runs/silver.tasks' },
      { what: 'state', key: 'lock#job-silver.tasks' },
      { what: 'state', key: 'lock#lake-maintenance' },
      { what: 'state', key: 'rec#vacuum' },
      // It may put a root, but not claim another job's table or bookmark: a root it puts that moves those is refused by readers.
      { what: 'state', key: 'claim#table#gold.daily_task_kpis' },
      { what: 'state', key: 'claim#table#silver.tasks' },
      { what: 'state', key: 'claim#bookmark#silver.tasks' },
    ])).toHaveLength(10);
    expect(refused(bronzeTasks, [
      { what: 'state', key: 'doc#manifests/bronze.tasks_cdc/0000000003-jr_1-0' },
      { what: 'state', key: 'doc#bookmarks/bronze.tasks_cdc/jr_1' },
      { what: 'state', key: 'rec#runs/bronze.tasks_cdc' },
      { what: 'state', key: 'lock#job-bronze.tasks_cdc' },
      { what: 'state', key: 'root#000000000042' },
      { what: 'state', key: 'claim#table#bronze.tasks_cdc' },
      { what: 'state', key: 'claim#table#quarantine.records' },
      { what: 'state', key: 'claim#bookmark#bronze.tasks_cdc' },
      { what: 'state', key: 'claims' },
      { what: 'state', key: 'claims#000000000042' },
    ])).toEqual([]);
    // The report and reconcile steps write no state; the vacuum removes manifests but writes no root.
    expect(refused(reportLakeAccess(['gold.daily_task_kpis']), [{ what: 'state', key: 'root' }])).toHaveLength(1);
    expect(refused(reconcileLakeAccess(RECONCILED_SOURCES), [{ what: 'state', key: 'rec#runs/bronze.tasks_cdc' }])).toHaveLength(1);
    expect(
      refused(vacuumLakeAccess(['silver.tasks']), [
        { what: 'state', key: 'root#000000000042' },
        { what: 'state', key: 'doc#manifests/silver.tasks/0000000001-jr_1-0' },
        { what: 'state-delete', key: 'doc#manifests/silver.tasks/0000000001-jr_1-0' },
        { what: 'state-delete', key: 'root#000000000042' },
      ]),
    ).toEqual(['state root#000000000042', 'state doc#manifests/silver.tasks/0000000001-jr_1-0', 'state-delete root#000000000042']);
    // A job deletes nothing of the state, not even its own manifests.
    expect(refused(bronzeTasks, [{ what: 'state-delete', key: 'doc#manifests/bronze.tasks_cdc/0000000003-jr_1-0' }])).toHaveLength(1);
  });
});
