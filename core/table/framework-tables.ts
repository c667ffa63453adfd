import { defineTable, type TableSpec } from './table-spec.ts';

/** Every record a job could not accept, with why and where it came from. Partitioned by the job that quarantined it. */
export const QUARANTINE_TABLE = defineTable({
  name: 'quarantine.records',
  description: 'Records a job could not accept: the reason, where they came from, and their raw text.',
  writeMode: 'append',
  partitionBy: ['job'],
  columns: [
    { name: 'layer', type: 'VARCHAR', description: 'Layer of the job that quarantined the record (bronze, silver, gold).' },
    { name: 'source_object', type: 'VARCHAR', description: 'Landing object the record came from.' },
    { name: 'record_index', type: 'BIGINT', description: '0-based position of the record in its landing object.' },
    { name: 'reason_code', type: 'VARCHAR', description: 'Stable code of the first check the record failed, e.g. invalid_json.' },
    { name: 'reason', type: 'VARCHAR', description: 'What was wrong, for a person.' },
    { name: 'raw', type: 'VARCHAR', description: 'The record as it arrived (or its event as bronze held it).' },
    { name: 'run_id', type: 'VARCHAR', description: 'Job run that quarantined it.' },
    { name: 'quarantined_at', type: 'TIMESTAMP', description: 'When that run started (UTC).' },
    { name: 'job', type: 'VARCHAR', description: 'Partition: the job that quarantined the record.' },
  ],
});

/**
 * Every quality evaluation: one row per rule (and analyzer metric) per evaluation, kept for good. Dynamic
 * rules (`RowCount > avg(last(10))`) and DetectAnomalies read their history from here. Partitioned by the
 * job that evaluated (`quality` for `medallion quality`), so each job writes only its own partition.
 */
export const QUALITY_RESULTS_TABLE = defineTable({
  name: 'quality.results',
  description: 'Every evaluation of a quality rule: the run, the table, the rule, its outcome, the measured value and the threshold.',
  writeMode: 'append',
  partitionBy: ['job'],
  columns: [
    { name: 'run_id', type: 'VARCHAR', description: 'The job run that evaluated the rule (a `quality-...` id for `medallion quality`).' },
    { name: 'table_name', type: 'VARCHAR', description: 'The table (or landing source, `landing.<source>`) the rule set belongs to.' },
    {
      name: 'scope',
      type: 'VARCHAR',
      description: '`run`: over the rows one job run wrote, before they were committed; `table`: over the committed table (`medallion quality`).',
    },
    { name: 'ruleset', type: 'VARCHAR', description: 'The rule set file, e.g. quality/rules/silver.tasks.dqdl.' },
    { name: 'rule', type: 'VARCHAR', description: 'The rule in DQDL, as the rule set states it (an analyzer for metric-only rows).' },
    { name: 'rule_type', type: 'VARCHAR', description: 'DQDL rule type (RowCount, ColumnValues, ..., Composite, or Analyzer).' },
    { name: 'action', type: 'VARCHAR', description: 'What a failure does: warn (recorded), quarantine (failing rows set aside), fail (nothing committed), analyze (metric only).' },
    { name: 'outcome', type: 'VARCHAR', description: 'PASS, FAIL or ERROR (the rule could not be evaluated: the message says why); NULL for analyzers.' },
    { name: 'metric', type: 'VARCHAR', description: "The metric measured, named as Glue names it (Dataset.*.RowCount, Column.status.Completeness, ...)." },
    { name: 'value', type: 'DOUBLE', description: 'The measured value of the metric.' },
    { name: 'threshold', type: 'VARCHAR', description: 'The constraint the value was held to, dynamic values resolved (e.g. > 950.5, between 1 and 10).' },
    { name: 'message', type: 'VARCHAR', description: 'Why the rule failed or errored; empty when it passed.' },
    { name: 'rows_quarantined', type: 'BIGINT', description: 'Rows a quarantine rule set aside in this run (0 for other actions).' },
    { name: 'evaluated_at', type: 'TIMESTAMP', description: 'When the evaluation ran (the run start for job runs), UTC.' },
    { name: 'job', type: 'VARCHAR', description: 'Partition: the job that evaluated the rule, or `quality` for `medallion quality`.' },
  ],
});

/**
 * The rows a run's `fail` rules refused. Such a run commits nothing else (its outputs, quarantine and bookmark stay
 * as they were), so the rows that stopped it would be gone with its staging; they are kept here, with its quality
 * results, for an operator to query. Only row-level rules (ColumnValues, IsComplete, ...) name rows; at most
 * REJECTED_ROWS_PER_RULE per rule and run. Partitioned by the job, like quality.results.
 */
export const QUALITY_REJECTED_TABLE = defineTable({
  name: 'quality.rejected_rows',
  description: "Rows a run's fail rules refused (the run committed nothing else): the run, the table and rule, where the row came from, and the row.",
  writeMode: 'append',
  partitionBy: ['job'],
  columns: [
    { name: 'run_id', type: 'VARCHAR', description: 'The job run the rule stopped.' },
    { name: 'table_name', type: 'VARCHAR', description: 'The table the row was for.' },
    { name: 'rule', type: 'VARCHAR', description: 'The fail rule the row did not pass, in DQDL, with its rule set file and line.' },
    { name: 'source_object', type: 'VARCHAR', description: 'The landing object the row came from, when the table keeps it.' },
    { name: 'record_index', type: 'BIGINT', description: 'Its record in that object, when the table keeps it.' },
    { name: 'row', type: 'VARCHAR', description: 'The row as JSON.' },
    { name: 'evaluated_at', type: 'TIMESTAMP', description: 'When the run started (UTC).' },
    { name: 'job', type: 'VARCHAR', description: 'Partition: the job of the run.' },
  ],
});

/**
 * The tables every job appends to, each partitioned by `job` (one partition per job): a job writes, and
 * publishes, only its own partition of them.
 */
export const JOB_PARTITIONED_TABLES: readonly TableSpec[] = [QUARANTINE_TABLE, QUALITY_RESULTS_TABLE, QUALITY_REJECTED_TABLE];

/** Rows kept per fail rule and run at most: enough to see what is wrong, bounded whatever the input. */
export const REJECTED_ROWS_PER_RULE = 10_000;
