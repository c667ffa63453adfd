import path from 'node:path';
import type { Engine, ResultRow } from '../../engine/index.ts';
import { quoteIdentifier } from '../../engine/index.ts';
import { MedallionError } from '../../errors.ts';
import type { QualityGate } from '../../quality/index.ts';
import { copyToStaging, countQuery, withAddedColumns, type OutputStage, type TableSpec } from '../../table/index.ts';
import { JOB_QUARANTINE_COLUMNS, outputSql, quarantineSql } from '../output-sql.ts';
import type { JobPlanner } from './job-planner.ts';
import { landingBatches, type InputBatch } from './landing-input.ts';
import type { RunInputs } from './open-inputs.ts';
import type { ReadPlan } from './read-plan.ts';
import type { RunContext } from './run-context.ts';
import type { RunStaging } from './run-staging.ts';
import { inSessions, OUTPUTS_AT_ONCE } from './sessions.ts';

/**
 * Runs the plan over each input batch: loads the batch (adding its records to `inputs.counts`, which are
 * complete once this returns), materializes the steps, lets the plan change before the first batch is
 * written (schema evolution, an incremental run that must read everything), splits each output by its
 * quarantine rules and writes what passes to the output's stage and the rest to the quarantine.
 * Returns the rows counted as duplicates.
 */
export async function executePlan(
  run: RunContext,
  reads: ReadPlan,
  inputs: RunInputs,
  planner: JobPlanner,
  staging: RunStaging,
  gate: QualityGate | undefined,
): Promise<{ recordsDuplicated: number }> {
  const { engine, job, options } = run;
  let recordsDuplicated = 0;
  // The batch being written while the next one's steps run (see writeBehind).
  let writing: { readonly index: number; readonly session: Engine; readonly done: Promise<void> } | undefined;
  const finishWriting = async () => {
    if (!writing) return;
    const { index, done } = writing;
    writing = undefined;
    await run.phases.time('write', () => done);
    await gate?.releaseBatch(index);
  };
  try {
    for await (const batch of landingBatches(run, reads, inputs.counts)) {
      if (batch.index === 0) options.faultPoint?.('input-read', job.name);
      // Rows the quarantine rules of outputs gated at a step set aside, by output (made again on a replan).
      const gatedAside = new Map<string, string>();
      const made = gate ? (step: string) => gateStep(run, planner, staging, gate, batch, step, gatedAside) : undefined;
      await run.phases.time('steps', async () => {
        await planner.runSteps(made);
        if (batch.index === 0 && !job.perRecord) await replanIfNeeded(run, inputs, planner, staging, made);
      });
      await finishWriting();
      const copies = await run.phases.time('write', () => stageBatch(run, planner, staging, gate, batch, gatedAside));
      run.checkpoint();
      if (planner.plan.duplicates) recordsDuplicated += await countQuery(engine, planner.plan.duplicates);
      // Every batch but the last is written behind the next one's steps; the last has nothing to hide behind.
      const behind = batch.index + 1 < batch.count ? await writeBehind(run, copies) : undefined;
      if (behind) {
        writing = { index: batch.index, ...behind };
        continue;
      }
      // An incremental run's outputs are small: written side by side. A full run writes them one at a time, so
      // two large partitioned writers never hold their buffers at once.
      await run.phases.time('write', () => copyOutputs(run, engine, copies, planner.incremental ? OUTPUTS_AT_ONCE : 1));
      await gate?.releaseBatch(batch.index);
    }
    await finishWriting();
  } finally {
    // A run that fails while a batch is written stops that write, and waits for it to end before its engine closes.
    if (writing) {
      writing.session.interrupt();
      await writing.done.catch(() => undefined);
    }
  }
  return { recordsDuplicated };
}

/**
 * What the steps found can change the plan before any output is written: new columns (schema
 * evolution, then the plan is made again), and new input that changes what was read
 * before (a late copy sorting first, say), which makes an incremental run recompute from all of it.
 * Only for jobs that run in one batch: a `perRecord` job's plan cannot change between its batches.
 */
async function replanIfNeeded(run: RunContext, inputs: RunInputs, planner: JobPlanner, staging: RunStaging, made?: (step: string) => Promise<void>): Promise<void> {
  if (planner.plan.evolve && (await evolveSchema(run, inputs, planner.plan.evolve))) {
    staging.useSpecs(inputs.specs);
    // The job's own tables as last committed, now with the new columns (NULL in every old row).
    await inputs.attachPrevious();
    await planner.replan(planner.mode);
    await planner.runSteps(made);
  }
  // An incremental job has table sources only, so it runs in one batch.
  if (planner.incremental && planner.plan.needsFullRun && (await countQuery(run.engine, planner.plan.needsFullRun)) > 0) {
    for (const [name] of inputs.deltas ?? []) {
      inputs.counts.recount(name, await countQuery(run.engine, `SELECT * FROM ${quoteIdentifier(`input_${name}`)}`));
    }
    await planner.replan('full');
    await planner.runSteps(made);
  }
}

/**
 * Applies the quarantine rules of the outputs whose rows `step` makes (JobPlan.gateAt) to the step, right
 * after it is made: the rows they set aside leave the step, so every later step and output (current state
 * and history derived from events, say) reads only the rows that passed; the set-aside rows are kept in
 * `setAside` for the quarantine.
 */
async function gateStep(run: RunContext, planner: JobPlanner, staging: RunStaging, gate: QualityGate, batch: InputBatch, step: string, setAside: Map<string, string>): Promise<void> {
  for (const [table, gatedStep] of Object.entries(planner.plan.gateAt ?? {})) {
    if (gatedStep !== step) continue;
    const stage = staging.outputs.find((candidate) => candidate.spec.name === table);
    if (!stage) continue;
    const relation = quoteIdentifier(`step_${step}`);
    const split = await gate.splitBatch(stage.spec, `SELECT * FROM ${relation}`, batch.index);
    setAside.delete(table);
    if (split.setAside === undefined) continue;
    // The split was materialized apart from the step, so the step can be made again from what passed.
    await planner.makeStep(step, split.kept);
    setAside.set(table, split.setAside);
  }
}

/** Adds the columns each output's `evolve` SQL found and the table lacks; true when any was added. */
async function evolveSchema(run: RunContext, inputs: RunInputs, evolve: Readonly<Partial<Record<string, string>>>): Promise<boolean> {
  let added = false;
  for (const [table, sql] of Object.entries(evolve)) {
    const spec = inputs.specs.get(table);
    if (!spec || sql === undefined) continue;
    const { rows } = await run.engine.query(`SELECT name, type, origin, description FROM (${sql})`);
    const fresh = newColumns(spec, rows);
    if (fresh.length === 0) continue;
    inputs.specs.set(table, withAddedColumns(spec, fresh));
    added = true;
  }
  return added;
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
  readonly planColumns?: readonly string[];
  /** Rows the copy must write: what the quality gate counted when it checked the same SQL (see splitBatch). */
  readonly expectRows?: number;
  /**
   * Its rows fall in one partition (the quarantine's, by job) or come grouped by partition (JobPlan.clustered):
   * written as they come, not sorted first.
   */
  readonly clustered?: boolean;
}

/** The copies that write one batch: each output (less what its quarantine rules set aside), then the quarantine. */
async function stageBatch(
  run: RunContext,
  planner: JobPlanner,
  staging: RunStaging,
  gate: QualityGate | undefined,
  batch: InputBatch,
  gatedAside: ReadonlyMap<string, string>,
): Promise<StagedCopy[]> {
  const { job, runId, startedAt } = run;
  const plan = planner.plan;
  const setAside: { table: string; sql: string }[] = [...gatedAside].map(([table, sql]) => ({ table, sql }));
  const copies: StagedCopy[] = [];
  for (const stage of staging.outputs) {
    run.checkpoint();
    let sql: string = outputSql(stage.spec, plan);
    const planSql = plan.outputs[stage.spec.name];
    let expectRows: number | undefined;
    if (gate && plan.gateAt?.[stage.spec.name] === undefined) {
      // Quarantine rules split the output: what passes is staged, the rest joins the quarantine below.
      const split = await gate.splitBatch(stage.spec, sql, batch.index);
      sql = split.kept;
      expectRows = split.keptRows;
      if (split.setAside) setAside.push({ table: stage.spec.name, sql: split.setAside });
    }
    copies.push({
      stage,
      sql,
      folder: batch.folder,
      ...(planSql === undefined ? {} : { planSql }),
      ...(expectRows === undefined ? {} : { expectRows }),
      ...(plan.clustered?.includes(stage.spec.name) ? { clustered: true } : {}),
    });
  }
  run.checkpoint();
  // The job's own quarantine rows and each rule's set-aside rows go to sibling folders of the batch's: a partitioned
  // COPY refuses a folder that holds a file already, and an incremental run writes a batch's copies two at a time,
  // so a folder holding another copy's folder fails when that copy writes first.
  const quarantined = quarantineSql(job, runId, startedAt, plan);
  if (quarantined !== undefined) {
    const folder = path.posix.join(batch.folder, 'job');
    copies.push({ stage: staging.quarantine, sql: quarantined, folder, clustered: true, ...(plan.quarantine === undefined ? {} : { planSql: plan.quarantine, planColumns: JOB_QUARANTINE_COLUMNS }) });
  }
  for (const { table, sql } of setAside) {
    const folder = path.posix.join(batch.folder, `quality-${table.replace('.', '_')}`);
    copies.push({ stage: staging.quarantine, sql: quarantineSql(job, runId, startedAt, { outputs: {}, quarantine: sql }) as string, folder, clustered: true });
  }
  return copies;
}

/**
 * Starts writing a batch of a job that runs in several (a `perRecord` job's) on a fork of the run's engine,
 * and returns once the fork has fixed what the copies read: the run's engine can then make the next batch's
 * steps and inputs while this batch is written, the Parquet writer's one core and a bit leaving the rest to
 * the steps. The fork reads in a transaction begun now, so it sees this batch's steps, inputs and quality
 * splits as they are when this returns, whatever the run's engine replaces them with after (DuckDB keeps
 * the old versions for it); the spool files under this batch's inputs are not written over before the write
 * has ended (see landingBatches). `done` settles when the write ends; the fork is closed then. A batch whose
 * copies the fork cannot bind (an output that lacks a column, say) is left to be written on the run's engine,
 * which says what is wrong with it: undefined then.
 */
async function writeBehind(run: RunContext, copies: readonly StagedCopy[]): Promise<{ session: Engine; done: Promise<void> } | undefined> {
  const session = await run.engine.fork();
  try {
    await session.run('BEGIN TRANSACTION');
    // Binding a copy's rows reads the catalog, which starts the transaction's snapshot of the run's
    // database; LIMIT 0 reads no row.
    for (const copy of copies) await session.run(`SELECT * FROM (${copy.sql}) LIMIT 0`);
    // A stop that came while the fork was made would not reach it.
    run.checkpoint();
  } catch {
    session.close();
    // A stop (which may be what made the binding fail) ends the run here, not after a write in the foreground.
    run.checkpoint();
    return undefined;
  }
  const done = (async () => {
    try {
      await copyOutputs(run, session, copies, 1);
      await session.run('COMMIT');
    } finally {
      session.close();
    }
  })();
  // Awaited by the caller; until then a failure must not count as unhandled.
  done.catch(() => undefined);
  return { session, done };
}

/**
 * Writes a batch's outputs on `session`, up to `width` at a time, each beyond the first on a fork of it.
 * Each stage's files are recorded in the order the copies were listed, whatever order they finish in; the
 * first failure is thrown once all ended.
 */
async function copyOutputs(run: RunContext, session: Engine, copies: readonly StagedCopy[], width: number): Promise<void> {
  const results = await inSessions(session, copies, width, (copy, on) => copyToStaging(on, copy.stage, copy.sql, copy.folder, copy.planSql, {
    clustered: run.job.perRecord === true || copy.clustered === true,
    ...(copy.planColumns ? { planColumns: copy.planColumns } : {}),
  }));
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
