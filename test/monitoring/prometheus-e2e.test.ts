import { spawn, type ChildProcess } from 'node:child_process';
import { cp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAFANA_PANELS } from '../../core/monitoring/index.ts';
import { PIPELINE_RULES_DIR } from '../../jobs/quality.ts';
import { cli, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * The self-hosted monitoring of docs/self-hosted-monitoring.md, end to end with Debian's servers on 127.0.0.1:
 * Prometheus scrapes the lake's textfile (served as node_exporter's textfile collector serves it), evaluates the
 * generated rules, and Alertmanager delivers the alerts to a webhook. A failed run and a stale landing source make
 * their alerts fire, with the severity and runbook of the CloudWatch alarms.
 */

const tempDir = useFileTempDirs();
const rulesFile = path.join(import.meta.dirname, '..', '..', 'monitoring', 'prometheus', 'medallion.rules.yml');
const servers: Server[] = [];
const processes: ChildProcess[] = [];
/** What the webhook received: Alertmanager's payloads. */
const received: { alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] = [];
let lakeDir = '';
let prometheusUrl = '';

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on now (the servers below take it right after). */
async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function start(command: string, args: readonly string[], log: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  processes.push(child);
  return child;
}

/** Polls `check` until it holds or `timeoutMs` passes (a generous bound: the servers answer in seconds). */
async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const firing = () => new Map(received.flatMap((payload) => payload.alerts).filter((alert) => alert.status === 'firing').map((alert) => [`${alert.labels.alertname}/${alert.labels.job_name ?? ''}/${alert.labels.table ?? ''}`, alert]));
const logs: string[] = [];

beforeAll(async () => {
  // A lake where silver.users' gate fails (so jobs fail and the pipeline never succeeds) and landing is a day old.
  const rules = await tempDir('e2e-rules');
  await cp(PIPELINE_RULES_DIR, rules, { recursive: true });
  const users = path.join(rules, 'silver.users.dqdl');
  await writeFile(users, (await readFile(users, 'utf8')).replace('ColumnValues "plan" in ["free", "pro", "team"], # action: fail', 'ColumnValues "plan" in ["nobody"], # action: fail'));
  lakeDir = await tempDir('e2e-lake');
  const global = ['--lake', lakeDir, '--rules', rules];
  await ok([...global, 'generate', '--days', '2', '--users', '10', '--tasks-per-day', '20', '--seed', '3', '--fault-rate', '0']);
  expect((await cli([...global, 'run', '--all'])).code).toBe(1);
  const old = new Date(Date.now() - 30 * 3_600_000);
  for (const source of ['tasks', 'users']) {
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) await walk(full);
        else await utimes(full, old, old);
      }
    };
    await walk(path.join(lakeDir, 'landing', source));
  }
  expect((await cli([...global, 'quality', 'landing.tasks', 'landing.users'])).code).toBe(1);

  // The textfile, served at /metrics as node_exporter's textfile collector would serve it.
  const metricsPort = await listen(createServer((request, response) => {
    void readFile(path.join(lakeDir, '_metrics', 'medallion.prom'), 'utf8').then((text) => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(text);
    });
  }));
  const hookPort = await listen(createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as (typeof received)[number]);
      response.writeHead(200);
      response.end();
    });
  }));

  const work = await tempDir('e2e-servers');
  const alertmanagerPort = await freePort();
  await writeFile(path.join(work, 'alertmanager.yml'), [
    'route:', '  receiver: hook', '  group_by: [alertname, job_name, table]', '  group_wait: 1s', '  group_interval: 1s', '  repeat_interval: 1h',
    'receivers:', '  - name: hook', '    webhook_configs:', `      - url: http://127.0.0.1:${hookPort}/`, '',
  ].join('\n'));
  start('prometheus-alertmanager', [
    `--config.file=${path.join(work, 'alertmanager.yml')}`, `--storage.path=${path.join(work, 'alertmanager')}`,
    `--web.listen-address=127.0.0.1:${alertmanagerPort}`, '--cluster.listen-address=',
  ], logs);
  const prometheusPort = await freePort();
  prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  await writeFile(path.join(work, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
    'rule_files:', `  - ${rulesFile}`,
    'alerting:', '  alertmanagers:', '    - static_configs:', `        - targets: ['127.0.0.1:${alertmanagerPort}']`,
    'scrape_configs:', '  - job_name: medallion', '    static_configs:', `      - targets: ['127.0.0.1:${metricsPort}']`, '',
  ].join('\n'));
  start('prometheus', [
    `--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'prometheus')}`,
    `--web.listen-address=127.0.0.1:${prometheusPort}`,
    // An alert that fired before the notifier found Alertmanager is sent again after this (1 min by default).
    '--rules.alert.resend-delay=1s',
  ], logs);
}, 120_000);

afterAll(async () => {
  for (const child of processes) child.kill('SIGTERM');
  await Promise.all(processes.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('Prometheus and Alertmanager on the lake\'s textfile', () => {
  it('a failed run, a pipeline that never succeeded and stale landing reach the webhook, with severity and runbook', async () => {
    // landing/tasks/ is 30 h old, past its 24 h window; landing/users/ is within its 72 h.
    const expected = ['MedallionJobFailed/silver.users/', 'MedallionPipelineNoSuccess//', 'MedallionLandingStale/quality/landing.tasks', 'MedallionQualityGateFailed/silver.users/'];
    await until(() => expected.every((key) => firing().has(key)), 90_000, () => `firing: ${[...firing().keys()].join(', ')}\n${logs.join('').slice(-3000)}`);
    const alerts = firing();
    expect(alerts.get('MedallionJobFailed/silver.users/')).toMatchObject({
      labels: { severity: 'warning', alarm_id: 'job-failed', job_name: 'silver.users' },
      annotations: { summary: 'A job run failed (silver.users)', runbook_url: expect.stringMatching(/\/runbooks\/job-failed\.md$/) },
    });
    expect(alerts.get('MedallionPipelineNoSuccess//')).toMatchObject({ labels: { severity: 'critical', alarm_id: 'pipeline-no-success' } });
    expect(alerts.get('MedallionLandingStale/quality/landing.tasks')).toMatchObject({
      labels: { severity: 'critical', alarm_id: 'landing-stale' },
      annotations: { description: expect.stringContaining('landing/tasks/') },
    });
    expect(alerts.get('MedallionQualityGateFailed/silver.users/')).toMatchObject({ labels: { severity: 'critical', alarm_id: 'quality-gate-failed' } });
    // The jobs that succeeded are not reported failed, the fresh landing source is not stale, and a landing source is
    // no table of table-stale's.
    expect([...alerts.keys()].filter((key) => key.startsWith('MedallionJobFailed/bronze.') || key.includes('landing.users') || key.startsWith('MedallionTableStale/quality/landing'))).toEqual([]);
  }, 120_000);

  it('answers every query of the Grafana dashboard, with series for the jobs that ran', async () => {
    for (const panel of GRAFANA_PANELS) {
      for (const target of panel.targets) {
        const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(target.expr)}`);
        const body = (await response.json()) as { status: string; error?: string; data: { result: unknown[] } };
        expect(body.status, `${panel.title}: ${target.expr}: ${body.error ?? ''}`).toBe('success');
      }
    }
    const read = (await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(GRAFANA_PANELS.find((panel) => panel.title === 'Records read per job')!.targets[0]!.expr)}`)).json()) as { data: { result: { metric: { job_name: string } }[] } };
    expect(read.data.result.map((series) => series.metric.job_name).sort()).toEqual(['bronze.tasks_cdc', 'bronze.users_cdc']);
  }, 60_000);
});
