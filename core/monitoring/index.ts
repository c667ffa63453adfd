export { prometheusAlertName, prometheusRules, selfHostedAlarms } from './prometheus-rules.ts';
export { formatDuration, lakeStatus, type FreshnessStatus, type JobStatus, type LakeStatus, type LockStatus, type RuleStatus, type StatusProblem } from './lake-status.ts';
export { renderReport, reportData, reportSummary, type ReportData } from './ops-report.ts';
export { GRAFANA_PANELS, grafanaDashboard } from './grafana-dashboard.ts';
