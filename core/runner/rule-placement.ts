import { ConfigError } from '../errors.ts';
import type { Job } from '../job/index.ts';
import type { TableRuleSet } from '../quality/index.ts';

/**
 * Refuses quarantine rules that would make a job's tables disagree: a `quarantine` rule on an output other
 * outputs of the job derive from is applied where its rows are made (JobPlan.gateAt), so the rows it sets
 * aside are out of all of them; on a derived output (current state, history) it would take a row out of
 * that table alone, so it is refused before any job runs, naming the rule and where it belongs.
 */
export function checkRulePlacement(jobs: readonly Job[], ruleSets: ReadonlyMap<string, TableRuleSet> | undefined): void {
  if (!ruleSets) return;
  const problems: string[] = [];
  for (const job of jobs) {
    for (const [derived, source] of Object.entries(job.derivedOutputs ?? {})) {
      const set = ruleSets.get(derived);
      for (const rule of set?.rules.filter((entry) => entry.action === 'quarantine') ?? []) {
        problems.push(
          `${set?.source}:${rule.line}: a quarantine rule on ${derived}, which job ${job.name} derives from ${source}: it would take rows out of ${derived} ` +
            `and leave them in ${source}. Put it in ${source}'s rule set (it then applies to every table the job writes), or make it warn or fail`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new ConfigError('QUALITY_RULE_MISPLACED', problems.join('; '), { hint: 'see docs/quality.md, "Quarantine rules and derived tables"' });
  }
}
