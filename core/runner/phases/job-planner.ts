import { quoteIdentifier, quoteLiteral } from '../../engine/index.ts';
import { JobDefinitionError } from '../../errors.ts';
import type { Job, JobPlan, TransformContext } from '../../job/index.ts';
import type { TableSpec } from '../../table/index.ts';
import { locatedViewName, SOURCE_FILE_COLUMN, type RunInputs } from './open-inputs.ts';
import type { RunContext } from './run-context.ts';

export type PlanMode = TransformContext['mode'];

/**
 * The job's plan for this run, made in one place: the first time, again when schema evolution added
 * columns, and again when an incremental run finds it must read everything (`needsFullRun`). Each time
 * the plan is checked against the job's outputs and the delta views it reads are attached.
 */
export class JobPlanner {
  private current: JobPlan | undefined;

  private constructor(
    private readonly run: RunContext,
    private readonly inputs: RunInputs,
    private currentMode: PlanMode,
  ) {}

  static async open(run: RunContext, inputs: RunInputs): Promise<JobPlanner> {
    const planner = new JobPlanner(run, inputs, inputs.deltas !== undefined ? 'incremental' : 'full');
    await planner.replan(planner.currentMode);
    return planner;
  }

  get plan(): JobPlan {
    return this.current as JobPlan;
  }

  get mode(): PlanMode {
    return this.currentMode;
  }

  get incremental(): boolean {
    return this.currentMode === 'incremental';
  }

  /** Asks the job for its plan again, in `mode`, with the outputs' columns as they are now. */
  async replan(mode: PlanMode): Promise<void> {
    const { job, runId, startedAt, options } = this.run;
    const plan = job.transform(transformContext(job, runId, startedAt, options.args ?? {}, mode, this.inputs.specs));
    checkPlan(job, plan);
    this.current = plan;
    this.currentMode = mode;
    await this.inputs.attachAskedFor(plan);
  }

  /** Makes the plan's steps, in order, each once; `made` runs after each (the quality gate's `gateAt` splits). */
  async runSteps(made?: (step: string) => Promise<void>): Promise<void> {
    for (const step of this.plan.steps ?? []) {
      this.run.checkpoint();
      await this.makeStep(step.name, step.sql, step.view === true);
      await made?.(step.name);
    }
  }

  /**
   * Makes `step(name)` a table of `sql`, or a view of it, whatever it was before: DuckDB replaces a relation
   * only with one of the same kind, and a gate makes a view step a table of the rows that passed.
   */
  async makeStep(name: string, sql: string, view = false): Promise<void> {
    const { engine } = this.run;
    const relation = `step_${name}`;
    // What the relation is now, asked of the engine's catalog (the schema this engine works in).
    const { rows } = await engine.query(`
      SELECT table_type FROM information_schema.tables
      WHERE table_name = ${quoteLiteral(relation)} AND table_schema = current_schema() AND table_catalog = current_database()`);
    const existing = rows[0]?.table_type;
    if (existing !== undefined && (existing === 'VIEW') !== view) await engine.run(`DROP ${existing === 'VIEW' ? 'VIEW' : 'TABLE'} ${quoteIdentifier(relation)}`);
    await engine.run(`CREATE OR REPLACE ${view ? 'VIEW' : 'TABLE'} ${quoteIdentifier(relation)} AS ${sql}`);
  }
}

function transformContext(
  job: Job,
  runId: string,
  startedAt: Date,
  args: Readonly<Record<string, string>>,
  mode: PlanMode,
  specs: ReadonlyMap<string, TableSpec>,
): TransformContext {
  const inputs = new Set(Object.keys(job.sources));
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
      known(name);
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
    beforeMatching(name, column, keys) {
      known(name);
      incrementalOnly(`beforeMatching(${name})`);
      snapshotless(name);
      const located = quoteIdentifier(locatedViewName(name));
      const file = quoteIdentifier(SOURCE_FILE_COLUMN);
      const matches = `${quoteIdentifier(column)} IN (${keys})`;
      // The DISTINCT lets DuckDB skip whole files by the list it makes (without it, every file is read).
      return `(SELECT * EXCLUDE (${file}) FROM ${located} WHERE ${file} IN (SELECT DISTINCT ${file} FROM ${located} WHERE ${matches}) AND ${matches})`;
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

/** Checks, before running anything, that the plan has SQL for exactly the declared outputs. */
function checkPlan(job: Job, plan: JobPlan): void {
  const problems: string[] = [];
  for (const spec of job.outputs) {
    if (plan.outputs[spec.name] === undefined) problems.push(`no SQL for output ${spec.name}`);
  }
  for (const name of Object.keys(plan.outputs)) {
    if (!job.outputs.some((spec) => spec.name === name)) problems.push(`SQL for ${name}, which is not a declared output`);
  }
  const steps = new Set((plan.steps ?? []).map((step) => step.name));
  for (const [name, step] of Object.entries(plan.gateAt ?? {})) {
    if (!job.outputs.some((spec) => spec.name === name)) problems.push(`gateAt names ${name}, which is not a declared output`);
    if (step === undefined || !steps.has(step)) problems.push(`gateAt puts ${name}'s quarantine rules at step ${String(step)}, which the plan does not have`);
  }
  for (const source of new Set(Object.values(job.derivedOutputs ?? {}))) {
    if (source !== undefined && plan.gateAt?.[source] === undefined) problems.push(`${source} has outputs derived from it, so the plan must say where its rows are made (gateAt)`);
  }
  for (const name of Object.keys(plan.replacePartitions ?? {})) {
    const spec = job.outputs.find((output) => output.name === name);
    if (!spec || spec.partitionBy.length === 0) problems.push(`replacePartitions names ${name}, which is not a partitioned output`);
    else if ((plan.appendTo ?? []).includes(spec.name)) problems.push(`${name} is both appended to and replaced by partition`);
  }
  for (const name of plan.clustered ?? []) {
    if (!job.outputs.some((spec) => spec.name === name && spec.partitionBy.length > 0)) problems.push(`clustered names ${name}, which is not a partitioned output`);
  }
  if (problems.length > 0) throw new JobDefinitionError(job.name, problems.join('; '));
}
