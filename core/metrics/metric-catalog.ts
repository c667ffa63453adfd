/**
 * Every metric the jobs and steps emit, with what it means and how Prometheus exposes it. The textfile
 * (LocalMetricsSink), the generated alerting rules and the Grafana dashboard read it; a test checks that
 * every metric a pipeline run emits is here.
 */
export interface MetricDescription {
  readonly help: string;
  /**
   * `gauge`: the textfile keeps the latest value per series (what the job's last run measured);
   * `counter`: it adds every value up (`<name>_total`), so Prometheus can count runs with increase().
   */
  readonly type: 'gauge' | 'counter';
  /** The Prometheus name, where the mechanical one (dots to underscores) would mislead. */
  readonly prometheus?: string;
}

export const METRIC_CATALOG: Readonly<Record<string, MetricDescription>> = {
  'glue.driver.aggregate.recordsRead': { help: "Records the job's last successful run read (Glue's metric).", type: 'gauge' },
  'glue.driver.aggregate.bytesRead': { help: "Bytes the job's last successful run read (Glue's metric).", type: 'gauge' },
  'glue.driver.aggregate.elapsedTime': { help: "Milliseconds the job's last successful run took (Glue's metric).", type: 'gauge' },
  'medallion.job.recordsWritten': { help: "Rows the job's last successful run wrote to its outputs.", type: 'gauge' },
  'medallion.job.recordsQuarantined': { help: "Records the job's last successful run quarantined.", type: 'gauge' },
  'medallion.job.recordsQuarantinedByReason': { help: "Records the job's last successful run quarantined, by reason code.", type: 'gauge' },
  'medallion.job.recordsDuplicated': { help: "Duplicate records the job's last successful run dropped.", type: 'gauge' },
  'medallion.job.runs': { help: 'Job runs that ended, by final state (SUCCEEDED, FAILED, TIMEOUT, ERROR, STOPPED).', type: 'counter' },
  'medallion.job.failed': { help: "1 when the job's last run ended FAILED, TIMEOUT or ERROR, 0 when it succeeded or was stopped on request.", type: 'gauge', prometheus: 'medallion_job_last_run_failed' },
  'medallion.job.retries': { help: "1 when the job's last run was a retry of a failed attempt.", type: 'gauge', prometheus: 'medallion_job_last_run_retry' },
  'medallion.job.elapsedTime': { help: "Milliseconds the job's last run took, by its final state (failed runs too).", type: 'gauge' },
  'medallion.job.lastSuccess': { help: "Unix time (seconds) the job's last successful run ended.", type: 'gauge', prometheus: 'medallion_job_last_success_timestamp_seconds' },
  'medallion.job.durationRatio': { help: "The job's last successful run time divided by its baseline (the median of its recent successful runs, or the configured one).", type: 'gauge' },
  'medallion.job.durationBaseline': { help: "The baseline (ms) the job's last successful run was measured against.", type: 'gauge' },
  'medallion.pipeline.lastSuccess': { help: 'Unix time (seconds) the last pipeline run in which every job succeeded ended.', type: 'gauge', prometheus: 'medallion_pipeline_last_success_timestamp_seconds' },
  'glue.data.quality.rules.passed': { help: 'Quality rules that passed on a table in the last evaluation (Glue Data Quality).', type: 'gauge' },
  'glue.data.quality.rules.failed': { help: 'Quality rules that did not pass on a table in the last evaluation (Glue Data Quality).', type: 'gauge' },
  'glue.data.quality.score': { help: 'Share of the rules that passed on a table in the last evaluation, 0 to 1 (Glue Data Quality).', type: 'gauge' },
  'medallion.quality.rules.failed.warn': { help: 'Rules with action warn that did not pass on a table in the last evaluation.', type: 'gauge' },
  'medallion.quality.rules.failed.fail': { help: 'Rules with action fail that did not pass on a table in the last evaluation (a gate stopped the run, or the quality step failed).', type: 'gauge' },
  'medallion.quality.rowsQuarantined': { help: 'Rows a quality rule with action quarantine set aside in the last evaluation.', type: 'gauge' },
  'medallion.quality.anomalies': { help: 'DetectAnomalies rules that flagged a table in the last evaluation.', type: 'gauge' },
  'medallion.table.fresh': { help: "1 when every DataFreshness rule of a table passed in the last evaluation, 0 when one did not (the data is older than the rule's window).", type: 'gauge' },
  'medallion.table.lastFresh': { help: "Unix time (seconds) of the last evaluation that found every DataFreshness rule of a table passing.", type: 'gauge', prometheus: 'medallion_table_last_fresh_timestamp_seconds' },
  'medallion.quality.value': { help: "The value a rule's metric measured in the last evaluation (a row count, a completeness).", type: 'gauge' },
  'medallion.catalog.publishFailures': { help: "1 when publishing a job's commit to the catalog failed after retries.", type: 'gauge' },
  'medallion.reconcile.differences': { help: 'Landing records or bronze rows the last reconcile found missing, doubled or unaccounted for.', type: 'gauge' },
  'medallion.vacuum.filesRemoved': { help: 'Files the last vacuum removed.', type: 'gauge' },
  'medallion.vacuum.bytesRemoved': { help: 'Bytes the last vacuum removed.', type: 'gauge' },
};

/** `glue.driver.aggregate.recordsRead` becomes `glue_driver_aggregate_records_read` (Prometheus names are snake_case). */
export function prometheusName(name: string): string {
  const cleaned = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_:]/g, '_');
  return /^[a-z_:]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/** A label name from a dimension: snake_case, no ':' (`JobName` becomes `job_name`). */
export function prometheusLabelName(name: string): string {
  return prometheusName(name).replaceAll(':', '_');
}

/**
 * Dimensions that are not labels: the run id changes every run (a label would grow the file without bound), and
 * Glue's `Type` (count or gauge) is what `# TYPE` says already.
 */
export const NOT_LABELS: ReadonlySet<string> = new Set(['JobRunId', 'Type']);

/** The metric's name in Prometheus: the catalog's, else the mechanical one; a counter ends in `_total`. */
export function prometheusMetricName(name: string): string {
  const described = METRIC_CATALOG[name];
  const base = described?.prometheus ?? prometheusName(name);
  return described?.type === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
}
