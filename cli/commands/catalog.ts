import type { Command } from 'commander';
import type { Lake } from '../../core/index.ts';
import { ConfigError, MedallionError } from '../../core/errors.ts';
import { CATALOG_PUBLISH_RECORD, type CatalogPublishOutcome } from '../../core/runner/index.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';
import type { CliIo } from '../io.ts';

/** One line about a publish: what it showed, or why it did not. */
export function describeCatalogPublish(outcome: CatalogPublishOutcome): string {
  const what = `${outcome.tables.length} table(s) at root ${outcome.rootSeq}`;
  if (outcome.ok) return `catalog: published ${what}${outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : ''} (${outcome.at})`;
  return `catalog: NOT published: ${what}, ${outcome.attempts} attempt(s) (${outcome.at}): ${outcome.error ?? 'unknown error'}. ` +
    'The commits stand; Athena shows the previous version of these tables until `medallion catalog publish` succeeds.';
}

/**
 * Registers `medallion catalog publish [tables...]` (show the committed root in the catalog: Glue for a lake
 * in S3 with a Glue database prefix, the DuckDB views locally) and `medallion catalog status` (the last
 * publish's outcome, as the jobs recorded it).
 */
export function addCatalogCommand(program: Command, io: CliIo, lake: () => Lake): void {
  const catalog = program.command('catalog').description('The catalog query engines read (Glue in AWS, DuckDB views locally): publish the committed tables, or show how the last publish went.');
  catalog
    .command('publish')
    .description('Publish the committed root to the catalog (every table, or those named): after a failed publish (the catalog-publish-failed alarm) or a restore. Exits 1 if it fails.')
    .argument('[tables...]', 'layer.table names (default: every committed table)')
    .option('--force', 'show the lake\'s version even where Glue shows a newer one, and write every partition\'s manifest anew (a lake whose state was replaced or restored, or whose manifests were removed)')
    .action(async (names: string[], flags: { force?: boolean }) => {
      const known = new Set<string>(PIPELINE_TABLES.map((spec) => spec.name));
      const unknown = names.filter((name) => !known.has(name));
      if (unknown.length > 0) throw new ConfigError('TABLE_UNKNOWN', `no table ${unknown.join(', ')}`, { hint: `tables: ${[...known].sort().join(', ')}` });
      const opened = lake();
      const root = await opened.state.readRoot();
      const tables = names.length > 0 ? names : Object.keys(root.tables).sort();
      const started = Date.now();
      await opened.catalog.publish(root, { tables, ...(flags.force ? { force: true } : {}) });
      const outcome: CatalogPublishOutcome = { ok: true, rootSeq: root.seq, tables, jobs: [], attempts: 1, at: new Date().toISOString() };
      await opened.state.putRecord(CATALOG_PUBLISH_RECORD.collection, CATALOG_PUBLISH_RECORD.id, outcome);
      await io.out(`${describeCatalogPublish(outcome)} in ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
    });
  catalog
    .command('status')
    .description('How the last catalog publish went (after a run, or `catalog publish`): the root, the tables, and the error if it failed. Exits 1 if it failed.')
    .action(async () => {
      const outcome = await lake().state.getRecord<CatalogPublishOutcome>(CATALOG_PUBLISH_RECORD.collection, CATALOG_PUBLISH_RECORD.id);
      if (!outcome) {
        await io.out('catalog: no publish recorded yet (no run has committed in this lake)\n');
        return;
      }
      if (outcome.ok) {
        await io.out(`${describeCatalogPublish(outcome)}\n`);
        return;
      }
      throw new MedallionError('CATALOG_PUBLISH_FAILED', `the last publish (root ${outcome.rootSeq}, ${outcome.at}, ${outcome.attempts} attempt(s)) failed: ${outcome.error ?? 'unknown error'}`, {
        hint: `the commits stand; Athena shows the previous version of ${outcome.tables.join(', ') || 'the tables'} until this succeeds: medallion catalog publish`,
      });
    });
}
