import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { batchObjects, checkSpoolSpace, loadLandingSpool, makeSpoolFolder, spoolLandingObjects, type LandingSpool } from '../../landing/index.ts';
import type { ObjectInfo } from '../../storage/index.ts';
import { HeldRecords } from './held-records.ts';
import type { ReadCounts } from './open-inputs.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';

const DEFAULT_BATCH_BYTES = 128 * 1024 * 1024;

/** One pass of the plan: a batch of a `perRecord` job's landing input, or the whole input of any other job. */
export interface InputBatch {
  readonly index: number;
  readonly count: number;
  /** The batch's sub-folder under each staging area ('' when the run has one batch). */
  readonly folder: string;
}

/**
 * The run's landing input, as views `input_<source>` over local spools of cut records. A `perRecord`
 * job's one landing source comes in batches (about `batchBytes` of objects each), the next batch being
 * cut by Node while DuckDB works on this one; any other job's landing sources are loaded whole, before
 * the first batch. Yields one batch at least, for jobs without landing input too.
 */
export async function* landingBatches(run: RunContext, reads: ReadPlan, counts: ReadCounts): AsyncGenerator<InputBatch> {
  const { lake, job, engine, options } = run;
  const landing = Object.entries(job.sources).filter(([, source]) => source.kind === 'landing');
  const [batchedName] = job.perRecord ? (landing[0] ?? []) : [];
  const batches = batchedName !== undefined ? batchObjects([...(reads.landingObjects.get(batchedName) ?? [])], options.batchBytes ?? DEFAULT_BATCH_BYTES) : [];
  if (landing.length > 0) {
    // Room for this run's spool: three files of a batch at most (the batch being written, the one read, and
    // the next one being cut over the batch before them, whose lines past the new ones stay until the file is
    // cut to length: see spoolLandingObjects).
    const largest = Math.max(0, ...[...reads.landingObjects.values()].map((objects) => objects.reduce((sum, object) => sum + object.sizeBytes, 0)));
    await checkSpoolSpace(tmpdir(), batchedName !== undefined ? 3 * Math.min(largest, options.batchBytes ?? DEFAULT_BATCH_BYTES) : largest);
  }
  // Only a run that reads landing objects spools them.
  const spoolDir = landing.length > 0 ? await makeSpoolFolder() : tmpdir();
  if (landing.length > 0) run.defer(() => rm(spoolDir, { recursive: true, force: true }));
  const limitsOf = (name: string) => {
    const source = job.sources[name];
    return source?.kind === 'landing' ? source.limits : undefined;
  };
  const spool = (name: string, objects: readonly ObjectInfo[], file: string) =>
    spoolLandingObjects(lake.storage, objects, path.join(spoolDir, file), { signal: options.signal, limits: limitsOf(name) });

  for (const [name, objects] of reads.landingObjects) {
    if (name === batchedName) continue;
    const whole = await run.phases.time('landing', () => spool(name, objects, `${name}.txt`));
    await loadLandingSpool(engine, whole, `input_${name}`);
    counts.add(name, whole.records, whole.bytesRead);
    counts.setAside.push(...whole.unreadable.map(({ object, error }) => ({ source: name, key: object.key, error })));
  }

  // Records of the batched source the job took in earlier runs are left out of its input (see HeldRecords).
  const held = batchedName !== undefined ? await HeldRecords.open(run, reads) : undefined;
  const count = Math.max(1, batches.length);
  let next: Promise<LandingSpool> | undefined = batchedName !== undefined ? spool(batchedName, batches[0] ?? [], 'batch-0.txt') : undefined;
  for (let index = 0; index < count; index += 1) {
    let current: LandingSpool | undefined;
    if (batchedName !== undefined && next) {
      // Waiting here is the time cutting took beyond what the engine's work on the last batch hid.
      const pending = next;
      current = await run.phases.time('landing', () => pending);
      // Start cutting the next batch now: Node does that while DuckDB works on this one. Batches take turns
      // with three spools: the next one writes over the spool of the batch two before this one, which the
      // caller is through with (this generator resumes only when it asks for this batch, and it asks only once
      // the batch two before it is written: see executePlan's writeBehind).
      next = index + 1 < batches.length ? spool(batchedName, batches[index + 1] ?? [], `batch-${(index + 1) % 3}.txt`) : undefined;
      next?.catch(() => undefined);
      const input = `input_${batchedName}`;
      await run.phases.time('landing', () => loadLandingSpool(engine, current as LandingSpool, held ? `landing_${batchedName}` : input));
      counts.add(batchedName, current.records, current.bytesRead);
      if (held) counts.alreadyHeld += await run.phases.time('landing', () => held.exclude(batches[index] ?? [], `landing_${batchedName}`, input));
      counts.setAside.push(...current.unreadable.map(({ object, error }) => ({ source: batchedName, key: object.key, error })));
    }
    yield { index, count, folder: count > 1 ? `batch-${String(index).padStart(5, '0')}` : '' };
  }
}
