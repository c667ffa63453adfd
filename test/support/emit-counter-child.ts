import { LocalMetricsSink } from '../../core/metrics/index.ts';

/** Emits `medallion.job.runs` `times` times into the metrics folder argv[2] (the textfile under many writers). */
const [directory, times] = process.argv.slice(2);
const sink = new LocalMetricsSink(directory!);
for (let index = 0; index < Number(times); index += 1) {
  await sink.emit([{ name: 'medallion.job.runs', value: 1, unit: 'Count', dimensions: { JobName: 'silver.t', State: 'SUCCEEDED' }, timestampMs: Date.now() }]);
}
