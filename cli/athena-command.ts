import type { Command } from 'commander';
import { z } from 'zod';
import type { TableSpec } from '../core/index.ts';
import { athenaTableDdl, glueDatabaseName, quoteAthenaIdentifier, s3LakeLayout } from '../core/catalog/index.ts';
import { ConfigError } from '../core/errors.ts';
import { layerOf } from '../core/table/index.ts';
import { PIPELINE_TABLES } from '../jobs/index.ts';
import type { CliIo } from './io.ts';

const AthenaDdlOptionsSchema = z.object({
  databasePrefix: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lowercase snake_case, e.g. medallion'),
  location: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be s3://bucket[/prefix]'),
});

const FLAGS: Readonly<Record<string, string>> = { databasePrefix: '--database-prefix', location: '--location' };

/**
 * The Athena DDL of one table, or of every table (with the databases first), for a lake at `location`
 * (`s3://bucket/prefix`, every layer under it as S3Storage stores it). Pure: the CLI prints it.
 *
 * @example
 * athenaDdl(PIPELINE_TABLES, 'gold.daily_task_kpis', { databasePrefix: 'medallion', location: 's3://example-lake-bucket/lake' });
 */
export function athenaDdl(tables: readonly TableSpec[], table: string | undefined, flags: { databasePrefix?: string; location?: string }): string {
  const parsed = AthenaDdlOptionsSchema.safeParse({ databasePrefix: flags.databasePrefix ?? 'medallion', location: flags.location });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const given = (flags as Record<string, string | undefined>)[key];
      return `${FLAGS[key] ?? key} ${given === undefined ? 'is required' : `${JSON.stringify(given)}: ${issue.message}`}`;
    });
    throw new ConfigError('ATHENA_OPTIONS_INVALID', problems.join('; '), { hint: 'e.g. medallion athena ddl --location s3://example-lake-bucket/lake' });
  }
  const selected = table === undefined ? [...tables].sort((a, b) => a.name.localeCompare(b.name)) : tables.filter((spec) => spec.name === table);
  if (selected.length === 0) {
    throw new ConfigError('ATHENA_TABLE_UNKNOWN', `no table ${JSON.stringify(table)}; known tables: ${tables.map((spec) => spec.name).sort().join(', ')}`);
  }
  const layout = s3LakeLayout({ default: parsed.data.location });
  const databases = [...new Set(selected.map((spec) => glueDatabaseName(parsed.data.databasePrefix, layerOf(spec.name))))];
  // What these statements are and are not: a table's definition at version 0, before any commit is published.
  const header = [
    `-- Athena DDL of ${selected.length === 1 ? selected[0]!.name : `${selected.length} tables`} for the lake at ${parsed.data.location} (Glue databases ${parsed.data.databasePrefix}_<layer>).`,
    '-- Version 0: each LOCATION is the table\'s symlink root, which holds no manifest until a commit is published, so',
    '-- until then a query finds no rows. A lake in S3 publishes every commit to Glue (--glue-database-prefix); to',
    '-- publish the committed versions now: medallion --lake s3://... catalog publish. See docs/athena.md.',
    '',
  ].join('\n');
  return [
    header,
    ...databases.map((database) => `CREATE DATABASE IF NOT EXISTS ${quoteAthenaIdentifier(database)};\n`),
    ...selected.map((spec) => athenaTableDdl(spec, { databasePrefix: parsed.data.databasePrefix, layout })),
  ].join('\n');
}

/** Registers `medallion athena ddl [table]`. */
export function addAthenaCommand(program: Command, io: CliIo): void {
  const athena = program.command('athena').description('Athena and the Glue Data Catalog: the table definitions GlueCatalog keeps current.');
  athena
    .command('ddl')
    .description('Print Athena DDL (CREATE EXTERNAL TABLE over symlink manifests) for one table or every table; see docs/athena.md.')
    .argument('[table]', 'layer.table (default: every table)')
    .option('--database-prefix <prefix>', 'Glue databases are <prefix>_<layer>', 'medallion')
    .option('--location <uri>', 'the lake in S3, s3://bucket/prefix')
    .action(async (table: string | undefined, flags: { databasePrefix?: string; location?: string }) => {
      await io.out(athenaDdl(PIPELINE_TABLES, table, flags));
    });
}
