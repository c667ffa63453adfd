import { CloudWatchClient, PutMetricDataCommand, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import type { JobRunResult } from '../../../core/index.ts';
import { CloudWatchMetricsSink } from '../../../core/metrics/cloudwatch-metrics-sink.ts';
import { runMetrics } from '../../../core/runner/index.ts';

/** A CloudWatch client whose requests stop before the network: the test sees each command's input. */
function capturingCloudWatch(): { client: CloudWatchClient; inputs: PutMetricDataCommandInput[] } {
  const client = new CloudWatchClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const inputs: PutMetricDataCommandInput[] = [];
  client.middlewareStack.add(
    () => async (args) => {
      inputs.push(args.input as PutMetricDataCommandInput);
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'captureInput' },
  );
  return { client, inputs };
}

describe('CloudWatchMetricsSink', () => {
  it("sends a run's Glue-named metrics per job (never per run id: a new series each run), in requests of at most 1000 datums", async () => {
    const { client, inputs } = capturingCloudWatch();
    const sink = new CloudWatchMetricsSink(client, 'Medallion', () => undefined);
    const result = { job: 'silver.tasks', runId: 'jr_1', recordsRead: 7, bytesRead: 70, elapsedMs: 1200, recordsWritten: { 'silver.tasks': 5 }, recordsQuarantined: 1, recordsDuplicated: 1 } as unknown as JobRunResult;
    const datums = runMetrics(result, Date.UTC(2025, 10, 1));
    await sink.emit(Array.from({ length: 100 }, () => datums).flat());
    expect(inputs.map((input) => input.MetricData?.length)).toEqual([1000, 200]);
    expect(inputs.every((input) => input.Namespace === 'Medallion')).toBe(true);
    const [read, readByJob] = (inputs[0]?.MetricData ?? []).filter((datum) => datum.MetricName === 'glue.driver.aggregate.recordsRead');
    expect(read).toMatchObject({ Value: 7, Unit: 'Count', Dimensions: [{ Name: 'JobName', Value: 'silver.tasks' }, { Name: 'Type', Value: 'count' }] });
    expect((inputs[0]?.MetricData ?? []).some((datum) => datum.Dimensions?.some((dimension) => dimension.Name === 'JobRunId'))).toBe(false);
    expect(readByJob?.Dimensions).toEqual([{ Name: 'JobName', Value: 'silver.tasks' }]);
    expect(new PutMetricDataCommand(inputs[0] as PutMetricDataCommandInput).input.MetricData?.[0]?.Timestamp).toEqual(new Date(Date.UTC(2025, 10, 1)));
  });
});
