import { ALARMS, type AlarmDefinition } from '../alarms.ts';

/** The Prometheus alert name of a registry alarm: `job-failed` becomes `MedallionJobFailed`. */
export function prometheusAlertName(id: string): string {
  return `Medallion${id.split('-').map((word) => `${word[0]!.toUpperCase()}${word.slice(1)}`).join('')}`;
}

/** The registry alarms self-hosted runs can have: those on the jobs' own metrics (AWS's are not in the textfile). */
export function selfHostedAlarms(): AlarmDefinition[] {
  return ALARMS.filter((alarm) => alarm.prometheus !== undefined);
}

/** A YAML scalar: a JSON string is a valid YAML double-quoted scalar. */
const scalar = (text: string) => JSON.stringify(text);

/**
 * The Prometheus alerting rules of the registry (core/alarms.ts), one per alarm with a `prometheus`
 * expression, over the metrics `medallion.prom` exposes (node_exporter's textfile collector): the same id,
 * severity and runbook as the CloudWatch alarm, as labels and annotations. Written to
 * monitoring/prometheus/medallion.rules.yml by `npm run docs`; `promtool check rules` passes on it.
 */
export function prometheusRules(options: { readonly runbookBaseUrl: string }): string {
  const lines = [
    '# Generated from core/alarms.ts by `npm run docs`: edit the registry, not this file.',
    '# Alerting rules for self-hosted runs: Prometheus scraping _metrics/medallion.prom through node_exporter\'s',
    '# textfile collector (docs/self-hosted-monitoring.md).',
    'groups:',
    '  - name: medallion',
    '    rules:',
  ];
  for (const alarm of selfHostedAlarms()) {
    const subject = alarm.per === 'job' ? ' ({{ $labels.job_name }})' : alarm.per === 'landing' || alarm.per === 'fresh-table' ? ' ({{ $labels.table }})' : '';
    lines.push(
      `      - alert: ${prometheusAlertName(alarm.id)}`,
      `        expr: ${scalar(alarm.prometheus!)}`,
      '        labels:',
      `          severity: ${scalar(alarm.severity)}`,
      `          alarm_id: ${scalar(alarm.id)}`,
      '        annotations:',
      `          summary: ${scalar(`${alarm.title}${subject}`)}`,
      `          description: ${scalar(alarm.meaning.replaceAll('<source>', '{{ reReplaceAll "^landing[.]" "" $labels.table }}'))}`,
      `          runbook_url: ${scalar(`${options.runbookBaseUrl}/runbooks/${alarm.id}.md`)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
