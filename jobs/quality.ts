import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { PACKAGE_ROOT } from '../core/package-root.ts';
import { loadRuleSets, type TableRuleSet } from '../core/quality/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from './index.ts';

/** The reference pipeline's rule sets: `quality/rules/<table>.dqdl` in the repository. */
export const PIPELINE_RULES_DIR = path.join(PACKAGE_ROOT, 'quality', 'rules') + path.sep;

/** The landing sources the pipeline reads (`landing.tasks` for landing/tasks/). */
export function landingSourceNames(): string[] {
  return [...new Set(PIPELINE_JOBS.flatMap((job) => Object.values(job.sources).flatMap((source) => (source.kind === 'landing' ? [`landing.${source.prefix.split('/')[1]}`] : []))))];
}

/**
 * Loads rule sets (the pipeline's by default) and checks that each names a table the pipeline writes or a
 * landing source it reads, and that every reference alias names a table: a typo fails here, not at 3 a.m.
 */
export async function loadPipelineRuleSets(folder: string = PIPELINE_RULES_DIR): Promise<Map<string, TableRuleSet>> {
  // A mistyped --rules must not switch the quality gates off without a word.
  if (!existsSync(folder)) {
    throw new ConfigError('QUALITY_RULES_MISSING', `no rule set folder ${folder}`, { hint: 'pass --rules DIR (or MEDALLION_QUALITY_RULES) naming a folder of <table>.dqdl files' });
  }
  const sets = await loadRuleSets(folder, { displayRoot: folder === PIPELINE_RULES_DIR ? PACKAGE_ROOT : process.cwd() });
  const known = new Set<string>([...PIPELINE_TABLES.map((table) => table.name), ...landingSourceNames()]);
  const problems: string[] = [];
  for (const set of sets.values()) {
    if (!known.has(set.table)) problems.push(`${set.source}: no table or landing source ${set.table}`);
    for (const [alias, table] of Object.entries(set.references)) {
      if (!known.has(table)) problems.push(`${set.source}: reference ${alias} names unknown table ${table}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError('QUALITY_RULESET_INVALID', problems.join('; '), { hint: `tables: ${[...known].sort().join(', ')}` });
  }
  return sets;
}
