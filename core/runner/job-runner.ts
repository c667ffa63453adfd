import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quoteIdentifier, type Engine, type ResultRow } from '../engine/index.ts';
import { JobDefinitionError, JobRunError, MedallionError } from '../errors.ts';
import {
  advanceLandingBookmark, bookmarkDocumentId, selectBetween, selectUnreadObjects,
  type JobBookmarkState, type SourceBookmark,
} from '../bookmark/index.ts';
import type { BookmarkOption, Job, JobPlan, TransformContext } from '../job/index.ts';
import { batchObjects, loadLandingSpool, spoolLandingObjects, type LandingSpool } from '../landing/index.ts';
import type { Lake } from '../lake.ts';
import type { MetricDatum } from '../metrics/index.ts';
import type { LakeRoot, TableRef } from '../state/index.ts';
import type { ObjectInfo } from '../storage/index.ts';
import { commitTables, partitionKey, tablePrefix, withAddedColumns, type TableManifest, type TableSpec, type TableWrite } from '../table/index.ts';
import { QUARANTINE_TABLE } from './quarantine-table.ts';
import { QUALITY_RESULTS_TABLE } from '../quality/results-table.ts';
import {
  QualityGate, QualityGateError, gateFailures, qualityMetrics, qualityResultsSql, stagedDataset, type QualityEvaluation,
} from '../quality/quality-gate.ts';
import type { QualityDataset } from '../quality/evaluator/index.ts';
import type { TableRuleSet } from '../quality/rule-sets.ts';
import { copyToStaging, countQuery, countRows, outputSql, persistStage, quarantineSql, type OutputStage } from './output-staging.ts';
import {
  attachFiles, attachPrevious, attachTableInput, bookmarkOfRun, landingBookmarkOf, qualityStagingPrefix, quarantineStagingPrefix, tableDeltas,
} from './run-inputs.ts';
import { newRunId } from './run-id.ts';

/** Where a run can be made to fail, in order (see RunOptions.faultPoint). */
export const FAULT_POINTS = ['input-read', 'outputs-staged', 'manifests-written', 'before-swap', 'after-commit'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface RunOptions {
  readonly runId?: string;
  readonly args?: Readonly<Record<string, string>>;
  readonly now?: () => Date;
  /** Landing bytes per batch for `perRecord` jobs (default 128 MiB). */
  readonly batchBytes?: number;
  /**
   * Aborts the run (a timeout, a lost lock): the running statement is interrupted, nothing is committed
   * and staged files are removed. A run already past its commit completes.
   */
  readonly signal?: AbortSignal;
  /**
   * Glue's job bookmark option (default disable: read everything, leave the bookmark alone). `enable` reads
   * only what is new and commits the bookmark with the outputs; `pause` reads what is new since the last
   * committed bookmark (or between the bookmarks of runs `from` and `to`) and never commits it.
   */
  /**
   * Called at named points of the run: after the first input batch is read, after outputs are staged,
   * while publishing (manifests written), just before and just after the commit. Crash tests kill the
   * process there; nothing else should use it.
   */
  readonly faultPoint?: (point: FaultPoint, job: string) => void;
  /**
   * When given, the run does not publish its commit to the catalog: it hands the committed root and the
   * tables it wrote here, and the caller publishes them (`runJobs` publishes once, after its last job).
   */
  readonly deferCatalogPublish?: (root: LakeRoot, tables: readonly string[]) => void;
  /**
   * Quality rule sets by table (see `loadRuleSets`). The rules of each output are applied to what the run
   * writes: quarantine rules set failing rows aside, fail rules stop the commit, and every evaluation is
   * committed to quality.results (with the outputs, or alone when a fail rule stopped the run).
   */
  readonly quality?: ReadonlyMap<string, TableRuleSet>;
  /**
   * Where a run that reads only what is new since its bookmark gets its engine (default `lake.createEngine()`);
   * `runJobs` gives such runs isolates of one shared instance. A run that reads everything opens an instance
   * of its own, so the memory of a large run is all returned when it ends.
   */
  readonly incrementalEngine?: () => Promise<Engine>;
  readonly bookmark?: {
    readonly option: BookmarkOption;
    readonly from?: string;
    readonly to?: string;
    /** Glue's Attempt and PreviousRunId, recorded in the committed bookmark. */
    readonly attempt?: number;
    readonly previousRunId?: string;
  };
}

export interface JobRunResult {
  readonly job: string;
  readonly runId: string;
  readonly state: 'SUCCEEDED';
  readonly startedAt: string;
  readonly completedAt: string;
  readonly elapsedMs: number;
  readonly recordsRead: number;
  readonly bytesRead: number;
  readonly recordsWritten: Readonly<Record<string, number>>;
  readonly recordsQuarantined: number;
  readonly recordsDuplicated: number;
  /** The root sequence the run committed (or the one it found, when it had nothing new to commit). */
  readonly commitSeq: number;
  /** A bookmarked run that found nothing new: it committed nothing. */
  readonly nothingNew: boolean;
  /** The bookmark version this run committed, when it committed one. */
  readonly bookmarkVersion?: number;
  /** The quality rules evaluated on the run's outputs (committed to quality.results). */
  readonly quality?: readonly QualityEvaluation[];
}

const DEFAULT_BATCH_BYTES = 128 * 1024 * 1024;

/**
 * Runs one job: reads its sources, executes its SQL in a fresh engine, stages the outputs as Parquet,
 * then commits tables and quarantine rows in one atomic step. A failure at any point leaves the lake as
 * it was and removes what the run staged. Landing input is cut into records by Node and handed to
 * DuckDB in batches for `perRecord` jobs, the next batch being cut while DuckDB works on this one.
 */
export async function runJob(lake: Lake, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const runId = options.runId ?? newRunId(startedAt);
  // Opened once the run knows it has something to read: a run with nothing new needs none.
  let opened: Engine | undefined;
  const stages: OutputStage[] = [];
  const releases: (() => Promise<void>)[] = [];
  let committed = false;
  let qualityStage: OutputStage | undefined;
  let qualityCommitted = false;
  const signal = options.signal;
  const interrupt = () => opened?.interrupt();
  signal?.addEventListener('abort', interrupt, { once: true });
  const checkpoint = () => signal?.throwIfAborted();
  try {
    checkpoint();
    const basedOn = await lake.state.readRoot();
    let recordsRead = 0;
    let bytesRead = 0;
    const inputRows = new Map<string, number>();

    const option = options.bookmark?.option ?? 'job-bookmark-disable';
    const current = basedOn.bookmarks[job.name]
      ? await lake.state.getDocument<JobBookmarkState>(basedOn.bookmarks[job.name] as string)
      : undefined;
    const window = option === 'job-bookmark-pause' && options.bookmark?.from !== undefined
      ? { from: await bookmarkOfRun(lake, job.name, options.bookmark.from), to: await bookmarkOfRun(lake, job.name, options.bookmark.to ?? '') }
      : undefined;
    const since = option === 'job-bookmark-disable' ? undefined : current;

    // Table sources: a bookmarked run reads a table only when it moved since the bookmark, and then all of it.
    const tableVersions: Record<string, number> = {};
    // Without a bookmark yet, the run reads everything and commits, even if that is nothing.
    let anythingNew = option === 'job-bookmark-disable' || since === undefined;
    for (const [name, source] of Object.entries(job.sources)) {
      if (source.kind !== 'table') continue;
      tableVersions[name] = basedOn.tables[source.table]?.version ?? 0;
      const seen = since?.sources[name];
      if (!(seen?.kind === 'table' && seen.version === tableVersions[name])) anythingNew = true;
    }
    const landing = Object.entries(job.sources).filter(([, source]) => source.kind === 'landing');
    const landingObjects = new Map<string, ObjectInfo[]>();
    let readsSubset = false;
    for (const [name, source] of landing) {
      if (source.kind !== 'landing') continue;
      // Objects at or below the bookmark's band count as read: the listing may leave them out.
      const readUpTo = window ? landingBookmarkOf(window.from, name) : landingBookmarkOf(since, name);
      if (readUpTo) readsSubset = true;
      const objects: ObjectInfo[] = [];
      const listing = lake.storage.list(source.prefix, readUpTo ? { modifiedAfterMs: readUpTo.watermarkMs - readUpTo.bandMs } : {});
      for await (const object of listing) objects.push(object);
      const selected = window
        ? selectBetween(objects, landingBookmarkOf(window.from, name), landingBookmarkOf(window.to, name))
        : selectUnreadObjects(objects, landingBookmarkOf(since, name));
      if (selected.length < objects.length) readsSubset = true;
      if (selected.length > 0) anythingNew = true;
      landingObjects.set(name, selected);
    }
    if (!anythingNew) {
      const completedAt = now();
      return {
        job: job.name, runId, state: 'SUCCEEDED', startedAt: startedAt.toISOString(), completedAt: completedAt.toISOString(),
        elapsedMs: completedAt.getTime() - startedAt.getTime(), recordsRead: 0, bytesRead: 0, recordsWritten: {},
        recordsQuarantined: 0, recordsDuplicated: 0, commitSeq: basedOn.seq, nothingNew: true,
      };
    }
    const engine = since !== undefined && options.incrementalEngine ? await options.incrementalEngine() : await lake.createEngine();
    opened = engine;
    checkpoint();
    // An incremental job reads only what its table sources gained, when they only grew since its bookmark.
    const deltas = job.incremental && since ? await tableDeltas(lake, job, basedOn, since) : undefined;
    const deltaViews = new Map<string, () => Promise<() => Promise<void>>>();
    const attachAskedFor = async (asked: JobPlan) => {
      const text = planText(asked);
      for (const [view, attach] of deltaViews) {
        if (!text.includes(quoteIdentifier(view))) continue;
        deltaViews.delete(view);
        releases.push(await attach());
      }
    };
    for (const [name, source] of Object.entries(job.sources)) {
      if (source.kind !== 'table') continue;
      const loaded = await attachTableInput(lake, engine, basedOn, name, source.table);
      releases.push(loaded.release);
      const delta = deltas?.get(name);
      if (delta) {
        // Attached once the plan asks for them (see attachAskedFor): a job may read only the delta, or neither.
        deltaViews.set(`delta_${name}`, () => attachFiles(lake, engine, delta.manifest, delta.added, `delta_${name}`));
        deltaViews.set(`before_${name}`, () => attachFiles(lake, engine, delta.manifest, delta.before, `before_${name}`));
        const rows = delta.added.reduce((sum, file) => sum + file.rows, 0);
        inputRows.set(name, rows);
        recordsRead += rows;
        bytesRead += delta.added.reduce((sum, file) => sum + file.sizeBytes, 0);
      } else {
        inputRows.set(name, loaded.rows);
        recordsRead += loaded.rows;
        bytesRead += loaded.bytes;
      }
    }
    // Each output as this run writes it: with the columns schema evolution added in earlier runs.
    const specs = new Map<string, TableSpec>();
    for (const spec of job.outputs) {
      const ref = basedOn.tables[spec.name];
      const committed = ref ? (await lake.state.getDocument<TableManifest>(ref.manifest)).columns : [];
      specs.set(spec.name, withAddedColumns(spec, committed.filter((column) => column.origin !== undefined && !spec.columns.some((own) => own.name === column.name))));
    }
    for (const spec of job.outputs) {
      releases.push(await attachPrevious(lake, engine, basedOn, specs.get(spec.name) as TableSpec));
    }

    const inputNames = new Set(Object.keys(job.sources));
    let incremental = deltas !== undefined;
    let plan = job.transform(transformContext(job, runId, startedAt, options.args ?? {}, inputNames, incremental ? 'incremental' : 'full', specs));
    checkPlan(job, plan);
    await attachAskedFor(plan);
    for (const spec of job.outputs) {
      stages.push({ spec: specs.get(spec.name) as TableSpec, area: await lake.storage.createStagingArea(`${tablePrefix(spec.name)}${runId}`), copies: [] });
    }
    const quarantineStage: OutputStage = {
      spec: QUARANTINE_TABLE,
      area: await lake.storage.createStagingArea(quarantineStagingPrefix(job, runId)),
      copies: [],
    };
    stages.push(quarantineStage);
    const gate = options.quality && job.outputs.some((output) => options.quality?.has(output.name))
      ? new QualityGate(engine, options.quality, {
          job: job.name,
          now: startedAt,
          attachHistory: async () => {
            if (!basedOn.tables[QUALITY_RESULTS_TABLE.name]) return undefined;
            const loaded = await attachTableInput(lake, engine, basedOn, 'quality_history', QUALITY_RESULTS_TABLE.name);
            releases.push(loaded.release);
            return quoteIdentifier('input_quality_history');
          },
          committedTable: async (table) => {
            if (!basedOn.tables[table]) return undefined;
            const name = `reference_${table.replace('.', '_')}`;
            const loaded = await attachTableInput(lake, engine, basedOn, name, table);
            releases.push(loaded.release);
            const { rows } = await engine.query(`DESCRIBE ${quoteIdentifier(`input_${name}`)}`);
            return { relation: quoteIdentifier(`input_${name}`), columns: rows.map((row) => ({ name: String(row.column_name), type: String(row.column_type) })) };
          },
        })
      : undefined;

    // A perRecord job's one landing source comes in batches; any other job sees all its input at once.
    const [batchedName] = job.perRecord ? (landing[0] ?? []) : [];
    const batches = batchedName !== undefined ? batchObjects(landingObjects.get(batchedName) ?? [], options.batchBytes ?? DEFAULT_BATCH_BYTES) : [];
    const spoolDir = await mkdtemp(path.join(tmpdir(), 'medallion-spool-'));
    releases.push(() => rm(spoolDir, { recursive: true, force: true }));
    for (const [name, objects] of landingObjects) {
      if (name === batchedName) continue;
      const spool = await spoolLandingObjects(lake.storage, objects, path.join(spoolDir, `${name}.txt`), signal);
      await loadLandingSpool(engine, spool, `input_${name}`);
      inputRows.set(name, spool.records);
      recordsRead += spool.records;
      bytesRead += spool.bytesRead;
    }

    let recordsDuplicated = 0;
    const batchCount = Math.max(1, batches.length);
    let nextSpool: Promise<LandingSpool> | undefined =
      batchedName !== undefined ? spoolLandingObjects(lake.storage, batches[0] ?? [], path.join(spoolDir, 'batch-0.txt'), signal) : undefined;
    for (let batch = 0; batch < batchCount; batch += 1) {
      let batchSpool: LandingSpool | undefined;
      if (batchedName !== undefined && nextSpool) {
        const spool = await nextSpool;
        // Start cutting the next batch now: Node does that while DuckDB works on this one.
        nextSpool = batch + 1 < batches.length
          ? spoolLandingObjects(lake.storage, batches[batch + 1] ?? [], path.join(spoolDir, `batch-${batch + 1}.txt`), signal)
          : undefined;
        nextSpool?.catch(() => undefined);
        await loadLandingSpool(engine, spool, `input_${batchedName}`);
        batchSpool = spool;
        inputRows.set(batchedName, (inputRows.get(batchedName) ?? 0) + spool.records);
        recordsRead += spool.records;
        bytesRead += spool.bytesRead;
      }
      if (batch === 0) options.faultPoint?.('input-read', job.name);
      for (const step of plan.steps ?? []) {
        checkpoint();
        await engine.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(`step_${step.name}`)} AS ${step.sql}`);
      }
      // Schema evolution: columns the steps found that the outputs lack. (Only for jobs that run in one batch.)
      if (batch === 0 && plan.evolve && batchedName === undefined) {
        let added = false;
        for (const [table, sql] of Object.entries(plan.evolve)) {
          const spec = specs.get(table);
          if (!spec || sql === undefined) continue;
          const { rows } = await engine.query(`SELECT name, type, origin, description FROM (${sql})`);
          const fresh = newColumns(spec, rows);
          if (fresh.length === 0) continue;
          specs.set(table, withAddedColumns(spec, fresh));
          added = true;
        }
        if (added) {
          for (const stage of stages) stage.spec = specs.get(stage.spec.name) ?? stage.spec;
          // The job's own tables as last committed, now with the new columns (NULL in every old row).
          for (const spec of job.outputs) releases.push(await attachPrevious(lake, engine, basedOn, specs.get(spec.name) as TableSpec));
          plan = job.transform(transformContext(job, runId, startedAt, options.args ?? {}, inputNames, incremental ? 'incremental' : 'full', specs));
          checkPlan(job, plan);
          await attachAskedFor(plan);
          for (const step of plan.steps ?? []) {
            checkpoint();
            await engine.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(`step_${step.name}`)} AS ${step.sql}`);
          }
        }
      }
      // (An incremental job has table sources only, so it runs in one batch.)
      if (incremental && plan.needsFullRun && (await countQuery(engine, plan.needsFullRun)) > 0) {
        // The new input changes what was read before (a late copy sorting first, say): recompute from all of it.
        incremental = false;
        for (const [name] of deltas ?? []) {
          const all = await countQuery(engine, `SELECT * FROM ${quoteIdentifier(`input_${name}`)}`);
          recordsRead += all - (inputRows.get(name) ?? 0);
          inputRows.set(name, all);
        }
        plan = job.transform(transformContext(job, runId, startedAt, options.args ?? {}, inputNames, 'full', specs));
        checkPlan(job, plan);
        for (const step of plan.steps ?? []) {
          checkpoint();
          await engine.run(`CREATE OR REPLACE TABLE ${quoteIdentifier(`step_${step.name}`)} AS ${step.sql}`);
        }
      }
      if (incremental) readsSubset = true;
      const batchFolder = batchCount > 1 ? `batch-${String(batch).padStart(5, '0')}` : '';
      const setAside: { table: string; sql: string }[] = [];
      const copies: StagedCopy[] = [];
      for (const stage of stages) {
        checkpoint();
        let sql = stage === quarantineStage ? quarantineSql(job, runId, startedAt, plan) : outputSql(stage.spec, plan);
        const planSql = stage === quarantineStage ? plan.quarantine : plan.outputs[stage.spec.name];
        let expectRows: number | undefined;
        if (gate && stage !== quarantineStage && sql !== undefined) {
          // Quarantine rules split the output: what passes is staged, the rest joins the quarantine below.
          const split = await gate.splitBatch(stage.spec, sql, batch);
          sql = split.kept;
          expectRows = split.keptRows;
          if (split.setAside) setAside.push({ table: stage.spec.name, sql: split.setAside });
        }
        if (sql !== undefined) {
          copies.push({ stage, sql, folder: batchFolder, ...(planSql === undefined ? {} : { planSql }), ...(expectRows === undefined ? {} : { expectRows }) });
        }
      }
      for (const { table, sql } of setAside) {
        const folder = path.posix.join(batchFolder, `quality-${table.replace('.', '_')}`);
        copies.push({ stage: quarantineStage, sql: quarantineSql(job, runId, startedAt, { outputs: {}, quarantine: sql }) as string, folder });
      }
      checkpoint();
      // An incremental run's outputs are small: written side by side. A full run writes them one at a time, so
      // two large partitioned writers never hold their buffers at once.
      await copyOutputs(engine, copies, incremental ? OUTPUTS_AT_ONCE : 1);
      await gate?.releaseBatch(batch);
      if (plan.duplicates) recordsDuplicated += await countQuery(engine, plan.duplicates);
      if (batchSpool) await rm(batchSpool.path, { force: true });
    }

    // Quality: every output's rules over the rows staged for it, before anything is stored or committed.
    let evaluations: QualityEvaluation[] = [];
    if (gate) {
      const copied = (stage: OutputStage) => stage.copies.reduce((sum, row) => sum + Number(row.count ?? 0), 0);
      const staged = new Map<string, QualityDataset>();
      for (const stage of stages) if (stage !== quarantineStage) staged.set(stage.spec.name, stagedDataset(stage.spec, stage.copies));
      const checked = stages.filter((stage) => stage !== quarantineStage && gate.ruleSetOf(stage.spec.name));
      // Like the outputs: an incremental run's tables are checked side by side, a full run's one at a time.
      const perTable = await inSessions(engine, checked, incremental ? OUTPUTS_AT_ONCE : 1, (stage, session) => {
        checkpoint();
        const counters = { recordsRead, recordsWritten: copied(stage), recordsQuarantined: copied(quarantineStage), recordsDuplicated };
        return gate.evaluate(stage.spec, staged.get(stage.spec.name) as QualityDataset, counters, staged, session);
      });
      evaluations.push(...perTable.flat());
      if (evaluations.length > 0) {
        qualityStage = { spec: QUALITY_RESULTS_TABLE, area: await lake.storage.createStagingArea(qualityStagingPrefix(job.name, runId)), copies: [] };
        qualityStage.copies.push(...(await copyToStaging(engine, qualityStage, qualityResultsSql(evaluations, { runId, job: job.name, scope: 'run', at: startedAt }), '')));
      }
      const failures = gateFailures(evaluations);
      if (failures.length > 0 && qualityStage) {
        // The run commits nothing, but what the rules found is kept: history and the operator need it.
        const partitions = await persistStage(qualityStage);
        await commitTables(lake.state, { runId, basedOn, writes: [{ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions }], now, bookmarks: {} });
        qualityCommitted = true;
        await lake.metrics.emit(qualityMetrics(evaluations, { job: job.name, runId, at: now().getTime() })).catch(() => undefined);
        throw new QualityGateError(job.name, failures);
      }
    }

    options.faultPoint?.('outputs-staged', job.name);
    const writes: TableWrite[] = [];
    const recordsWritten: Record<string, number> = {};
    let recordsQuarantined = 0;
    for (const stage of stages) {
      const partitions = await persistStage(stage);
      const rows = countRows(partitions);
      if (stage === quarantineStage) {
        recordsQuarantined = rows;
        const own = partitionKey(QUARANTINE_TABLE.partitionBy, { job: job.name });
        // A run that read only new input adds its quarantine; one that read everything replaces the job's.
        writes.push(
          readsSubset
            ? { spec: QUARANTINE_TABLE, kind: 'append', partitions }
            : { spec: QUARANTINE_TABLE, kind: 'replace_partitions', partitions: { [own]: partitions[own] ?? { values: { job: job.name }, files: [] } } },
        );
      } else {
        recordsWritten[stage.spec.name] = rows;
        const replaced = incremental ? plan.replacePartitions?.[stage.spec.name] : undefined;
        if (replaced !== undefined) {
          // Partitions the plan replaces but wrote no row for become empty.
          for (const values of await partitionValues(engine, stage.spec, replaced)) {
            partitions[partitionKey(stage.spec.partitionBy, values)] ??= { values, files: [] };
          }
          writes.push({ spec: stage.spec, kind: 'replace_partitions', partitions });
          continue;
        }
        const kind = incremental
          ? ((plan.appendTo ?? []).includes(stage.spec.name) ? 'append' : 'replace_all')
          : readsSubset ? (stage.spec.writeMode === 'append' ? 'append' : 'replace_partitions') : 'replace_all';
        writes.push({ spec: stage.spec, kind, partitions });
      }
    }

    if (qualityStage) writes.push({ spec: QUALITY_RESULTS_TABLE, kind: 'append', partitions: await persistStage(qualityStage) });

    if (job.balance) {
      const read = inputRows.get(job.balance.input) ?? 0;
      const written = recordsWritten[job.balance.output] ?? 0;
      // Rows quality rules set aside from other outputs than the balanced one were never part of its input.
      const otherSetAside = gate ? job.outputs.filter((output) => output.name !== job.balance?.output).reduce((sum, output) => sum + gate.rowsSetAside(output.name), 0) : 0;
      if (read !== written + recordsQuarantined - otherSetAside + recordsDuplicated) {
        throw new MedallionError(
          'RECONCILIATION_FAILED',
          `job ${job.name} read ${read} rows from ${job.balance.input} but accounted for ${written + recordsQuarantined - otherSetAside + recordsDuplicated} ` +
            `(${written} written to ${job.balance.output}, ${recordsQuarantined - otherSetAside} quarantined, ${recordsDuplicated} duplicates); nothing was committed`,
          { hint: 'a row was lost or doubled by the job SQL: every input row must be written, quarantined or counted as a duplicate' },
        );
      }
    }

    let bookmarkVersion: number | undefined;
    const bookmarks: Record<string, string> = {};
    if (option === 'job-bookmark-enable') {
      const sources: Record<string, SourceBookmark> = {};
      for (const [name, source] of Object.entries(job.sources)) {
        sources[name] = source.kind === 'table'
          ? {
              kind: 'table',
              table: source.table,
              version: tableVersions[name] ?? 0,
              ...(basedOn.tables[source.table] ? { manifest: (basedOn.tables[source.table] as TableRef).manifest } : {}),
            }
          : advanceLandingBookmark(landingBookmarkOf(current, name), landingObjects.get(name) ?? [], source.bandMs);
      }
      const previousRunId = options.bookmark?.previousRunId ?? current?.runId;
      const next: JobBookmarkState = {
        jobName: job.name,
        version: (current?.version ?? 0) + 1,
        run: (current?.run ?? 0) + 1,
        attempt: options.bookmark?.attempt ?? 0,
        runId,
        ...(previousRunId === undefined ? {} : { previousRunId }),
        committedAt: now().toISOString(),
        sources,
      };
      await lake.state.putDocument(bookmarkDocumentId(job.name, runId), next);
      bookmarks[job.name] = bookmarkDocumentId(job.name, runId);
      bookmarkVersion = next.version;
    }

    checkpoint();
    const { root } = await commitTables(lake.state, { runId, basedOn, writes, now, bookmarks, ...(options.faultPoint ? { faultPoint: (point: FaultPoint) => options.faultPoint?.(point, job.name) } : {}) });
    committed = true;
    qualityCommitted = qualityStage !== undefined;
    options.faultPoint?.('after-commit', job.name);
    const completedAt = now();
    const result: JobRunResult = {
      job: job.name,
      runId,
      state: 'SUCCEEDED',
      startedAt: startedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      elapsedMs: completedAt.getTime() - startedAt.getTime(),
      recordsRead,
      bytesRead,
      recordsWritten,
      recordsQuarantined,
      recordsDuplicated,
      commitSeq: root.seq,
      nothingNew: false,
      ...(bookmarkVersion === undefined ? {} : { bookmarkVersion }),
      ...(evaluations.length > 0 ? { quality: evaluations } : {}),
    };
    const written = writes.map((write) => write.spec.name);
    if (options.deferCatalogPublish) options.deferCatalogPublish(root, written);
    else await lake.catalog.publish(root, { tables: written });
    await lake.metrics.emit([
      ...runMetrics(result, completedAt.getTime()),
      ...(evaluations.length > 0 ? qualityMetrics(evaluations, { job: job.name, runId, at: completedAt.getTime() }) : []),
    ]);
    return result;
  } catch (error) {
    if (signal?.aborted && !committed) throw signal.reason;
    if (error instanceof MedallionError) throw error;
    throw new JobRunError(job.name, runId, error instanceof Error ? error.message : String(error), { cause: error });
  } finally {
    signal?.removeEventListener('abort', interrupt);
    await Promise.allSettled(releases.map((release) => release()));
    await Promise.allSettled(stages.map((stage) => stage.area.dispose({ discardStored: !committed })));
    if (qualityStage) await qualityStage.area.dispose({ discardStored: !qualityCommitted }).catch(() => undefined);
    opened?.close();
  }
}

function transformContext(
  job: Job,
  runId: string,
  startedAt: Date,
  args: Readonly<Record<string, string>>,
  inputs: ReadonlySet<string>,
  mode: 'full' | 'incremental',
  specs: ReadonlyMap<string, TableSpec>,
): TransformContext {
  const known = (name: string) => {
    if (!inputs.has(name)) throw new JobDefinitionError(job.name, `transform asks for input ${name}, but the job's sources are ${[...inputs].join(', ')}`);
  };
  const snapshotless = (name: string) => {
    const source = job.sources[name];
    if (source?.kind === 'table' && source.snapshot) throw new JobDefinitionError(job.name, `source ${name} is read as a snapshot: it has no delta or before`);
  };
  const incrementalOnly = (what: string) => {
    if (mode !== 'incremental') throw new JobDefinitionError(job.name, `transform asks for ${what} in a full run; only incremental runs have it`);
  };
  return {
    jobName: job.name,
    runId,
    mode,
    startedAt,
    args: { ...(job.defaultArguments ?? {}), ...args },
    input(name) {
      if (!inputs.has(name)) throw new JobDefinitionError(job.name, `transform asks for input ${name}, but the job's sources are ${[...inputs].join(', ')}`);
      return quoteIdentifier(`input_${name}`);
    },
    step(name) {
      return quoteIdentifier(`step_${name}`);
    },
    delta(name) {
      known(name);
      incrementalOnly(`delta(${name})`);
      snapshotless(name);
      return quoteIdentifier(`delta_${name}`);
    },
    before(name) {
      known(name);
      incrementalOnly(`before(${name})`);
      snapshotless(name);
      return quoteIdentifier(`before_${name}`);
    },
    previous(table) {
      if (!job.outputs.some((output) => output.name === table)) throw new JobDefinitionError(job.name, `previous(${table}): not one of the job's outputs`);
      return quoteIdentifier(`previous_${table.replace('.', '_')}`);
    },
    columns(table) {
      const spec = specs.get(table);
      if (!spec) throw new JobDefinitionError(job.name, `columns(${table}): not one of the job's outputs`);
      return spec.columns;
    },
  };
}

/**
 * The columns of an `evolve` answer the table does not have yet (by origin: the same source is never added
 * twice). A name already taken, by a declared column or one from another source (`fooBar` and `foo_bar` both
 * become foo_bar), gets a numbered suffix, so no source's values are lost to another's column.
 */
function newColumns(spec: TableSpec, rows: readonly ResultRow[]): { name: string; type: string; origin: string; description: string }[] {
  const taken = new Set(spec.columns.map((column) => column.name));
  const fresh: { name: string; type: string; origin: string; description: string }[] = [];
  for (const row of rows) {
    const origin = String(row.origin);
    if (spec.columns.some((column) => column.origin === origin)) continue;
    let name = String(row.name);
    for (let suffix = 2; taken.has(name); suffix += 1) name = `${String(row.name)}_${suffix}`;
    taken.add(name);
    fresh.push({ name, type: String(row.type), origin, description: String(row.description ?? `Added by schema evolution (${origin}).`) });
  }
  return fresh;
}

interface StagedCopy {
  readonly stage: OutputStage;
  readonly sql: string;
  readonly folder: string;
  readonly planSql?: string;
  /** Rows the copy must write: what the quality gate counted when it checked the same SQL (see splitBatch). */
  readonly expectRows?: number;
}

/** Outputs an incremental run writes at once: DuckDB's Parquet writer keeps about one and a half cores busy, so two share two well. */
const OUTPUTS_AT_ONCE = 2;

/**
 * Writes a batch's outputs, up to `width` at a time, each beyond the first on a fork of the run's engine.
 * Each stage's files are recorded in the order the copies were listed, whatever order they finish in; the
 * first failure is thrown once all ended.
 */
async function copyOutputs(engine: Engine, copies: readonly StagedCopy[], width: number): Promise<void> {
  const results = await inSessions(engine, copies, width, (copy, session) => copyToStaging(session, copy.stage, copy.sql, copy.folder, copy.planSql));
  copies.forEach((copy, index) => {
    const written = (results[index] as ResultRow[]).reduce((sum, row) => sum + Number(row.count ?? 0), 0);
    if (copy.expectRows !== undefined && written !== copy.expectRows) {
      throw new MedallionError(
        'OUTPUT_NOT_REPEATABLE',
        `${copy.stage.spec.name}: its SQL gave ${copy.expectRows} rows when its quarantine rules checked them and ${written} when it was written; nothing was committed`,
        { hint: 'an output with quarantine rules is read twice and must give the same rows both times: no random(), no LIMIT without a total ORDER BY, no now()' },
      );
    }
  });
  copies.forEach((copy, index) => copy.stage.copies.push(...(results[index] as ResultRow[])));
}

/**
 * `work` for each item, up to `width` at a time: the first on `engine`, the others on forks of it, closed
 * when all ended. Results come in the items' order, whatever order they finish in; after a failure no
 * other item starts, and the first failure is thrown once the running ones ended.
 */
async function inSessions<T, R>(engine: Engine, items: readonly T[], width: number, work: (item: T, session: Engine) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (session: Engine) => {
    for (let index = next++; index < items.length; index = next++) {
      try {
        results[index] = await work(items[index] as T, session);
      } catch (error) {
        next = items.length;
        throw error;
      }
    }
  };
  const forks: Engine[] = [];
  try {
    while (forks.length < Math.min(width, items.length) - 1) forks.push(await engine.fork());
    const settled = await Promise.allSettled([engine, ...forks].map((session) => worker(session)));
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    for (const fork of forks) fork.close();
  }
  return results;
}

/** The partitions `sql` names, as the partition values Parquet folders carry (`day=2025-11-01`). */
async function partitionValues(engine: Engine, spec: TableSpec, sql: string): Promise<Record<string, string>[]> {
  const columns = spec.partitionBy.map((column) => `${quoteIdentifier(column)}::${spec.columns.find((c) => c.name === column)?.type ?? 'VARCHAR'}::VARCHAR AS ${quoteIdentifier(column)}`);
  const { rows } = await engine.query(`SELECT DISTINCT ${columns.join(', ')} FROM (${sql})`);
  // The NULL partition's value is null, as COPY's RETURN_STATS reports it (see persistStage).
  return rows.map((row) => Object.fromEntries(spec.partitionBy.map((column) => [column, (row[column] === null ? null : String(row[column])) as string])));
}

/** Every piece of SQL in a plan, joined: what the relations it reads are looked up in. */
function planText(plan: JobPlan): string {
  const texts: string[] = [];
  const collect = (value: unknown) => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(plan);
  return texts.join('\n');
}

/** Checks, before running anything, that the plan has SQL for exactly the declared outputs. */
function checkPlan(job: Job, plan: JobPlan): void {
  const problems: string[] = [];
  for (const spec of job.outputs) {
    if (plan.outputs[spec.name] === undefined) problems.push(`no SQL for output ${spec.name}`);
  }
  for (const name of Object.keys(plan.outputs)) {
    if (!job.outputs.some((spec) => spec.name === name)) problems.push(`SQL for ${name}, which is not a declared output`);
  }
  for (const name of Object.keys(plan.replacePartitions ?? {})) {
    const spec = job.outputs.find((output) => output.name === name);
    if (!spec || spec.partitionBy.length === 0) problems.push(`replacePartitions names ${name}, which is not a partitioned output`);
    else if ((plan.appendTo ?? []).includes(spec.name)) problems.push(`${name} is both appended to and replaced by partition`);
  }
  if (problems.length > 0) throw new JobDefinitionError(job.name, problems.join('; '));
}

/** Glue's job metric names, plus the record accounting Glue does not have. */
export function runMetrics(result: JobRunResult, timestampMs: number): MetricDatum[] {
  const dimensions = { JobName: result.job, JobRunId: result.runId, Type: 'count' };
  const gauge = { JobName: result.job, JobRunId: result.runId, Type: 'gauge' };
  const written = Object.values(result.recordsWritten).reduce((sum, value) => sum + value, 0);
  return [
    { name: 'glue.driver.aggregate.recordsRead', value: result.recordsRead, unit: 'Count', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.bytesRead', value: result.bytesRead, unit: 'Bytes', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.elapsedTime', value: result.elapsedMs, unit: 'Milliseconds', dimensions: gauge, timestampMs },
    { name: 'medallion.job.recordsWritten', value: written, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsQuarantined', value: result.recordsQuarantined, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsDuplicated', value: result.recordsDuplicated, unit: 'Count', dimensions, timestampMs },
  ];
}
