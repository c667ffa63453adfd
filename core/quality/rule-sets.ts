import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { LAYERS } from '../table/index.ts';
import { parseDqdl, DqdlSyntaxError, type Rule, type Ruleset } from './dqdl/index.ts';
import { isRowLevel } from './evaluator/index.ts';

/**
 * What a failing rule does, as Delta Live Tables expectations do: `warn` records it and goes on
 * (expect), `quarantine` sets the failing rows aside in quarantine.records and commits the rest
 * (expect_or_drop, but nothing is dropped), `fail` fails the run, which commits nothing (expect_or_fail).
 */
export const QUALITY_ACTIONS = ['warn', 'quarantine', 'fail'] as const;
export type QualityAction = (typeof QUALITY_ACTIONS)[number];

export interface QualityRule {
  readonly rule: Rule;
  readonly action: QualityAction;
  /** 1-based line of the rule in its file. */
  readonly line: number;
}

/** The rules of one table (or landing source, `landing.<source>`), from one `.dqdl` file. */
export interface TableRuleSet {
  /** `silver.tasks`, or `landing.tasks` for the objects under landing/tasks/. */
  readonly table: string;
  /** The file, as messages and quality.results name it (`quality/rules/silver.tasks.dqdl`). */
  readonly source: string;
  readonly ruleset: Ruleset;
  readonly rules: readonly QualityRule[];
  /** Reference dataset aliases (RowCountMatch, ReferentialIntegrity, CustomSql) and the tables they name. */
  readonly references: Readonly<Record<string, string>>;
}

const TARGET = new RegExp(`^(landing|${LAYERS.join('|')})\\.[a-z][a-z0-9_]*$`);
const ACTION_DIRECTIVE = /^action\s*:\s*(\S+)\s*$/i;
const REFERENCE_DIRECTIVE = /^reference\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*$/i;

/**
 * Reads a rule set: plain DQDL, so the file moves to and from Glue Data Quality unchanged, with the
 * actions and reference datasets Glue keeps outside the ruleset written as comments Glue ignores:
 *
 * ```
 * # reference users = silver.users
 * Rules = [
 *   IsPrimaryKey "task_id"                                   # action: fail
 *   # action: quarantine
 *   ColumnValues "status" in ["todo", "in_progress", "done"]
 *   ReferentialIntegrity "user_id" "users.user_id" >= 0.99   # (no directive: warn)
 * ]
 * ```
 *
 * A `# action:` comment on a rule's own line applies to that rule; on a line of its own, to the next rule.
 * `quarantine` needs a row-level rule (one that says which rows fail). Every problem is reported with the
 * file and line.
 */
export function parseTableRuleSet(table: string, text: string, source: string): TableRuleSet {
  if (!TARGET.test(table)) {
    throw new ConfigError('QUALITY_RULESET_INVALID', `${source}: ${JSON.stringify(table)} is not a table (layer.table) or landing source (landing.<source>)`, {
      hint: 'name rule set files <layer>.<table>.dqdl, e.g. silver.tasks.dqdl',
    });
  }
  let ruleset: Ruleset;
  try {
    ruleset = parseDqdl(text);
  } catch (error) {
    if (error instanceof DqdlSyntaxError) {
      throw new ConfigError('DQDL_SYNTAX', `${source}:${error.line}:${error.column}: ${error.expected}`, { hint: error.hint ?? '', cause: error });
    }
    throw error;
  }
  const problems: string[] = [];
  const references: Record<string, string> = {};
  const ownLine = new Map<number, QualityAction>();
  const pending: { line: number; action: QualityAction }[] = [];
  text.split(/\r?\n/).forEach((lineText, index) => {
    const line = index + 1;
    const comment = commentOf(lineText);
    if (comment === undefined) return;
    const directive = comment.text.trim();
    const reference = REFERENCE_DIRECTIVE.exec(directive);
    if (reference) {
      const [, alias, target] = reference as unknown as [string, string, string];
      if (!TARGET.test(target) || target.startsWith('landing.')) problems.push(`line ${line}: reference ${alias} names ${target}, which is not a table (layer.table)`);
      else references[alias] = target;
      return;
    }
    const action = ACTION_DIRECTIVE.exec(directive);
    if (!action) return;
    const name = (action[1] ?? '').toLowerCase();
    if (!(QUALITY_ACTIONS as readonly string[]).includes(name)) {
      problems.push(`line ${line}: action ${action[1]} is not one of ${QUALITY_ACTIONS.join(', ')}`);
      return;
    }
    if (comment.afterCode) ownLine.set(line, name as QualityAction);
    else pending.push({ line, action: name as QualityAction });
  });

  const rules: QualityRule[] = [];
  let previousLine = 0;
  for (const rule of ruleset.rules) {
    const line = rule.position.line;
    const before = pending.filter((directive) => directive.line > previousLine && directive.line < line);
    const action = ownLine.get(line) ?? before.at(-1)?.action ?? 'warn';
    if (before.length > 1) problems.push(`line ${line}: ${before.length} action comments before one rule`);
    if (action === 'quarantine' && !isRowLevel(rule)) {
      problems.push(`line ${line}: action quarantine needs a row-level rule (ColumnValues, ColumnLength, IsComplete, Completeness, DataFreshness, ColumnDataType, or and/or of them)`);
    }
    rules.push({ rule, action, line });
    previousLine = line;
  }
  const stray = pending.filter((directive) => directive.line > previousLine);
  for (const directive of stray) problems.push(`line ${directive.line}: action comment after the last rule`);
  if (problems.length > 0) {
    throw new ConfigError('QUALITY_RULESET_INVALID', `${source}: ${problems.join('; ')}`, {
      hint: 'actions are `# action: warn|quarantine|fail` comments; references are `# reference <alias> = <layer.table>`',
    });
  }
  return { table, source, ruleset, rules, references };
}

/** The `# ...` comment of a line (outside strings), and whether code comes before it. */
function commentOf(line: string): { text: string; afterCode: boolean } | undefined {
  let quoted = false;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index];
    if (quoted && char === '\\') index += 1;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === '#') return { text: line.slice(index + 1), afterCode: line.slice(0, index).trim().length > 0 };
  }
  return undefined;
}

/**
 * Every `<table>.dqdl` file of a folder, by table. A missing folder is no rule sets; a broken file fails
 * the load with its name and line.
 */
export async function loadRuleSets(folder: string, options: { displayRoot?: string } = {}): Promise<Map<string, TableRuleSet>> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.dqdl')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const sets = new Map<string, TableRuleSet>();
  for (const name of names) {
    const file = path.join(folder, name);
    const shown = options.displayRoot ? path.relative(options.displayRoot, file).split(path.sep).join('/') : file;
    const set = parseTableRuleSet(name.slice(0, -'.dqdl'.length), await readFile(file, 'utf8'), shown);
    sets.set(set.table, set);
  }
  return sets;
}
