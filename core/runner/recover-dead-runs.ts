import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import { jobRunFolders } from '../layout/index.ts';
import { QUARANTINE_TABLE, QUALITY_RESULTS_TABLE, manifestFiles, type TableManifest } from '../table/index.ts';
import type { JobRunRecord } from './job-run-record.ts';

export interface Recovery {
  /** Runs left in STARTING or RUNNING by a process that died, now marked ERROR. */
  readonly deadRuns: readonly string[];
  /** Staged files of runs that never committed, now removed. */
  readonly removedFiles: number;
}

/**
 * Tidies up after runs of `job` whose process died. Call it only while holding the job's lock: then no
 * other run of the job is alive, so a run record still STARTING or RUNNING belongs to a dead process
 * (it becomes ERROR), and a run folder that no committed manifest references and whose run never
 * succeeded holds staged files nobody will ever see (they are removed). Files of runs that succeeded and
 * were superseded since are left for vacuum: an older snapshot may still read them.
 */
export async function recoverDeadRuns(lake: Lake, job: Job, now: () => Date = () => new Date()): Promise<Recovery> {
  const collection = `runs/${job.name}`;
  const records = await lake.state.listRecords<JobRunRecord>(collection);
  const deadRuns: string[] = [];
  for (const record of records) {
    if (record.JobRunState !== 'STARTING' && record.JobRunState !== 'RUNNING') continue;
    const at = now().toISOString();
    await lake.state.putRecord(collection, record.Id, {
      ...record,
      JobRunState: 'ERROR',
      LastModifiedOn: at,
      CompletedOn: at,
      ErrorMessage: 'the run stopped without finishing (its process died); whatever it had not committed was discarded',
    } satisfies JobRunRecord);
    deadRuns.push(record.Id);
  }
  const succeeded = new Set(records.filter((record) => record.JobRunState === 'SUCCEEDED').map((record) => record.Id));

  const root = await lake.state.readRoot();
  const referenced = new Set<string>();
  for (const table of [...job.outputs.map((output) => output.name), QUARANTINE_TABLE.name, QUALITY_RESULTS_TABLE.name]) {
    const ref = root.tables[table];
    if (!ref) continue;
    for (const file of manifestFiles(await lake.state.getDocument<TableManifest>(ref.manifest))) referenced.add(file.key);
  }

  let removedFiles = 0;
  for (const prefix of jobRunFolders(job)) {
    const byRun = new Map<string, string[]>();
    for await (const object of lake.storage.list(prefix)) {
      const runFolder = object.key.slice(prefix.length).split('/')[0] ?? '';
      if (!runFolder.startsWith('jr_')) continue;
      byRun.set(runFolder, [...(byRun.get(runFolder) ?? []), object.key]);
    }
    for (const [runFolder, keys] of byRun) {
      if (succeeded.has(runFolder) || keys.some((key) => referenced.has(key))) continue;
      await lake.storage.delete(keys);
      removedFiles += keys.length;
    }
  }
  return { deadRuns, removedFiles };
}
