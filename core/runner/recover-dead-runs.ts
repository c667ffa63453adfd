import { bookmarkDocumentId } from '../bookmark/index.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import { jobRunFolders } from '../layout/index.ts';
import { JOB_PARTITIONED_TABLES, manifestFiles, type TableManifest } from '../table/index.ts';
import { readRunRecords, type JobRunRecord } from './job-run-record.ts';
import { terminalRunMetrics } from './run-metrics.ts';
import { readManifest } from '../state/state-documents.ts';
import { runRecordCollection } from '../state/state-keys.ts';

export interface Recovery {
  /** Runs left in STARTING or RUNNING by a process that died before its commit, now marked ERROR. */
  readonly deadRuns: readonly string[];
  /** Runs whose process died after their commit went in (before recording it), now marked SUCCEEDED. */
  readonly committedRuns: readonly string[];
  /** Staged files of runs that never committed, now removed. */
  readonly removedFiles: number;
}

/**
 * Tidies up after runs of `job` whose process died. Call it only while holding the job's lock: then no
 * other run of the job is alive, so a run record still STARTING or RUNNING belongs to a dead process: it
 * becomes SUCCEEDED when its commit is live (the process died after the commit, before recording it), else
 * ERROR. A run folder that no committed manifest references and whose run never
 * succeeded holds staged files nobody will ever see (they are removed). Files of runs that succeeded and
 * were superseded since are left for vacuum: an older snapshot may still read them.
 */
export async function recoverDeadRuns(lake: Lake, job: Job, now: () => Date = () => new Date()): Promise<Recovery> {
  const collection = runRecordCollection(job.name);
  // A damaged record cannot be judged: it is left as it is, and so are its run's files.
  const { records, unreadable } = await readRunRecords(lake.state, job.name);

  // Only this job writes its outputs, and no run of it committed since the dead one held the lock: an output
  // whose committed version this run made says its commit went in.
  const root = await lake.state.readRoot();
  const referenced = new Set<string>();
  const committedBy = new Map<string, { committedAt: string; written: number }>();
  const outputs = new Set<string>(job.outputs.map((output) => output.name));
  for (const table of [...outputs, ...JOB_PARTITIONED_TABLES.map((spec) => spec.name)]) {
    const ref = root.tables[table];
    if (!ref) continue;
    const manifest = await readManifest(lake.state, ref.manifest);
    const files = manifestFiles(manifest);
    for (const file of files) referenced.add(file.key);
    if (!outputs.has(table)) continue;
    const entry = committedBy.get(manifest.runId) ?? { committedAt: manifest.committedAt, written: 0 };
    entry.written += files.filter((file) => file.key.split('/').includes(manifest.runId)).reduce((sum, file) => sum + file.rows, 0);
    committedBy.set(manifest.runId, entry);
  }

  const deadRuns: string[] = [];
  const committedRuns: string[] = [];
  for (const record of records) {
    if (record.JobRunState !== 'STARTING' && record.JobRunState !== 'RUNNING' && record.JobRunState !== 'WAITING') continue;
    const at = now().toISOString();
    // A run that wrote no output (an incremental run with nothing to change) still moved its bookmark.
    const committed = committedBy.get(record.Id) ?? (root.bookmarks[job.name] === bookmarkDocumentId(job.name, record.Id) ? { committedAt: root.committedAt, written: 0 } : undefined);
    if (committed) {
      // Its commit is live: the run succeeded, whatever happened to its process after.
      const succeeded: JobRunRecord = {
        ...record,
        JobRunState: 'SUCCEEDED',
        LastModifiedOn: at,
        CompletedOn: committed.committedAt,
        ExecutionTime: Math.max(0, Math.round((Date.parse(committed.committedAt) - Date.parse(record.StartedOn)) / 1000)),
        Metrics: { 'medallion.job.recordsWritten': committed.written },
      };
      await lake.state.putRecord(collection, record.Id, succeeded);
      await lake.metrics.emit(terminalRunMetrics(succeeded)).catch(() => undefined);
      committedRuns.push(record.Id);
      continue;
    }
    const dead: JobRunRecord = {
      ...record,
      JobRunState: 'ERROR',
      LastModifiedOn: at,
      CompletedOn: at,
      ErrorMessage: 'the run stopped without finishing (its process died); whatever it had not committed was discarded',
    };
    await lake.state.putRecord(collection, record.Id, dead);
    // The ERROR run's signals, late but counted: the failure alarm and dashboards see it.
    await lake.metrics.emit(terminalRunMetrics(dead)).catch(() => undefined);
    deadRuns.push(record.Id);
  }
  const unknown = new Set(unreadable.map((entry) => entry.id));
  const succeeded = new Set([...records.filter((record) => record.JobRunState === 'SUCCEEDED').map((record) => record.Id), ...committedRuns]);

  let removedFiles = 0;
  for (const prefix of jobRunFolders(job)) {
    const byRun = new Map<string, string[]>();
    for await (const object of lake.storage.list(prefix)) {
      const runFolder = object.key.slice(prefix.length).split('/')[0] ?? '';
      if (!runFolder.startsWith('jr_')) continue;
      byRun.set(runFolder, [...(byRun.get(runFolder) ?? []), object.key]);
    }
    for (const [runFolder, keys] of byRun) {
      if (succeeded.has(runFolder) || unknown.has(runFolder) || keys.some((key) => referenced.has(key))) continue;
      await lake.storage.delete(keys);
      removedFiles += keys.length;
    }
  }
  return { deadRuns, committedRuns, removedFiles };
}
