export { cloudWatchDimensionSets, type MetricDatum, type MetricUnit, type MetricsSink } from './metrics-sink.ts';
// CloudWatchMetricsSink is imported from './cloudwatch-metrics-sink.ts': it loads the AWS SDK's CloudWatch client.
export { EmfMetricsSink } from './emf-metrics-sink.ts';
export { LocalMetricsSink, renderExposition, type PrometheusSample } from './local-metrics-sink.ts';
export { METRIC_CATALOG, NOT_LABELS, prometheusLabelName, prometheusMetricName, prometheusName, type MetricDescription } from './metric-catalog.ts';
