export type { MetricDatum, MetricUnit, MetricsSink } from './metrics-sink.ts';
export { CloudWatchMetricsSink } from './cloudwatch-metrics-sink.ts';
export { EmfMetricsSink } from './emf-metrics-sink.ts';
export { LocalMetricsSink, prometheusName } from './local-metrics-sink.ts';
