import { alarmDefinition, JOB_DURATION_ALARM_RATIO, jobReach, NO_SUCCESS_ALARM_HOURS, QUARANTINE_RATE_ALARM_PERCENT, type AlarmSeverity } from '../alarms.ts';
import { attachTables } from '../catalog/index.ts';
import type { Job } from '../job/index.ts';
import { jobLockName } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { TableRuleSet } from '../quality/index.ts';
import { readRunRecords, runDurationMs, TERMINAL_STATES, type JobRunRecord } from '../runner/job-run-record.ts';
import { durationRatio, FAILED_STATES, jobDurationBaseline } from '../runner/run-metrics.ts';
import { MAINTENANCE_LOCK } from '../runner/maintenance-lock.ts';
import { QUALITY_RESULTS_TABLE } from '../table/index.ts';

/** One thing wrong, how bad, and the runbook that says what to do (the alarm's, when an alarm watches it). */
export interface StatusProblem {
  readonly severity: AlarmSeverity;
  /** The registry alarm that fires for it (its runbook is `runbooks/<alarm>.md`); absent when none does. */
  readonly alarm?: string;
  /** The job, table or lock concerned. */
  readonly subject: string;
  readonly message: string;
  /** `runbooks/<alarm>.md`, or a command that sets it right. */
  readonly next: string;
}

/** A job's last run, and its last success. */
export interface JobStatus {
  readonly job: string;
  /** The last run's state; `NEVER_RUN` when there is none. */
  readonly state: JobRunRecord['JobRunState'] | 'NEVER_RUN';
  readonly runId?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly durationMs?: number;
  /** The baseline its duration is held to, and the ratio (for a finished run). */
  readonly baselineMs?: number;
  readonly baselineSource?: 'learned' | 'configured';
  readonly durationRatio?: number;
  readonly recordsRead?: number;
  readonly recordsWritten?: number;
  readonly recordsQuarantined?: number;
  /** Quarantined over read, in percent (jobs that can quarantine). */
  readonly quarantinePercent?: number;
  readonly lastSuccessAt?: string;
  readonly error?: string;
}

/** A rule that did not pass in the latest evaluation of its table. */
export interface RuleStatus {
  readonly table: string;
  readonly rule: string;
  readonly ruleType: string;
  readonly action: string;
  readonly outcome: string;
  readonly job: string;
  readonly evaluatedAt: string;
  readonly message: string;
}

/** A table's (or landing source's) freshness, as its DataFreshness rule last found it. */
export interface FreshnessStatus {
  readonly table: string;
  readonly fresh: boolean;
  readonly evaluatedAt: string;
  /** When an evaluation last found it fresh; absent when none did. */
  readonly lastFreshAt?: string;
}

/** A lock somebody holds. */
export interface LockStatus {
  readonly lock: string;
  readonly owner: string;
  readonly leaseUntil: string;
  /** The holder's lease ran out without a release: it died; the next run takes the lock over. */
  readonly expired: boolean;
}

/** "Is the lake healthy?": what `medallion status` shows. */
export interface LakeStatus {
  readonly checkedAt: string;
  /** The worst problem's severity, or `ok`. */
  readonly health: 'ok' | AlarmSeverity;
  readonly jobs: readonly JobStatus[];
  readonly rules: readonly RuleStatus[];
  readonly freshness: readonly FreshnessStatus[];
  readonly locks: readonly LockStatus[];
  readonly problems: readonly StatusProblem[];
}

const HOUR = 3_600_000;
const runbook = (alarm: string) => `runbooks/${alarmDefinition(alarm).id}.md`;

/**
 * The lake's health from what it records, without running anything: each job's last run (state, duration against
 * its baseline, records, quarantine share) and last success, the rules that did not pass in the latest evaluation
 * of each table (a job's gate or `medallion quality`), landing and table freshness, the locks held. Each problem
 * is judged as its alarm in core/alarms.ts judges it, with the same severity and runbook.
 */
export async function lakeStatus(
  lake: Lake,
  jobs: readonly Job[],
  options: { readonly ruleSets?: readonly TableRuleSet[]; readonly now?: Date; readonly configuredBaselineMinutes?: number } = {},
): Promise<LakeStatus> {
  const now = options.now ?? new Date();
  const problems: StatusProblem[] = [];
  const noSuccessMs = NO_SUCCESS_ALARM_HOURS * HOUR;

  const jobStatuses: JobStatus[] = [];
  for (const job of jobs) {
    const { records, unreadable } = await readRunRecords(lake.state, job.name);
    for (const entry of unreadable) problems.push({ severity: 'warning', subject: job.name, message: `run record ${entry.id} cannot be read: ${entry.problem}`, next: `medallion runs ${job.name}` });
    const ordered = [...records].sort((a, b) => Date.parse(b.StartedOn) - Date.parse(a.StartedOn));
    const last = ordered[0];
    const success = ordered.find((record) => record.JobRunState === 'SUCCEEDED');
    if (!last) {
      jobStatuses.push({ job: job.name, state: 'NEVER_RUN' });
      problems.push({ severity: 'warning', subject: job.name, message: 'has never run', next: 'medallion run --all --job-bookmark-option job-bookmark-enable' });
      continue;
    }
    const finished = TERMINAL_STATES.has(last.JobRunState) && last.CompletedOn !== undefined;
    const durationMs = finished ? runDurationMs({ ...last, CompletedOn: last.CompletedOn! }) : now.getTime() - Date.parse(last.StartedOn);
    const configured = options.configuredBaselineMinutes ?? configuredBaselineOf(last);
    const baseline = jobDurationBaseline(records, { excludeRunId: last.Id, before: last.StartedOn, ...(configured === undefined ? {} : { configuredMinutes: configured }) });
    const metrics = last.JobRunState === 'SUCCEEDED' ? last.Metrics ?? {} : {};
    const read = metrics['glue.driver.aggregate.recordsRead'];
    const quarantined = metrics['medallion.job.recordsQuarantined'];
    const quarantines = jobReach(job, options.ruleSets ?? []).quarantines;
    const quarantinePercent = quarantines && read !== undefined && read > 0 && quarantined !== undefined ? (100 * quarantined) / read : undefined;
    const status: JobStatus = {
      job: job.name,
      state: last.JobRunState,
      runId: last.Id,
      startedAt: last.StartedOn,
      ...(finished ? { completedAt: last.CompletedOn } : {}),
      durationMs,
      baselineMs: baseline.baselineMs,
      baselineSource: baseline.source,
      durationRatio: durationRatio(durationMs, baseline.baselineMs),
      ...(read === undefined ? {} : { recordsRead: read }),
      ...(metrics['medallion.job.recordsWritten'] === undefined ? {} : { recordsWritten: metrics['medallion.job.recordsWritten'] }),
      ...(quarantined === undefined ? {} : { recordsQuarantined: quarantined }),
      ...(quarantinePercent === undefined ? {} : { quarantinePercent }),
      ...(success?.CompletedOn ? { lastSuccessAt: success.CompletedOn } : {}),
      ...(last.ErrorMessage ? { error: last.ErrorMessage } : {}),
    };
    jobStatuses.push(status);

    const sinceSuccess = success?.CompletedOn ? now.getTime() - Date.parse(success.CompletedOn) : Number.POSITIVE_INFINITY;
    if (sinceSuccess > noSuccessMs) {
      problems.push({
        severity: alarmDefinition('pipeline-no-success').severity, alarm: 'pipeline-no-success', subject: job.name,
        message: success?.CompletedOn ? `no successful run for ${Math.floor(sinceSuccess / HOUR)} h (last ${success.CompletedOn})` : 'has never succeeded',
        next: runbook('pipeline-no-success'),
      });
    }
    if (FAILED_STATES.has(last.JobRunState)) {
      problems.push({ severity: alarmDefinition('job-failed').severity, alarm: 'job-failed', subject: job.name, message: `last run ${last.JobRunState}: ${last.ErrorMessage ?? 'no message'}`, next: runbook('job-failed') });
    }
    if (finished && last.JobRunState === 'SUCCEEDED' && status.durationRatio! > JOB_DURATION_ALARM_RATIO) {
      problems.push({
        severity: alarmDefinition('job-duration').severity, alarm: 'job-duration', subject: job.name,
        message: `last run took ${formatDuration(durationMs)}, ${Math.round(status.durationRatio! * 100)}% of its ${baseline.source} baseline of ${formatDuration(baseline.baselineMs)}`,
        next: runbook('job-duration'),
      });
    }
    if (quarantinePercent !== undefined && quarantinePercent > QUARANTINE_RATE_ALARM_PERCENT) {
      problems.push({
        severity: alarmDefinition('quarantine-rate').severity, alarm: 'quarantine-rate', subject: job.name,
        message: `last run quarantined ${quarantined} of ${read} records read (${quarantinePercent.toFixed(1)}%)`, next: runbook('quarantine-rate'),
      });
    }
  }

  const { rules, freshness } = await latestEvaluations(lake, now);
  // One problem per table, evaluator and alarm, naming its rules: a table with no version makes every rule an ERROR.
  const grouped = new Map<string, { alarm: string; rules: RuleStatus[] }>();
  for (const rule of rules) {
    if (rule.ruleType === 'DataFreshness') continue;
    const alarm = rule.action === 'fail' ? (rule.job === 'quality' ? 'quality-check-failed' : 'quality-gate-failed') : rule.ruleType === 'DetectAnomalies' ? 'quality-anomaly' : 'quality-rules-warn';
    const key = `${rule.table}\u0000${rule.job}\u0000${alarm}`;
    grouped.set(key, { alarm, rules: [...(grouped.get(key)?.rules ?? []), rule] });
  }
  for (const { alarm, rules: failed } of grouped.values()) {
    const first = failed[0]!;
    const what = failed.map((rule) => `${rule.rule} ${rule.outcome === 'ERROR' ? 'could not be evaluated' : 'failed'}`);
    const shown = what.length > 3 ? [...what.slice(0, 3), `and ${what.length - 3} more`] : what;
    problems.push({
      severity: alarmDefinition(alarm).severity, alarm, subject: first.table,
      message: `${shown.join('; ')} (action ${first.action}, ${first.job === 'quality' ? 'the quality step' : `job ${first.job}`} at ${first.evaluatedAt})${first.message ? `: ${first.message}` : ''}`,
      next: runbook(alarm),
    });
  }
  for (const entry of freshness.filter((item) => !item.fresh)) {
    const landing = entry.table.startsWith('landing.');
    const since = entry.lastFreshAt ? now.getTime() - Date.parse(entry.lastFreshAt) : Number.POSITIVE_INFINITY;
    // A stale table pages once no evaluation found it fresh for as long as its alarm waits; before that it is a warning.
    const severity: AlarmSeverity = landing || since > noSuccessMs ? 'critical' : 'warning';
    const alarm = landing ? 'landing-stale' : 'table-stale';
    problems.push({
      severity, alarm, subject: entry.table,
      message: `not fresh at ${entry.evaluatedAt}${entry.lastFreshAt ? ` (last found fresh ${entry.lastFreshAt})` : ' (never found fresh)'}`,
      next: runbook(alarm),
    });
  }

  const locks: LockStatus[] = [];
  for (const name of [...jobs.map((job) => jobLockName(job.name)), MAINTENANCE_LOCK]) {
    const state = await lake.state.readLock(name);
    if (!state || state.released) continue;
    const expired = state.expiresAtMs <= now.getTime();
    locks.push({ lock: name, owner: state.owner, leaseUntil: new Date(state.expiresAtMs).toISOString(), expired });
    if (expired) {
      problems.push({ severity: 'warning', subject: name, message: `held by ${state.owner}, whose lease ended ${new Date(state.expiresAtMs).toISOString()} (it died; the next run takes the lock over)`, next: 'medallion lock status' });
    }
  }

  const order = { critical: 0, warning: 1 } as const;
  problems.sort((a, b) => order[a.severity] - order[b.severity]);
  const health = problems.some((problem) => problem.severity === 'critical') ? 'critical' : problems.length > 0 ? 'warning' : 'ok';
  return { checkedAt: now.toISOString(), health, jobs: jobStatuses, rules, freshness, locks, problems };
}

/** The rules that did not pass in the latest evaluation of each table, and each table's freshness. */
async function latestEvaluations(lake: Lake, now: Date): Promise<{ rules: RuleStatus[]; freshness: FreshnessStatus[] }> {
  const root = await lake.state.readRoot();
  if (!root.tables[QUALITY_RESULTS_TABLE.name]) return { rules: [], freshness: [] };
  const engine = await lake.createEngine();
  let attached: Awaited<ReturnType<typeof attachTables>> | undefined;
  try {
    attached = await attachTables(engine, lake.storage, lake.state, root, { only: [QUALITY_RESULTS_TABLE.name] });
    const upTo = `evaluated_at <= TIMESTAMP '${now.toISOString().replace('T', ' ').replace('Z', '')}'`;
    // Rules: the latest evaluation of each table by each evaluator (a job's gate, the quality step), so a gate that
    // stopped a run shows beside the quality step's view, until that job's next run evaluates again.
    const latestByJob = `(SELECT table_name, job, arg_max(run_id, evaluated_at) AS run_id FROM quality.results WHERE ${upTo} GROUP BY table_name, job)`;
    // Freshness: the latest evaluation of each table, whoever made it.
    const latest = `(SELECT table_name, arg_max(run_id, evaluated_at) AS run_id FROM quality.results WHERE ${upTo} GROUP BY table_name)`;
    const failing = await engine.query(`
      SELECT r.table_name, r.rule, r.rule_type, r.action, r.outcome, r.job, strftime(r.evaluated_at, '%Y-%m-%dT%H:%M:%SZ') AS evaluated_at, coalesce(r.message, '') AS message
      FROM quality.results r SEMI JOIN ${latestByJob} l ON r.table_name = l.table_name AND r.job = l.job AND r.run_id = l.run_id
      WHERE r.action <> 'analyze' AND r.outcome IN ('FAIL', 'ERROR')
      ORDER BY r.table_name, r.rule`);
    const fresh = await engine.query(`
      WITH freshness AS (SELECT table_name, run_id, evaluated_at, bool_and(outcome = 'PASS') AS fresh FROM quality.results WHERE rule_type = 'DataFreshness' GROUP BY ALL)
      SELECT f.table_name, f.fresh, strftime(f.evaluated_at, '%Y-%m-%dT%H:%M:%SZ') AS evaluated_at,
        (SELECT strftime(max(g.evaluated_at), '%Y-%m-%dT%H:%M:%SZ') FROM freshness g WHERE g.table_name = f.table_name AND g.fresh) AS last_fresh_at
      FROM freshness f SEMI JOIN ${latest} l ON f.table_name = l.table_name AND f.run_id = l.run_id
      ORDER BY f.table_name`);
    return {
      rules: failing.rows.map((row) => ({
        table: String(row.table_name), rule: String(row.rule), ruleType: String(row.rule_type), action: String(row.action), outcome: String(row.outcome),
        job: String(row.job), evaluatedAt: String(row.evaluated_at), message: String(row.message),
      })),
      freshness: fresh.rows.map((row) => ({
        table: String(row.table_name), fresh: row.fresh === true, evaluatedAt: String(row.evaluated_at),
        ...(row.last_fresh_at === null || row.last_fresh_at === undefined ? {} : { lastFreshAt: String(row.last_fresh_at) }),
      })),
    };
  } finally {
    await attached?.release();
    engine.close();
  }
}

/** The configured baseline a run was given (`--duration-baseline-minutes`, kept in its arguments), if any. */
export function configuredBaselineOf(record: JobRunRecord): number | undefined {
  const text = record.Arguments['duration-baseline-minutes'];
  const minutes = text === undefined ? Number.NaN : Number(text);
  return Number.isFinite(minutes) && minutes > 0 ? minutes : undefined;
}

/** 1.2 s, 3 min 4 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < HOUR) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / HOUR)} h ${Math.round((ms % HOUR) / 60_000)} min`;
}
