import type { MetricDatum } from '../metrics/index.ts';
import type { JobRunResult } from './run-result.ts';

/** Glue's job metric names, plus the record accounting Glue does not have. */
export function runMetrics(result: JobRunResult, timestampMs: number): MetricDatum[] {
  const dimensions = { JobName: result.job, JobRunId: result.runId, Type: 'count' };
  const gauge = { JobName: result.job, JobRunId: result.runId, Type: 'gauge' };
  const written = Object.values(result.recordsWritten).reduce((sum, value) => sum + value, 0);
  return [
    { name: 'glue.driver.aggregate.recordsRead', value: result.recordsRead, unit: 'Count', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.bytesRead', value: result.bytesRead, unit: 'Bytes', dimensions, timestampMs },
    { name: 'glue.driver.aggregate.elapsedTime', value: result.elapsedMs, unit: 'Milliseconds', dimensions: gauge, timestampMs },
    { name: 'medallion.job.recordsWritten', value: written, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsQuarantined', value: result.recordsQuarantined, unit: 'Count', dimensions, timestampMs },
    { name: 'medallion.job.recordsDuplicated', value: result.recordsDuplicated, unit: 'Count', dimensions, timestampMs },
  ];
}
