import { ConfigError } from '../errors.ts';
import { quoteIdentifier, quoteLiteral, type Engine } from '../engine/index.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot } from '../state/index.ts';
import { readManifest } from '../state/state-documents.ts';
import { QUARANTINE_TABLE, type DataFile, type TableManifest } from '../table/index.ts';
import { attachFiles } from './run-inputs.ts';

/** Reasons a quarantined record stands for the rest of its object rather than one record of it. */
export const WHOLE_OBJECT_REASONS = ['corrupt_gzip', 'object_too_large', 'too_many_records'] as const;

/** Which quarantined records of a job to re-offer (`medallion quarantine replay`): all, or by reason and time. */
export interface QuarantineFilter {
  /** Only records quarantined with this reason code (e.g. `event_time_out_of_range`). */
  readonly reason?: string;
  /** Only records quarantined by runs that started at or after this time (ISO-8601). */
  readonly since?: string;
}

/** The SQL condition over quarantine.records rows a filter selects. */
export function quarantineFilterSql(filter: QuarantineFilter): string {
  const conditions = ['true'];
  if (filter.reason !== undefined) conditions.push(`reason_code = ${quoteLiteral(filter.reason)}`);
  if (filter.since !== undefined) {
    if (Number.isNaN(Date.parse(filter.since))) throw new ConfigError('QUARANTINE_OPTIONS_INVALID', `--since ${JSON.stringify(filter.since)} is not a date or time`, { hint: 'e.g. --since 2025-11-03' });
    conditions.push(`quarantined_at >= ${quoteLiteral(new Date(filter.since).toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP`);
  }
  return conditions.join(' AND ');
}

/** The committed files of a job's partition of quarantine.records, with the manifest they belong to. */
export async function jobQuarantineFiles(lake: Lake, root: LakeRoot, job: string): Promise<{ manifest: TableManifest; files: DataFile[] } | undefined> {
  const ref = root.tables[QUARANTINE_TABLE.name];
  if (!ref) return undefined;
  const manifest = await readManifest(lake.state, ref.manifest);
  const files = Object.values(manifest.partitions).filter((entry) => entry.values.job === job).flatMap((entry) => entry.files).filter((file) => file.rows > 0);
  return files.length > 0 ? { manifest, files } : undefined;
}

/**
 * Makes table `name` in `engine`: the (source_object, record_index) of the job's quarantined records the filter
 * selects. Returns how many there are and the objects they come from.
 */
export async function selectQuarantined(lake: Lake, engine: Engine, root: LakeRoot, job: string, filter: QuarantineFilter, name: string): Promise<{ records: number; objects: Set<string> }> {
  const table = quoteIdentifier(name);
  const found = await jobQuarantineFiles(lake, root, job);
  if (!found) {
    await engine.run(`CREATE OR REPLACE TEMP TABLE ${table} (source_object VARCHAR, record_index BIGINT)`);
    return { records: 0, objects: new Set() };
  }
  const view = quoteIdentifier(`${name}_files`);
  const release = await attachFiles(lake, engine, found.manifest, found.files, `${name}_files`);
  try {
    // A record that stood for the rest of its object (a stream cut short, an object over a limit) re-offers the
    // whole object: every quarantined record of it goes back to the job, which reads the object whole again.
    const whole = WHOLE_OBJECT_REASONS.map((reason) => quoteLiteral(reason)).join(', ');
    await engine.run(`
      CREATE OR REPLACE TEMP TABLE ${table} AS
      WITH picked AS (SELECT source_object, record_index, reason_code FROM ${view} WHERE ${quarantineFilterSql(filter)})
      SELECT source_object, record_index FROM picked
      UNION
      SELECT source_object, record_index FROM ${view} WHERE source_object IN (SELECT source_object FROM picked WHERE reason_code IN (${whole}))`);
  } finally {
    await release();
  }
  const { rows } = await engine.query(`SELECT source_object, count(*) AS n FROM ${table} GROUP BY ALL`);
  return { records: rows.reduce((sum, row) => sum + Number(row.n), 0), objects: new Set(rows.map((row) => String(row.source_object))) };
}
