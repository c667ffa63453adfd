export { prometheusAlertName, prometheusRules, selfHostedAlarms } from './prometheus-rules.ts';
export { formatDuration, lakeStatus, type FreshnessStatus, type JobStatus, type LakeStatus, type LockStatus, type RuleStatus, type StatusProblem } from './lake-status.ts';
export { renderReport, reportData, reportSubject, reportSummary, type ReportData, type ReportSummaryObject } from './ops-report.ts';
export { GRAFANA_PANELS, grafanaDashboard } from './grafana-dashboard.ts';
