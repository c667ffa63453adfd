import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TableRuleSet, parseTableRuleSet } from '../core/quality/index.ts';
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

// What each role may do in the lake is derived from the lake's key space in core (core/layout): the runtime
// writes by the same functions, so the grants cannot drift from what a run touches.
export {
  jobLakeAccess, jobRuleSets, landingPrefixOf, qualityStepLakeAccess, referencedTables, type LakeAccess,
} from '../core/layout/index.ts';
