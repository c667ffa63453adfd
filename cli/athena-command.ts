import type { AthenaClient } from '@aws-sdk/client-athena';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import type { Lake, TableSpec } from '../core/index.ts';
import type { ResultColumn, ResultRow } from '../core/engine/index.ts';
import { athenaTableDdl, glueDatabaseName, quoteAthenaIdentifier, s3LakeLayout } from '../core/catalog/index.ts';
import { ConfigError, MedallionError } from '../core/errors.ts';
import { layerOf } from '../core/table/index.ts';
import { PIPELINE_TABLES } from '../jobs/index.ts';
import type { CliIo } from './io.ts';
import { TABLE_ROW_LIMIT } from './commands/query.ts';
import { OUTPUT_FORMATS, RowWriter, renderTable, type OutputFormat } from './format-rows.ts';

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

/** Registers `medallion athena ddl [table]`, `athena query "SQL"` and `athena verify`. */
export function addAthenaCommand(
  program: Command,
  io: CliIo,
  context: { readonly lake: () => Lake; readonly env: NodeJS.ProcessEnv; readonly databasePrefix: () => string },
): void {
  const athena = program.command('athena').description('Athena and the Glue Data Catalog: the table definitions GlueCatalog keeps current, queries, and a check that Athena sees the committed rows.');
  athena
    .command('ddl')
    .description('Print Athena DDL (CREATE EXTERNAL TABLE over symlink manifests) for one table or every table; see docs/athena.md.')
    .argument('[table]', 'layer.table (default: every table)')
    .option('--database-prefix <prefix>', 'Glue databases are <prefix>_<layer>', 'medallion')
    .option('--location <uri>', 'the lake in S3, s3://bucket/prefix')
    .action(async (table: string | undefined, flags: { databasePrefix?: string; location?: string }) => {
      await io.out(athenaDdl(PIPELINE_TABLES, table, flags));
    });
  // The SDK finds the credentials as ever; the region and an endpoint (AWS_ENDPOINT_URL_ATHENA) from the environment.
  // The Athena client and queries are loaded by the commands that use them: the SDK takes a while to load.
  const client = async (): Promise<AthenaClient> => {
    const { AthenaClient: Client } = await import('@aws-sdk/client-athena');
    return new Client({
      ...(context.env.AWS_REGION ? { region: context.env.AWS_REGION } : {}),
      ...(context.env.AWS_ENDPOINT_URL_ATHENA ? { endpoint: context.env.AWS_ENDPOINT_URL_ATHENA } : {}),
    });
  };
  athena
    .command('query')
    .description('Run a query in Athena, in the workgroup --workgroup names (the analysts\' is medallion-<env>: its results bucket and scan limit apply), and stream the rows.')
    .argument('<sql>', 'the query, over <prefix>_<layer>.<table>')
    .option('--workgroup <name>', 'the Athena workgroup, medallion-<env> for the analysts\' (default: $MEDALLION_ATHENA_WORKGROUP, else Athena\'s primary)')
    .option('--database <name>', 'the database unqualified table names are in')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (sql: string, flags: { workgroup?: string; database?: string; format: OutputFormat }) => {
      const workGroup = flags.workgroup ?? context.env.MEDALLION_ATHENA_WORKGROUP;
      const { athenaQuery } = await import('./commands/athena-query.ts');
      const athenaClient = await client();
      const writer = new RowWriter(flags.format, (text) => io.out(text));
      const table: ResultRow[] = [];
      let columns: readonly ResultColumn[] = [];
      try {
        const outcome = await athenaQuery(athenaClient, { sql, ...(workGroup ? { workGroup } : {}), ...(flags.database ? { database: flags.database } : {}) }, async (pageColumns, rows) => {
          columns = pageColumns;
          if (flags.format === 'table') table.push(...rows.slice(0, Math.max(0, TABLE_ROW_LIMIT - table.length)));
          else await writer.rows(pageColumns, rows);
        });
        if (flags.format === 'table') await io.out(renderTable(columns, table, io.width));
        else await writer.end(columns);
        io.err(`Athena query ${outcome.queryExecutionId}${outcome.dataScannedBytes === undefined ? '' : `, ${outcome.dataScannedBytes} bytes scanned`}${outcome.outputLocation ? `, results in ${outcome.outputLocation}` : ''}\n`);
      } finally {
        athenaClient.destroy();
      }
    });
  athena
    .command('verify')
    .description('For every committed table, the rows of its committed version against the rows Athena counts over its Glue table: exit 1 when any differ or cannot be read (after a deploy, or when the catalog may lag).')
    .option('--workgroup <name>', 'the Athena workgroup (default: $MEDALLION_ATHENA_WORKGROUP)')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .action(async (flags: { workgroup?: string; format: OutputFormat }) => {
      const workGroup = flags.workgroup ?? context.env.MEDALLION_ATHENA_WORKGROUP;
      const { athenaVerify } = await import('./commands/athena-query.ts');
      const athenaClient = await client();
      try {
        const rows = await athenaVerify(context.lake(), athenaClient, { databasePrefix: context.databasePrefix(), ...(workGroup ? { workGroup } : {}) });
        const columns = ['table', 'version', 'lake_rows', 'athena_rows', 'ok', 'problem'].map((name) => ({ name, type: /rows|version/.test(name) ? 'BIGINT' : 'VARCHAR' }));
        const shown = rows.map((row) => ({ ...row, ok: row.ok ? 'yes' : 'NO' }));
        if (flags.format === 'table') await io.out(renderTable(columns, shown, io.width));
        else {
          const writer = new RowWriter(flags.format, (text) => io.out(text));
          await writer.rows(columns, shown);
          await writer.end(columns);
        }
        const differ = rows.filter((row) => !row.ok);
        if (differ.length > 0) {
          throw new MedallionError('ATHENA_VERIFY_FAILED', `Athena does not see the committed rows of ${differ.map((row) => row.table).join(', ')}`, {
            hint: 'publish the committed versions with `medallion catalog publish`, then verify again (runbooks/catalog-publish-failed.md)',
          });
        }
        io.err(`Athena sees the committed rows of all ${rows.length} tables\n`);
      } finally {
        athenaClient.destroy();
      }
    });
}
