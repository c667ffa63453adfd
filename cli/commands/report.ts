import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Command } from 'commander';
import type { Lake } from '../../core/index.ts';
import { ConfigError } from '../../core/errors.ts';
import { REPORT_SUMMARY_KEY, reportKey } from '../../core/layout/index.ts';
import { renderReport, reportData, reportSubject, reportSummary, type ReportSummaryObject } from '../../core/monitoring/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { daysBefore, isCalendarDate } from '../dates.ts';
import type { CliIo } from '../io.ts';


/** Chart.js's browser build, inlined into the report so that opening it fetches nothing. */
async function chartJsSource(): Promise<string> {
  // The package exports no path to its UMD build: found next to the main entry, in the same dist folder.
  const main = createRequire(import.meta.url).resolve('chart.js');
  return readFile(path.join(path.dirname(main), 'chart.umd.min.js'), 'utf8');
}

/** Registers `medallion report [--from DATE] [--to DATE] [--out FILE]`. */
export function addReportCommand(program: Command, io: CliIo, lake: () => Lake, ruleSets: () => Promise<ReadonlyMap<string, TableRuleSet>>, env: NodeJS.ProcessEnv): void {
  program
    .command('report')
    .description(
      'A self-contained HTML operations report for a date range (default: the last 14 days): runs per day by state, durations against '
        + 'baselines, records read, written and quarantined, quarantine by reason, quality pass rate and failed rules, freshness, the gold KPIs, '
        + 'and the open problems with their runbooks. Written to the lake under reports/ with its summary in reports/latest-summary.json (or to --out FILE); the summary goes to stdout.',
    )
    .option('--from <date>', 'first UTC day, YYYY-MM-DD (default: 13 days before --to)')
    .option('--to <date>', 'last UTC day, YYYY-MM-DD (default: today)')
    .option('--out <file>', 'write the HTML to this file instead of the lake')
    .option('--runbook-base-url <url>', 'where runbooks/ is browsable, for the links (default: $MEDALLION_RUNBOOK_BASE_URL, else relative links)')
    .action(async (flags: { from?: string; to?: string; out?: string; runbookBaseUrl?: string }) => {
      const to = flags.to ?? new Date().toISOString().slice(0, 10);
      if (!isCalendarDate(to)) throw new ConfigError('REPORT_RANGE_INVALID', `--to ${JSON.stringify(to)} is not a date (YYYY-MM-DD)`);
      const from = flags.from ?? daysBefore(13, to);
      if (!isCalendarDate(from)) throw new ConfigError('REPORT_RANGE_INVALID', `--from ${JSON.stringify(from)} is not a date (YYYY-MM-DD)`);
      if (from > to) throw new ConfigError('REPORT_RANGE_INVALID', `--from ${from} is after --to ${to}`);
      if (Date.parse(to) - Date.parse(from) > 366 * 86_400_000) throw new ConfigError('REPORT_RANGE_INVALID', `${from} to ${to} is more than a year`, { hint: 'report a year at most' });
      const opened = lake();
      const data = await reportData(opened, PIPELINE_JOBS, { from, to, ruleSets: [...(await ruleSets()).values()] });
      const runbookBaseUrl = flags.runbookBaseUrl ?? env.MEDALLION_RUNBOOK_BASE_URL;
      const html = renderReport(data, await chartJsSource(), runbookBaseUrl ? { runbookBaseUrl } : {});
      let summary: string;
      if (flags.out) {
        await writeFile(flags.out, html);
        summary = reportSummary(data, flags.out);
        io.err(`wrote the report for ${from} to ${to}: ${flags.out}\n`);
      } else {
        const key = reportKey(to);
        await opened.storage.put(key, html);
        const where = opened.storage.uriOf(key);
        summary = reportSummary(data, where);
        // The summary beside it, for whoever sends it on (the AWS pipeline's last step publishes it to the warning topic).
        const latest: ReportSummaryObject = { subject: reportSubject(data), message: summary, report: where, from, to };
        await opened.storage.put(REPORT_SUMMARY_KEY, `${JSON.stringify(latest, null, 2)}\n`);
        io.err(`wrote the report for ${from} to ${to}: ${where} (summary: ${REPORT_SUMMARY_KEY})\n`);
      }
      await io.out(summary);
    });
}
