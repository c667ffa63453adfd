import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.ts';
import { loadRuleSets, parseTableRuleSet, printRule } from '../../../core/quality/index.ts';
import { loadPipelineRuleSets, PIPELINE_RULES_DIR } from '../../../jobs/quality.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';
import { useTempDirs } from '../test-resources.ts';

const tempDir = useTempDirs();

function refusal(text: string, table = 'silver.items'): ConfigError {
  try {
    parseTableRuleSet(table, text, 'rules/silver.items.dqdl');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the rule set to be refused');
}

describe('parseTableRuleSet', () => {
  it('reads actions from comments on the rule line or the line before, warn by default, and reference aliases', () => {
    const set = parseTableRuleSet(
      'silver.items',
      [
        '# reference owners = silver.owners',
        'Rules = [',
        '  IsPrimaryKey "id",  # action: fail',
        '  # action: quarantine',
        '  ColumnValues "name" in ["a", "b"],',
        '  RowCount > 0,',
        '  # action: warn',
        '  (ColumnValues "id" > 0) and (IsComplete "name"),',
        '  ReferentialIntegrity "owner" "owners.id" >= 0.9  # action: fail',
        ']',
      ].join('\n'),
      'rules/silver.items.dqdl',
    );
    expect(set.rules.map((entry) => [printRule(entry.rule), entry.action, entry.line])).toEqual([
      ['IsPrimaryKey "id"', 'fail', 3],
      ['ColumnValues "name" in ["a", "b"]', 'quarantine', 5],
      ['RowCount > 0', 'warn', 6],
      ['(ColumnValues "id" > 0) and (IsComplete "name")', 'warn', 8],
      ['ReferentialIntegrity "owner" "owners.id" >= 0.9', 'fail', 9],
    ]);
    expect(set.references).toEqual({ owners: 'silver.owners' });
    expect(set).toMatchObject({ table: 'silver.items', source: 'rules/silver.items.dqdl' });
  });

  it('ignores a "#" inside a string', () => {
    const set = parseTableRuleSet('silver.items', 'Rules = [ ColumnValues "name" matches "a#b" ]', 'x.dqdl');
    expect(set.rules[0]?.action).toBe('warn');
  });

  it('refuses quarantine on a rule that cannot say which rows fail, naming file and line', () => {
    const error = refusal('Rules = [\n  RowCount > 10  # action: quarantine\n]');
    expect(error.code).toBe('QUALITY_RULESET_INVALID');
    expect(error.message).toContain('rules/silver.items.dqdl: line 2: action quarantine needs a row-level rule');
  });

  it('refuses unknown actions, stray action comments, bad references and bad table names', () => {
    expect(refusal('Rules = [\n  RowCount > 0  # action: drop\n]').message).toContain('line 2: action drop is not one of warn, quarantine, fail');
    expect(refusal('Rules = [\n  RowCount > 0\n  # action: fail\n]').message).toContain('line 3: action comment after the last rule');
    expect(refusal('# reference x = nowhere\nRules = [ RowCount > 0 ]').message).toContain('reference x names nowhere');
    expect(refusal('Rules = [ RowCount > 0 ]', 'items').message).toContain('"items" is not a table');
  });

  it('reports DQDL syntax errors with the file, line and column', () => {
    const error = refusal('Rules = [\n  RowCount > 0\n  IsComplete "id"\n]');
    expect(error.code).toBe('DQDL_SYNTAX');
    expect(error.message).toMatch(/^rules\/silver\.items\.dqdl:3:3: expected "," or "\]"/);
  });
});

describe('loadRuleSets', () => {
  it('loads every <table>.dqdl of a folder by table, and a missing folder as none', async () => {
    const dir = await tempDir('rules');
    await mkdir(path.join(dir, 'rules'));
    await writeFile(path.join(dir, 'rules', 'silver.items.dqdl'), 'Rules = [ RowCount > 0 ]');
    await writeFile(path.join(dir, 'rules', 'landing.items.dqdl'), 'Rules = [ DataFreshness "last_modified" <= 24 hours with threshold > 0 ]');
    await writeFile(path.join(dir, 'rules', 'notes.txt'), 'not a rule set');
    const sets = await loadRuleSets(path.join(dir, 'rules'), { displayRoot: dir });
    expect([...sets.keys()]).toEqual(['landing.items', 'silver.items']);
    expect(sets.get('silver.items')?.source).toBe('rules/silver.items.dqdl');
    expect(await loadRuleSets(path.join(dir, 'none'))).toEqual(new Map());
  });

  it('the pipeline rule sets load, name only tables the pipeline writes or landing sources it reads, and cover every shipped table', async () => {
    const sets = await loadPipelineRuleSets();
    const known = [...PIPELINE_TABLES.map((table) => table.name), 'landing.tasks', 'landing.users'];
    expect(known).toEqual(expect.arrayContaining([...sets.keys()]));
    // Every table the reference pipeline ships with has its rules (a job added later may bring its own).
    expect([...sets.keys()]).toEqual(expect.arrayContaining([
      'landing.tasks', 'landing.users', 'bronze.tasks_cdc', 'bronze.users_cdc', 'silver.task_events', 'silver.tasks', 'silver.tasks_history',
      'silver.user_events', 'silver.users', 'silver.users_history', 'gold.daily_task_kpis', 'gold.active_users', 'gold.user_kpis',
    ]));
    expect(sets.get('silver.tasks')?.source).toBe('quality/rules/silver.tasks.dqdl');
    // Every current-state table has its key checked with action fail.
    for (const [table, key] of [['silver.tasks', 'IsPrimaryKey "user_id" "task_id"'], ['silver.users', 'IsPrimaryKey "user_id"'], ['gold.user_kpis', 'IsPrimaryKey "user_id"']] as const) {
      expect(sets.get(table)?.rules.find((entry) => printRule(entry.rule) === key)?.action, table).toBe('fail');
    }
  });

  it('the pipeline loader refuses a rule set for a table that does not exist', async () => {
    const dir = await tempDir('rules');
    await writeFile(path.join(dir, 'silver.nothing.dqdl'), 'Rules = [ RowCount > 0 ]');
    await expect(loadPipelineRuleSets(dir)).rejects.toThrow(/silver\.nothing\.dqdl: no table or landing source silver\.nothing/);
    expect(PIPELINE_RULES_DIR.endsWith(`quality${path.sep}rules${path.sep}`)).toBe(true);
    // A mistyped folder is refused, not read as "no rules" (which would switch every gate off).
    await expect(loadPipelineRuleSets(path.join(dir, 'typo'))).rejects.toThrow(/QUALITY_RULES_MISSING|no rule set folder .*typo/);
  });
});
