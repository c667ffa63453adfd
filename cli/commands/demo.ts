import { MedallionError } from '../../core/errors.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';
import type { Lake } from '../../core/index.ts';
import { attachTables } from '../../core/catalog/index.ts';
import type { QualityEvaluation, TableRuleSet } from '../../core/quality/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding, type GenerateOptions, type GenerateSummary } from '../../simulator/index.ts';
import { renderTable } from '../format-rows.ts';
import type { CliIo } from '../io.ts';
import { describeRun, selectJobs } from './run.ts';
import { listTables } from './tables.ts';

/** Simulates a week of Todo API traffic, runs every job, and shows what each layer now holds. */
export async function demoCommand(lake: Lake, options: GenerateOptions, io: CliIo, lakeOption?: string, quality?: ReadonlyMap<string, TableRuleSet>, stop?: AbortSignal): Promise<void> {
  const started = Date.now();
  let landed = false;
  for await (const _object of lake.storage.list('landing/')) {
    landed = true;
    break;
  }
  if (landed) {
    io.err(`The lake at ${lake.storage.location} already holds landing data; running the pipeline on what is new.\n\nRunning the pipeline:\n`);
  } else {
    io.err(`Generating ${options.days} days of Todo API change data from ${options.start} (seed ${options.seed}) into ${lake.storage.location}\n`);
    // A stop (Ctrl-C) ends the generation after the day under way; what was written stays, as generate leaves it.
    const summary = await generateLanding(lake.storage, options, {
      onDay: (day, days) => {
        if (stop?.aborted) throw new MedallionError('STOPPED', `stopped (${String(stop.reason)}) after generating ${day} of ${days} days; no job ran`, { hint: 'run `medallion demo` again (it runs on what landed), or `medallion run --all`' });
      },
    });
    io.err(`${summaryLine(summary)}\n\nRunning the pipeline:\n`);
  }
  // Bookmarks on, as a nightly schedule would run it: a second demo processes only what is new.
  const evaluations: QualityEvaluation[] = [];
  await runJobs(lake, selectJobs([], true, PIPELINE_JOBS), {
    settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }),
    ...(quality ? { quality } : {}),
    ...(stop ? { stop } : {}),
    onResult: (result) => {
      io.err(`  ${describeRun(result)}\n`);
      evaluations.push(...(result.quality ?? []));
    },
  });
  if (evaluations.length > 0) io.err(`\n${qualitySummary(evaluations)}`);

  const tables = await listTables(lake);
  await io.out('\nRows per table\n');
  await io.out(
    renderTable(
      [{ name: 'table', type: 'VARCHAR' }, { name: 'rows', type: 'BIGINT' }, { name: 'partitions', type: 'BIGINT' }, { name: 'files', type: 'BIGINT' }],
      tables, io.width
    ),
  );
  const engine = await lake.createEngine();
  const attached = await attachTables(engine, lake.storage, lake.state, await lake.state.readRoot(), { declared: PIPELINE_TABLES });
  try {
    const quarantine = await engine.query(
      'SELECT job, reason_code, count(*) AS records FROM quarantine.records GROUP BY ALL ORDER BY job, records DESC, reason_code',
    );
    await io.out('\nQuarantined records\n');
    await io.out(renderTable(quarantine.columns, quarantine.rows, io.width));
    const kpis = await engine.query('SELECT * FROM gold.daily_task_kpis ORDER BY dt');
    await io.out('\ngold.daily_task_kpis\n');
    await io.out(renderTable(kpis.columns, kpis.rows.map((row) => ({ ...row, median_hours_to_complete: roundHours(row.median_hours_to_complete ?? null) })), io.width));
  } finally {
    await attached.release();
    engine.close();
  }
  io.err(
    `\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Try: npx medallion${lakeOption === undefined ? '' : ` --lake ${JSON.stringify(lakeOption)}`} query "SELECT status, count(*) FROM silver.tasks GROUP BY ALL"\n`,
  );
}

function roundHours(value: unknown): number | null {
  return typeof value === 'number' ? Math.round(value * 100) / 100 : null;
}

function summaryLine(summary: GenerateSummary): string {
  const records = Object.entries(summary.recordsPerSource).map(([source, count]) => `${count} ${source}`).join(', ');
  const malformed = Object.values(summary.faults.malformed).reduce((sum, count) => sum + count, 0);
  return (
    `Wrote ${summary.objectsWritten} Firehose objects holding ${records} records, with the faults real pipelines see: ` +
    `${summary.faults.duplicates} duplicate deliveries, ${summary.faults.outOfOrder} out-of-order events, ` +
    `${summary.faults.lateObjects} late objects, ${malformed} malformed records.`
  );
}

/** One line per rule that did not pass, after a count: what an operator would look at first. */
export function qualitySummary(evaluations: readonly QualityEvaluation[]): string {
  const rules = evaluations.filter((evaluation) => evaluation.action !== 'analyze');
  const failing = rules.filter((evaluation) => evaluation.outcome !== 'PASS');
  const lines = [`Quality: ${rules.length - failing.length} of ${rules.length} rule evaluations passed (medallion quality history for all of them)\n`];
  for (const evaluation of failing) {
    const measured = evaluation.value === null ? '' : ` (${Number(evaluation.value.toPrecision(4))}${evaluation.threshold ? `, needs ${evaluation.threshold}` : ''})`;
    const why = evaluation.outcome === 'ERROR' ? `: ${evaluation.message}` : '';
    lines.push(`  ${evaluation.outcome} [${evaluation.action}] ${evaluation.table}: ${evaluation.rule}${measured}${why}\n`);
  }
  return lines.join('');
}
