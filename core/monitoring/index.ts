export { prometheusAlertName, prometheusRules, selfHostedAlarms } from './prometheus-rules.ts';
