import { quoteLiteral, type Lake } from '../../core/index.ts';
import type { ResultColumn, ResultRow } from '../../core/engine/index.ts';
import { ConfigError, MedallionError } from '../../core/errors.ts';
import { evaluateLakeQuality, type TableRuleSet } from '../../core/quality/index.ts';
import type { OutputFormat } from '../format-rows.ts';
import type { CliIo } from '../io.ts';
import { QUALITY_JOB } from '../../core/layout/index.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';
import { queryCommand } from './query.ts';

const RESULT_COLUMNS: readonly ResultColumn[] = [
  { name: 'table', type: 'VARCHAR' },
  { name: 'line', type: 'BIGINT' },
  { name: 'rule', type: 'VARCHAR' },
  { name: 'action', type: 'VARCHAR' },
  { name: 'outcome', type: 'VARCHAR' },
  { name: 'value', type: 'DOUBLE' },
  { name: 'threshold', type: 'VARCHAR' },
  { name: 'message', type: 'VARCHAR' },
];

/**
 * `medallion quality [tables...]`: evaluates the rule sets of the named tables (all by default) over the
 * committed lake, prints one row per rule, and records them in quality.results. Fails (exit 1) when a rule
 * whose action is `fail` did not pass, so the pipeline's quality step fails with it.
 */
export async function qualityCommand(
  lake: Lake,
  ruleSets: ReadonlyMap<string, TableRuleSet>,
  tables: readonly string[],
  options: { record: boolean; format: OutputFormat; write: (columns: readonly ResultColumn[], rows: readonly ResultRow[]) => Promise<void> },
  io: CliIo,
): Promise<void> {
  const unknown = tables.filter((table) => !ruleSets.has(table));
  if (unknown.length > 0) {
    throw new ConfigError('QUALITY_RULESET_UNKNOWN', `no rule set for ${unknown.join(', ')}`, {
      hint: `rule sets: ${[...ruleSets.keys()].sort().join(', ') || 'none'} (files <table>.dqdl in the rules folder, --rules DIR)`,
    });
  }
  const selected = tables.length > 0 ? tables.map((table) => ruleSets.get(table) as TableRuleSet) : [...ruleSets.values()];
  const check = await evaluateLakeQuality(lake, selected, { record: options.record });
  const rows = check.evaluations.map((evaluation) => ({
    table: evaluation.table,
    line: evaluation.line,
    rule: evaluation.rule,
    action: evaluation.action,
    outcome: evaluation.outcome,
    value: evaluation.value,
    threshold: evaluation.threshold,
    message: evaluation.message,
  }));
  await options.write(RESULT_COLUMNS, rows);
  const rules = check.evaluations.filter((evaluation) => evaluation.action !== 'analyze');
  const passed = rules.filter((evaluation) => evaluation.outcome === 'PASS').length;
  const skipped = check.skipped.length > 0 ? `; ${check.skipped.length} rule${check.skipped.length === 1 ? '' : 's'} over the run dataset checked only in job runs` : '';
  const recorded = options.record ? ` (recorded in quality.results, run ${check.runId})` : ' (not recorded)';
  io.err(`${passed} of ${rules.length} rules passed${skipped}${recorded}\n`);
  if (check.failures.length > 0) {
    const named = check.failures.map((failure) => `${failure.table}: ${failure.rule} (${failure.ruleset}:${failure.line}) ${failure.outcome === 'ERROR' ? 'could not be evaluated' : 'failed'}`);
    throw new MedallionError('QUALITY_CHECK_FAILED', `${check.failures.length} rule${check.failures.length === 1 ? '' : 's'} with action fail did not pass: ${named.join('; ')}`, {
      hint: 'see runbooks/quality-check-failed.md',
    });
  }
}

/** `medallion quality history [table]`: the recorded evaluations, newest first. */
export async function qualityHistoryCommand(
  lake: Lake,
  select: { readonly name?: string | undefined; readonly job?: string | undefined; readonly table?: string | undefined },
  options: { limit: number; failedOnly: boolean; format: OutputFormat },
  io: CliIo,
): Promise<void> {
  const root = await lake.state.readRoot();
  if (!root.tables['quality.results']) {
    io.err('no quality results yet: run a job with rule sets, or `medallion quality`\n');
    return;
  }
  // A name is a job (the evaluations its runs made, on any table it checks) or a table (by whichever job), or both:
  // silver.tasks is a job that checks silver.task_events too, and a table the quality step checks.
  const jobs = new Set([...PIPELINE_JOBS.map((job) => job.name), QUALITY_JOB]);
  const tables = new Set<string>(PIPELINE_TABLES.map((table) => table.name));
  const name = select.name;
  if (name !== undefined && !jobs.has(name) && !tables.has(name) && !name.startsWith('landing.')) {
    throw new ConfigError('QUALITY_OPTIONS_INVALID', `${JSON.stringify(name)} is no job and no table`, { hint: 'name a job (medallion jobs) or a table (medallion tables)' });
  }
  const byName = name === undefined ? [] : [
    ...(jobs.has(name) ? [`job = ${quoteLiteral(name)}`] : []),
    ...(tables.has(name) || name.startsWith('landing.') ? [`table_name = ${quoteLiteral(name)}`] : []),
  ];
  const filters = [
    byName.length > 0 ? `(${byName.join(' OR ')})` : '',
    select.job === undefined ? '' : `job = ${quoteLiteral(select.job)}`,
    select.table === undefined ? '' : `table_name = ${quoteLiteral(select.table)}`,
    options.failedOnly ? "outcome IN ('FAIL', 'ERROR')" : '',
  ].filter(Boolean);
  const said = [
    ...(name === undefined ? [] : [jobs.has(name) && tables.has(name) ? `by job ${name} or of table ${name}` : jobs.has(name) ? `by job ${name} (any table it checks)` : `of table ${name} (by any job)`]),
    ...(select.job === undefined ? [] : [`by job ${select.job}`]),
    ...(select.table === undefined ? [] : [`of table ${select.table}`]),
  ];
  if (said.length > 0) io.err(`evaluations ${said.join(', ')}${options.failedOnly ? ' that did not pass' : ''}, newest first\n`);
  const sql = `
    SELECT evaluated_at, job, run_id, table_name AS "table", scope, rule, action, outcome, value, threshold, rows_quarantined, message
    FROM quality.results ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
    ORDER BY evaluated_at DESC, table_name, ruleset, rule LIMIT ${options.limit}`;
  await queryCommand(lake, sql, options.format, io);
}
