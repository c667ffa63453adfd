import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Job, QUALITY_RESULTS_TABLE, type TableName, type TableRuleSet, parseTableRuleSet, tablePrefix } from '../core/index.ts';
import { PIPELINE_RULES_DIR } from '../jobs/quality.ts';

/**
 * The rule sets in a folder (`<table>.dqdl`), read synchronously because constructs are built
 * synchronously; the same files, parsed by the same function, as `loadPipelineRuleSets` (jobs/quality.ts)
 * reads at run time (a test keeps the two equal). The image carries the folder (`quality/rules/`), so
 * what the roles are granted here is what the jobs and the quality step read.
 *
 * @example
 * pipelineRuleSets().map((set) => set.table); // ['bronze.tasks_cdc', ..., 'landing.tasks', ...]
 */
export function pipelineRuleSets(folder: string = PIPELINE_RULES_DIR): readonly TableRuleSet[] {
  const names = readdirSync(folder).filter((name) => name.endsWith('.dqdl')).sort();
  // Named as the CLI names them in messages and quality.results (relative to the repository for the pipeline's own).
  const shown = (name: string) => (folder === PIPELINE_RULES_DIR ? `quality/rules/${name}` : join(folder, name));
  return names.map((name) => parseTableRuleSet(name.slice(0, -'.dqdl'.length), readFileSync(join(folder, name), 'utf8'), shown(name)));
}

/** What a role may do in the lake: lake key prefixes (ending in '/') and Glue tables. */
export interface LakeAccess {
  /** Prefixes whose objects it reads (and lists). */
  readonly reads: readonly string[];
  /** Prefixes it only lists, never reads an object of (landing freshness is a listing). */
  readonly lists: readonly string[];
  /** Prefixes it writes, overwrites and deletes under (and reads back). */
  readonly writes: readonly string[];
  /** Glue tables whose partitions it publishes. */
  readonly publishes: readonly TableName[];
  /** Glue tables whose catalog entries it reads. */
  readonly catalogReads: readonly TableName[];
}

/** Where a run of `job` (or the quality step, job `quality`) stages and keeps its quality.results rows. */
export const qualityResultsPrefix = (jobName: string): string => `${tablePrefix(QUALITY_RESULTS_TABLE.name)}${jobName}/`;

/** The landing source a `landing.<source>` rule set checks, as a lake prefix (`landing/tasks/`). */
export const landingPrefixOf = (ruleSetTable: string): string => `landing/${ruleSetTable.slice('landing.'.length)}/`;

/** The rule sets of a job's outputs: the job's quality gate applies exactly these. */
export function jobRuleSets(job: Job, ruleSets: readonly TableRuleSet[]): TableRuleSet[] {
  return ruleSets.filter((set) => job.outputs.some((output) => output.name === set.table));
}

/** The tables a set of rule sets compares against (`# reference users = silver.users`). */
export const referencedTables = (ruleSets: readonly TableRuleSet[]): TableName[] =>
  [...new Set(ruleSets.flatMap((set) => Object.values(set.references)))] as TableName[];
