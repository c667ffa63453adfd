import type { Job, TableSpec } from '../core/index.ts';
import { jobsExportedBy, tablesWrittenBy } from '../core/job/index.ts';
import { QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE } from '../core/table/index.ts';
import * as bronze from './bronze/index.ts';
import * as gold from './gold/index.ts';
import * as silver from './silver/index.ts';

export * from './bronze/index.ts';
export * from './gold/index.ts';
export * from './silver/index.ts';

/**
 * Every job of the reference pipeline: the jobs each layer's index.ts exports (jobs/bronze, jobs/silver,
 * jobs/gold), by layer and name. A new job is a file and the line that exports it from its layer's index.ts;
 * `medallion run --all`, the CLI, the docs and the AWS stack all take their jobs from here.
 */
export const PIPELINE_JOBS: readonly Job[] = jobsExportedBy([bronze, silver, gold]);

/** Every table the reference pipeline writes: the jobs' outputs, then the quarantine and the quality results. */
export const PIPELINE_TABLES: readonly TableSpec[] = tablesWrittenBy(PIPELINE_JOBS, [QUARANTINE_TABLE, QUALITY_RESULTS_TABLE, QUALITY_REJECTED_TABLE]);
