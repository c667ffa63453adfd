import { attachTables } from '../catalog/index.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { TableRuleSet } from '../quality/index.ts';
import { readRunRecords, runDurationMs, TERMINAL_STATES } from '../runner/job-run-record.ts';
import { jobDurationBaseline } from '../runner/run-metrics.ts';
import { configuredBaselineOf, lakeStatus, type LakeStatus } from './lake-status.ts';

/** What the operations report shows, for the days `from` to `to` (UTC, inclusive). */
export interface ReportData {
  readonly from: string;
  readonly to: string;
  readonly generatedAt: string;
  readonly lake: string;
  readonly days: readonly string[];
  readonly status: LakeStatus;
  /** Every run that ended in the range: its job, state, duration and baseline. */
  readonly runs: readonly { job: string; runId: string; startedAt: string; state: string; durationMs: number; baselineMs: number; read: number | null; written: number | null; quarantined: number | null }[];
  readonly recordsByDay: readonly { day: string; read: number; written: number; quarantined: number }[];
  readonly quarantineByReason: readonly { day: string; reason: string; records: number }[];
  readonly qualityByDay: readonly { day: string; evaluated: number; passed: number }[];
  readonly failedRules: readonly { day: string; job: string; table: string; rule: string; action: string; outcome: string; times: number }[];
  /** gold.daily_task_kpis and gold.active_users for the range, or their latest days when the range has none. */
  readonly kpis: { readonly days: readonly string[]; readonly inRange: boolean; readonly series: Readonly<Record<string, readonly (number | null)[]>> };
}

const DAY = 86_400_000;

/** The days from `from` to `to`, inclusive. */
function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`); at += DAY) days.push(new Date(at).toISOString().slice(0, 10));
  return days;
}

/**
 * Gathers the report's figures from what the lake records: run records (state, duration, records), the
 * quarantine and quality.results tables, the gold KPI tables, and `lakeStatus` for the open problems.
 */
export async function reportData(
  lake: Lake,
  jobs: readonly Job[],
  options: { readonly from: string; readonly to: string; readonly ruleSets?: readonly TableRuleSet[]; readonly now?: Date },
): Promise<ReportData> {
  const now = options.now ?? new Date();
  const days = daysBetween(options.from, options.to);
  const inRange = (iso: string) => {
    const day = iso.slice(0, 10);
    return day >= options.from && day <= options.to;
  };
  const runs: ReportData['runs'][number][] = [];
  for (const job of jobs) {
    const { records } = await readRunRecords(lake.state, job.name);
    for (const record of records) {
      if (!TERMINAL_STATES.has(record.JobRunState) || !record.CompletedOn || !inRange(record.StartedOn)) continue;
      const metrics = record.Metrics ?? {};
      runs.push({
        job: job.name,
        runId: record.Id,
        startedAt: record.StartedOn,
        state: record.JobRunState,
        durationMs: runDurationMs({ ...record, CompletedOn: record.CompletedOn }),
        baselineMs: jobDurationBaseline(records, { excludeRunId: record.Id, before: record.StartedOn, ...(configuredBaselineOf(record) === undefined ? {} : { configuredMinutes: configuredBaselineOf(record)! }) }).baselineMs,
        read: metrics['glue.driver.aggregate.recordsRead'] ?? null,
        written: metrics['medallion.job.recordsWritten'] ?? null,
        quarantined: metrics['medallion.job.recordsQuarantined'] ?? null,
      });
    }
  }
  runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const recordsByDay = days.map((day) => {
    const of = runs.filter((run) => run.startedAt.startsWith(day));
    const sum = (pick: (run: (typeof runs)[number]) => number | null) => of.reduce((total, run) => total + (pick(run) ?? 0), 0);
    // Bronze reads are the landing records; every job's writes and quarantine count.
    return { day, read: sum((run) => (run.job.startsWith('bronze.') ? run.read : 0)), written: sum((run) => run.written), quarantined: sum((run) => run.quarantined) };
  });

  const root = await lake.state.readRoot();
  // The open problems first, with an engine of their own, before this one opens.
  const status = await lakeStatus(lake, jobs, { ...(options.ruleSets ? { ruleSets: options.ruleSets } : {}), now });
  const engine = await lake.createEngine();
  let attached: Awaited<ReturnType<typeof attachTables>> | undefined;
  const between = (column: string) => `CAST(${column} AS DATE) BETWEEN DATE '${options.from}' AND DATE '${options.to}'`;
  const rows = async (table: string, sql: string) => (attached?.tables.has(table as never) ? [...(await engine.query(sql)).rows] : []);
  try {
    attached = await attachTables(engine, lake.storage, lake.state, root);
    const quarantineByReason = (await rows('quarantine.records', `
      SELECT strftime(quarantined_at, '%Y-%m-%d') AS day, reason_code AS reason, count(*)::BIGINT AS records
      FROM quarantine.records WHERE ${between('quarantined_at')} GROUP BY ALL ORDER BY ALL`))
      .map((row) => ({ day: String(row.day), reason: String(row.reason), records: Number(row.records) }));
    const qualityByDay = (await rows('quality.results', `
      SELECT strftime(evaluated_at, '%Y-%m-%d') AS day, count(*)::BIGINT AS evaluated, count(*) FILTER (WHERE outcome = 'PASS')::BIGINT AS passed
      FROM quality.results WHERE action <> 'analyze' AND ${between('evaluated_at')} GROUP BY ALL ORDER BY ALL`))
      .map((row) => ({ day: String(row.day), evaluated: Number(row.evaluated), passed: Number(row.passed) }));
    const failedRules = (await rows('quality.results', `
      SELECT strftime(evaluated_at, '%Y-%m-%d') AS day, job, table_name, rule, action, outcome, count(*)::BIGINT AS times
      FROM quality.results WHERE action <> 'analyze' AND outcome IN ('FAIL', 'ERROR') AND ${between('evaluated_at')} GROUP BY ALL ORDER BY day DESC, table_name, rule LIMIT 200`))
      .map((row) => ({ day: String(row.day), job: String(row.job), table: String(row.table_name), rule: String(row.rule), action: String(row.action), outcome: String(row.outcome), times: Number(row.times) }));

    // The KPIs of the range; a lake whose data is older (a sample) shows its latest days instead, saying so.
    const kpiDays = async (where: string) => (await rows('gold.daily_task_kpis', `SELECT strftime(dt, '%Y-%m-%d') AS day FROM gold.daily_task_kpis ${where} ORDER BY dt DESC LIMIT ${days.length}`)).map((row) => String(row.day)).reverse();
    let kpiRange = await kpiDays(`WHERE ${between('dt')}`);
    const kpisInRange = kpiRange.length > 0;
    if (!kpisInRange) kpiRange = await kpiDays('');
    const series: Record<string, (number | null)[]> = {};
    if (kpiRange.length > 0) {
      const list = kpiRange.map((day) => `DATE '${day}'`).join(', ');
      const daily = new Map((await rows('gold.daily_task_kpis', `SELECT strftime(dt, '%Y-%m-%d') AS day, tasks_created, tasks_completed, open_tasks_eod, overdue_tasks_eod FROM gold.daily_task_kpis WHERE dt IN (${list})`)).map((row) => [String(row.day), row]));
      const active = new Map((await rows('gold.active_users', `SELECT strftime(dt, '%Y-%m-%d') AS day, dau, wau, mau FROM gold.active_users WHERE dt IN (${list})`)).map((row) => [String(row.day), row]));
      for (const name of ['tasks_created', 'tasks_completed', 'open_tasks_eod', 'overdue_tasks_eod']) series[name] = kpiRange.map((day) => (daily.get(day)?.[name] === undefined ? null : Number(daily.get(day)![name])));
      for (const name of ['dau', 'wau', 'mau']) series[name] = kpiRange.map((day) => (active.get(day)?.[name] === undefined ? null : Number(active.get(day)![name])));
    }
    return {
      from: options.from, to: options.to, generatedAt: now.toISOString(), lake: lake.storage.location, days, status, runs, recordsByDay,
      quarantineByReason, qualityByDay, failedRules, kpis: { days: kpiRange, inRange: kpisInRange, series },
    };
  } finally {
    await attached?.release();
    engine.close();
  }
}

/** `reports/latest-summary.json`: the last report's subject and summary, and where the report is. */
export interface ReportSummaryObject {
  /** At most 100 characters, one line (an SNS subject, an e-mail subject). */
  readonly subject: string;
  readonly message: string;
  readonly report: string;
  readonly from: string;
  readonly to: string;
}

/**
 * The summary's subject line (an e-mail subject: one line, at most 100 characters): the day, the verdict and the
 * day's runs. `medallion 2026-12-03: CRITICAL, 9 runs, 1 failed`.
 */
export function reportSubject(data: ReportData): string {
  const ofDay = data.runs.filter((run) => run.startedAt.startsWith(data.to));
  const failed = ofDay.filter((run) => run.state !== 'SUCCEEDED').length;
  const verdict = data.status.health === 'ok' ? 'healthy' : data.status.health.toUpperCase();
  return `medallion ${data.to}: ${verdict}, ${ofDay.length} runs, ${failed} failed`.slice(0, 100);
}

/** A few lines for a chat message or an e-mail: the runs, the counts, the failures, the open problems. */
export function reportSummary(data: ReportData, link?: string): string {
  const lastDay = data.to;
  const ofDay = data.runs.filter((run) => run.startedAt.startsWith(lastDay));
  const byState = new Map<string, number>();
  for (const run of ofDay) byState.set(run.state, (byState.get(run.state) ?? 0) + 1);
  const records = data.recordsByDay.find((entry) => entry.day === lastDay);
  const critical = data.status.problems.filter((problem) => problem.severity === 'critical');
  const lines = [
    `medallion ${data.lake}, ${lastDay}: ${data.status.health === 'ok' ? 'healthy' : data.status.health.toUpperCase()}`,
    `runs: ${ofDay.length === 0 ? 'none' : [...byState].map(([state, count]) => `${count} ${state}`).join(', ')}`,
    `records: ${records?.read ?? 0} read from landing, ${records?.written ?? 0} written, ${records?.quarantined ?? 0} quarantined`,
    `problems: ${critical.length} critical, ${data.status.problems.length - critical.length} warning`,
    ...data.status.problems.slice(0, 5).map((problem) => `- ${problem.severity.toUpperCase()} ${problem.subject}: ${problem.message} (${problem.next})`),
    ...(link ? [`report: ${link}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/**
 * The report as one HTML file with everything inside it (Chart.js and the data inlined: nothing is fetched when it
 * is opened): the open problems with their runbooks, then charts of runs by state, durations against baselines,
 * records per day, quarantine by reason, quality pass rate and failed rules, freshness, and the gold KPIs.
 */
export function renderReport(data: ReportData, chartJs: string, options: { readonly runbookBaseUrl?: string } = {}): string {
  const link = (next: string) => (next.startsWith('runbooks/') ? `<a href="${escapeHtml(options.runbookBaseUrl ? `${options.runbookBaseUrl}/${next}` : next)}">${escapeHtml(next)}</a>` : `<code>${escapeHtml(next)}</code>`);
  const problems = data.status.problems.length === 0
    ? '<p class="ok">No open problem.</p>'
    : `<table><tr><th>severity</th><th>subject</th><th>what</th><th>open</th></tr>${data.status.problems.map((problem) => `<tr class="${problem.severity}"><td>${problem.severity}</td><td>${escapeHtml(problem.subject)}</td><td>${escapeHtml(problem.message)}</td><td>${link(problem.next)}</td></tr>`).join('')}</table>`;
  const freshness = data.status.freshness.length === 0
    ? '<p>No freshness evaluation yet (run <code>medallion quality</code>).</p>'
    : `<table><tr><th>table</th><th>fresh</th><th>evaluated</th><th>last fresh</th></tr>${data.status.freshness.map((entry) => `<tr class="${entry.fresh ? '' : 'warning'}"><td>${escapeHtml(entry.table)}</td><td>${entry.fresh ? 'yes' : 'NO'}</td><td>${escapeHtml(entry.evaluatedAt)}</td><td>${escapeHtml(entry.lastFreshAt ?? '')}</td></tr>`).join('')}</table>`;
  const failed = data.failedRules.length === 0
    ? '<p class="ok">Every rule passed in the range.</p>'
    : `<table><tr><th>day</th><th>evaluated by</th><th>table</th><th>rule</th><th>action</th><th>outcome</th><th>times</th></tr>${data.failedRules.map((rule) => `<tr><td>${rule.day}</td><td>${escapeHtml(rule.job)}</td><td>${escapeHtml(rule.table)}</td><td><code>${escapeHtml(rule.rule)}</code></td><td>${rule.action}</td><td>${rule.outcome}</td><td>${rule.times}</td></tr>`).join('')}</table>`;
  // `<` escaped, so the data can never close the script element.
  const json = JSON.stringify(data).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>medallion operations report ${escapeHtml(data.from)} to ${escapeHtml(data.to)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; }
  h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
  .verdict { font-weight: 600; padding: 4px 10px; border-radius: 4px; display: inline-block; }
  .verdict.ok { background: #d9f2e0; } .verdict.warning { background: #fff1c2; } .verdict.critical { background: #ffd6d6; }
  table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #d0d4dc; padding: 3px 8px; text-align: left; vertical-align: top; }
  tr.critical td { background: #ffecec; } tr.warning td { background: #fff8e0; } .ok { color: #1d6b35; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; }
  .chart { border: 1px solid #e1e4ea; border-radius: 6px; padding: 8px; } .chart h3 { font-size: 14px; margin: 0 0 6px; }
  .note { color: #5a6275; }
</style>
</head>
<body>
<h1>medallion operations report: ${escapeHtml(data.from)} to ${escapeHtml(data.to)}</h1>
<p class="note">Lake ${escapeHtml(data.lake)}, generated ${escapeHtml(data.generatedAt)}. Status: <span class="verdict ${data.status.health}">${data.status.health === 'ok' ? 'healthy' : data.status.health}</span></p>
<h2>Open problems</h2>
${problems}
<div class="grid">
  <div class="chart"><h3>Runs per day, by final state</h3><canvas id="runs"></canvas></div>
  <div class="chart"><h3>Run time against baseline (%), per job</h3><canvas id="durations"></canvas></div>
  <div class="chart"><h3>Records per day: read from landing, written, quarantined</h3><canvas id="records"></canvas></div>
  <div class="chart"><h3>Quarantined records per day, by reason</h3><canvas id="quarantine"></canvas></div>
  <div class="chart"><h3>Quality: rule evaluations passed (%) and failed, per day</h3><canvas id="quality"></canvas></div>
  <div class="chart"><h3>gold.daily_task_kpis and gold.active_users${data.kpis.inRange ? '' : ' (latest days held: none in the range)'}</h3><canvas id="kpis"></canvas></div>
</div>
<h2>Freshness</h2>
${freshness}
<h2>Rules that did not pass</h2>
${failed}
<script>${chartJs.replaceAll('</script', '<\\/script')}</script>
<script id="report-data" type="application/json">${json}</script>
<script>
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const palette = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00', '#b82e2e', '#316395'];
  const colour = (index) => palette[index % palette.length];
  const states = { SUCCEEDED: '#2e9e4f', FAILED: '#d62828', TIMEOUT: '#f77f00', ERROR: '#8d0801', STOPPED: '#6c757d' };
  // Drawn at once: a screenshot or a print shows the figures, not an animation frame.
  Chart.defaults.animation = false;
  window.medallionCharts = {};
  const chart = (id, config) => { window.medallionCharts[id] = new Chart(document.getElementById(id), config); };
  const count = (list, pick) => data.days.map((day) => list.filter((item) => pick(item, day)).length);
  const runStates = [...new Set(data.runs.map((run) => run.state))];
  chart('runs', { type: 'bar', data: { labels: data.days, datasets: runStates.map((state) => ({ label: state, backgroundColor: states[state] || '#888', data: count(data.runs, (run, day) => run.state === state && run.startedAt.startsWith(day)) })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
  const jobs = [...new Set(data.runs.map((run) => run.job))];
  chart('durations', { type: 'line', data: { datasets: jobs.map((job, index) => ({ label: job, borderColor: colour(index), backgroundColor: colour(index),
      data: data.runs.filter((run) => run.job === job).map((run) => ({ x: Date.parse(run.startedAt), y: Math.round(100 * run.durationMs / run.baselineMs * 100) / 100 })) })) },
    options: { parsing: true, scales: { x: { type: 'linear', ticks: { callback: (value) => new Date(value).toISOString().slice(5, 16).replace('T', ' ') } }, y: { beginAtZero: true, title: { display: true, text: '% of baseline' } } } } });
  chart('records', { type: 'bar', data: { labels: data.days, datasets: [
      { label: 'read from landing', backgroundColor: '#3366cc', data: data.recordsByDay.map((entry) => entry.read) },
      { label: 'written', backgroundColor: '#109618', data: data.recordsByDay.map((entry) => entry.written) },
      { label: 'quarantined', backgroundColor: '#dc3912', data: data.recordsByDay.map((entry) => entry.quarantined) }] },
    options: { scales: { y: { beginAtZero: true } } } });
  const reasons = [...new Set(data.quarantineByReason.map((entry) => entry.reason))];
  chart('quarantine', { type: 'bar', data: { labels: data.days, datasets: reasons.map((reason, index) => ({ label: reason, backgroundColor: colour(index),
      data: data.days.map((day) => data.quarantineByReason.filter((entry) => entry.reason === reason && entry.day === day).reduce((sum, entry) => sum + entry.records, 0)) })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
  const quality = new Map(data.qualityByDay.map((entry) => [entry.day, entry]));
  chart('quality', { data: { labels: data.days, datasets: [
      { type: 'line', label: 'passed (%)', yAxisID: 'rate', borderColor: '#109618', backgroundColor: '#109618', spanGaps: true,
        data: data.days.map((day) => (quality.has(day) ? Math.round(10000 * quality.get(day).passed / quality.get(day).evaluated) / 100 : null)) },
      { type: 'bar', label: 'failed', yAxisID: 'count', backgroundColor: '#dc3912', data: data.days.map((day) => (quality.has(day) ? quality.get(day).evaluated - quality.get(day).passed : 0)) }] },
    options: { scales: { rate: { position: 'left', min: 0, max: 100 }, count: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } } } });
  chart('kpis', { type: 'line', data: { labels: data.kpis.days, datasets: Object.entries(data.kpis.series).map(([name, values], index) => ({ label: name, data: values, borderColor: colour(index), backgroundColor: colour(index), spanGaps: true })) },
    options: { scales: { y: { beginAtZero: true } } } });
})();
</script>
</body>
</html>
`;
}
