import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALARMS } from '../../core/alarms.ts';
import { METRIC_CATALOG, prometheusMetricName } from '../../core/metrics/index.ts';
import { GRAFANA_PANELS, grafanaDashboard, prometheusRules, selfHostedAlarms } from '../../core/monitoring/index.ts';
import { DEFAULT_RUNBOOK_BASE_URL } from '../../infra/config.ts';

/**
 * The Prometheus alerting rules self-hosted runs use come from the same registry as the CloudWatch alarms, are
 * valid (`promtool check rules`), fire when they should (`promtool test rules` on hand-written cases), and only
 * read metrics the textfile has.
 */

const folder = path.join(import.meta.dirname, '..', '..', 'monitoring', 'prometheus');

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: folder, encoding: 'utf8' });
  expect(result.error, 'promtool is installed by .ci/run (Debian package prometheus)').toBeUndefined();
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('Prometheus alerting rules', () => {
  it('the committed rule file is what `npm run docs` generates from the registry', () => {
    expect(readFileSync(path.join(folder, 'medallion.rules.yml'), 'utf8')).toBe(prometheusRules({ runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL }));
  });

  it('passes promtool check rules', () => {
    const check = promtool('check', 'rules', 'medallion.rules.yml');
    expect(check.output).toContain(`SUCCESS: ${selfHostedAlarms().length} rules found`);
    expect(check.status).toBe(0);
  });

  it('fires as the unit tests say (promtool test rules)', () => {
    const test = promtool('test', 'rules', 'medallion.rules.test.yml');
    expect(test.output).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it('the committed Grafana dashboard is what `npm run docs` generates, and its panels read only metrics the textfile exposes', () => {
    const file = path.join(folder, '..', 'grafana', 'medallion-dashboard.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(grafanaDashboard());
    const exposed = new Set(Object.keys(METRIC_CATALOG).map(prometheusMetricName));
    for (const panel of GRAFANA_PANELS) {
      for (const target of panel.targets) {
        const names = target.expr.match(/\b(?:medallion|glue)_[a-z0-9_]+/g) ?? [];
        expect(names.length, panel.title).toBeGreaterThan(0);
        for (const name of names) expect(exposed.has(name), `${panel.title} reads ${name}`).toBe(true);
      }
    }
    // The CloudWatch dashboard's panels are all there.
    for (const title of ['Job duration', 'Records read per job', 'Records written per job', 'Records quarantined per job', 'Quality pass rate per job', 'Quality rules failed per job', 'Rows quarantined by quality rules per job']) {
      expect(GRAFANA_PANELS.some((panel) => panel.title.startsWith(title)), title).toBe(true);
    }
  });

  it('covers every alarm on the jobs\' metrics but the log-based one, and reads only metrics the textfile exposes', () => {
    const own = ALARMS.filter((alarm) => alarm.namespace === 'medallion').map((alarm) => alarm.id);
    expect(selfHostedAlarms().map((alarm) => alarm.id).filter((id) => id !== 'pipeline-no-success').sort()).toEqual(own.sort());
    const exposed = new Set(Object.keys(METRIC_CATALOG).map(prometheusMetricName));
    for (const alarm of selfHostedAlarms()) {
      const names = alarm.prometheus!.match(/\b(?:medallion|glue)_[a-z0-9_]+/g) ?? [];
      expect(names.length, alarm.id).toBeGreaterThan(0);
      for (const name of names) expect(exposed.has(name), `${alarm.id} reads ${name}`).toBe(true);
    }
  });
});
