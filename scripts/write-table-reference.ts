import { mkdir, writeFile } from 'node:fs/promises';
import { grafanaDashboard, prometheusRules } from '../core/monitoring/index.ts';
import { renderTableReference } from '../core/table/index.ts';
import { DEFAULT_RUNBOOK_BASE_URL } from '../infra/config.ts';
import { PIPELINE_TABLES } from '../jobs/index.ts';

/** `npm run docs`: rewrites the generated references: docs/tables.md from the table specs, the Prometheus rules from the alarm registry, and the Grafana dashboard. */
await writeFile(new URL('../docs/tables.md', import.meta.url), renderTableReference(PIPELINE_TABLES));
process.stdout.write('wrote docs/tables.md\n');
await mkdir(new URL('../monitoring/prometheus/', import.meta.url), { recursive: true });
await writeFile(new URL('../monitoring/prometheus/medallion.rules.yml', import.meta.url), prometheusRules({ runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL }));
process.stdout.write('wrote monitoring/prometheus/medallion.rules.yml\n');
await mkdir(new URL('../monitoring/grafana/', import.meta.url), { recursive: true });
await writeFile(new URL('../monitoring/grafana/medallion-dashboard.json', import.meta.url), `${JSON.stringify(grafanaDashboard(), null, 2)}\n`);
process.stdout.write('wrote monitoring/grafana/medallion-dashboard.json\n');
