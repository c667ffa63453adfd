import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ENABLE, ok, useFileTempDirs } from '../support/lake-cli.ts';

/**
 * `medallion report` writes one self-contained HTML file an operator reads with their coffee. Checked in Debian's
 * Chromium (driven by playwright-core, installed by .ci/run): it loads with no console error and no request
 * leaving the file, every chart has data, and a screenshot is written.
 */

const tempDir = useFileTempDirs();
let dir = '';
let browser: Browser;
const today = new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  dir = await tempDir('report');
  // Three days of traffic ending yesterday, with faults: quarantine reasons, a warn rule over the quarantine share.
  const start = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
  await ok(['--lake', dir, 'generate', '--start', start, '--days', '3', '--users', '15', '--tasks-per-day', '25', '--seed', '4', '--fault-rate', '0.05']);
  await ok(['--lake', dir, 'run', '--all', ...ENABLE]);
  await ok(['--lake', dir, 'quality']);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

describe('medallion report', () => {
  it('renders in Chromium with no console error, fetches nothing, and every chart has data; a screenshot is written', async () => {
    const out = path.join(dir, 'report.html');
    const result = await cli(['--lake', dir, 'report', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const page = await browser.newPage({ viewport: { width: 1300, height: 1400 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('request', (request) => {
      if (!request.url().startsWith('file://')) requests.push(request.url());
    });
    await page.goto(`file://${out}`);
    await page.waitForFunction(() => Object.keys((globalThis as unknown as { medallionCharts?: object }).medallionCharts ?? {}).length === 6);
    const points = await page.evaluate(() => {
      const charts = (globalThis as unknown as { medallionCharts: Record<string, { data: { datasets: { data: unknown[] }[] } }> }).medallionCharts;
      return Object.fromEntries(Object.entries(charts).map(([id, chart]) => [id, chart.data.datasets.flatMap((dataset) => dataset.data).filter((value) => value !== null && value !== 0).length]));
    });
    expect(Object.keys(points).sort()).toEqual(['durations', 'kpis', 'quality', 'quarantine', 'records', 'runs']);
    for (const [id, count] of Object.entries(points)) expect(count, `chart ${id} has data`).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const heading = await page.textContent('h1');
    expect(heading).toContain(today);
    // Every rule that did not pass is listed (the warn rule over the bronze quarantine share, with these faults).
    expect(await page.locator('h2:has-text("Rules that did not pass") + table tr').count()).toBeGreaterThan(1);
    const screenshot = path.join(dir, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect((await stat(screenshot)).size).toBeGreaterThan(10_000);
    await page.close();
  }, 120_000);

  it('without --out, writes the report to the lake under reports/ and prints a short summary', async () => {
    const result = await cli(['--lake', dir, 'report', '--from', today, '--to', today]);
    expect(result.code, result.stderr).toBe(0);
    const html = await readFile(path.join(dir, 'reports', `medallion-report-${today}.html`), 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^medallion .*, ${today}: (healthy|WARNING|CRITICAL)$`));
    expect(lines[1]).toMatch(/^runs: (none|\d+ SUCCEEDED)/);
    expect(lines.at(-1)).toBe(`report: file://${path.join(dir, 'reports', `medallion-report-${today}.html`)}`);
    // Its summary beside it, which the AWS pipeline's last step publishes to the warning topic.
    const latest = JSON.parse(await readFile(path.join(dir, 'reports', 'latest-summary.json'), 'utf8')) as Record<string, string>;
    expect(latest).toEqual({ subject: expect.any(String), message: result.stdout, report: `file://${path.join(dir, 'reports', `medallion-report-${today}.html`)}`, from: today, to: today });
    expect(latest.subject).toMatch(new RegExp(`^medallion ${today}: (healthy|WARNING|CRITICAL), \\d+ runs, 0 failed$`));
  }, 60_000);

  it('refuses a range that ends before it starts, or is no date', async () => {
    expect((await cli(['--lake', dir, 'report', '--from', '2026-03-02', '--to', '2026-03-01'])).stderr).toContain('REPORT_RANGE_INVALID');
    for (const to of ['2026-02-30', '2026-13-01', 'yesterday']) {
      const invalid = await cli(['--lake', dir, 'report', '--to', to]);
      expect(invalid.code, to).toBe(2);
      expect(invalid.stderr, to).toContain('REPORT_RANGE_INVALID');
    }
  });
});
