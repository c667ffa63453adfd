import { describe, expect, it } from 'vitest';
import { App, Stack } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { tablePrefix } from '../../core/layout/index.ts';
import { QUALITY_RESULTS_TABLE } from '../../core/table/index.ts';
import { LAKE_FOLDERS } from '../../core/layout/index.ts';
import { jobLakeAccess, lakeLayout, locateLakePrefix, pipelineRuleSets, qualityStepLakeAccess } from '../../infra/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../jobs/quality.ts';

describe('quality rule sets in the infra', () => {
  it('reads the same rule sets, with the same rules, actions and references, as the CLI loads at run time', async () => {
    const atRunTime = await loadPipelineRuleSets();
    const atSynthesis = pipelineRuleSets();
    expect(atSynthesis.map((set) => set.table).sort()).toEqual([...atRunTime.keys()].sort());
    for (const set of atSynthesis) {
      const loaded = atRunTime.get(set.table)!;
      expect(set.references, set.table).toEqual(loaded.references);
      expect(set.source, set.table).toBe(loaded.source);
      expect(set.rules.map((rule) => [rule.line, rule.action]), set.table).toEqual(loaded.rules.map((rule) => [rule.line, rule.action]));
    }
  });

  it('grants a job the quality history and references of its own outputs\' rule sets only, and its own results folder', () => {
    const ruleSets = pipelineRuleSets();
    const silverTasks = PIPELINE_JOBS.find((job) => job.name === 'silver.tasks')!;
    const access = jobLakeAccess(silverTasks, ruleSets);
    expect(access.reads).toEqual(expect.arrayContaining(['quality/results/', 'silver/users/']));
    expect(access.writes).toEqual(expect.arrayContaining(['quality/results/silver.tasks/', 'quality/_symlink/results/job=silver.tasks/']));
    expect(access.writes.filter((prefix) => prefix.startsWith('quality/results/'))).toEqual(['quality/results/silver.tasks/']);
    expect(access.publishes).toContain(QUALITY_RESULTS_TABLE.name);

    // A job whose outputs have no rule set gets nothing of quality.results.
    const unchecked = jobLakeAccess(silverTasks, ruleSets.filter((set) => !silverTasks.outputs.some((output) => output.name === set.table)));
    expect([...unchecked.reads, ...unchecked.writes].filter((prefix) => prefix.startsWith('quality/'))).toEqual([]);
    expect(unchecked.publishes).not.toContain(QUALITY_RESULTS_TABLE.name);
  });

  it('grants the quality step its checked tables, their references and history to read, landing to list, and only its own results to write', () => {
    const access = qualityStepLakeAccess(pipelineRuleSets());
    expect([...access.lists].sort()).toEqual(['landing/tasks/', 'landing/users/']);
    expect(access.reads.some((prefix) => prefix.startsWith('landing/'))).toBe(false);
    expect(access.reads).toContain(tablePrefix(QUALITY_RESULTS_TABLE.name));
    expect([...access.writes].sort()).toEqual(['quality/_symlink/results/job=quality/', 'quality/results/quality/']);
    expect(access.publishes).toEqual([QUALITY_RESULTS_TABLE.name]);
    expect(access.catalogReads).toEqual([]);
  });
});

describe('lake layout', () => {
  it('places quality/ (quality.results) in the quarantine bucket, keeping the whole key', () => {
    const stack = new Stack(new App(), 'LayoutTest');
    const buckets = { landingBronze: new Bucket(stack, 'LandingBronze'), silver: new Bucket(stack, 'Silver'), gold: new Bucket(stack, 'Gold'), quarantine: new Bucket(stack, 'Quarantine') };
    const layout = lakeLayout(buckets);
    expect(LAKE_FOLDERS).toContain('quality');
    expect(locateLakePrefix(layout, 'quality/results/silver.tasks/')).toEqual({ bucket: buckets.quarantine, prefix: 'quality/results/silver.tasks/' });
  });
});
