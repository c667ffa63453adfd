import path from 'node:path';
import { quoteIdentifier, quoteLiteral, type TableSpec } from '../../../core/index.ts';
import type { Engine } from '../../../core/engine/index.ts';
import { tablePrefix } from '../../../core/layout/index.ts';
import type { StateStore } from '../../../core/state/index.ts';
import type { Storage } from '../../../core/storage/index.ts';
import { commitTables, partitionKey, type CommitResult, type PartitionEntry } from '../../../core/table/index.ts';

/**
 * Writes the rows of `sql` as Parquet with DuckDB into a staging area of `spec`'s table, the way a run does,
 * and commits them as the whole table. Returns the commit.
 */
export async function commitParquet(
  engine: Engine,
  storage: Storage,
  state: StateStore,
  spec: TableSpec,
  sql: string,
  runId: string,
): Promise<CommitResult> {
  const area = await storage.createStagingArea(`${tablePrefix(spec.name)}${runId}`);
  const partitioned = spec.partitionBy.length > 0;
  const target = partitioned ? area.localDir : path.join(area.localDir, 'data_0.parquet');
  const partitionOption = partitioned ? `, PARTITION_BY (${spec.partitionBy.map(quoteIdentifier).join(', ')})` : '';
  const { rows: stats } = await engine.query(`COPY (${sql}) TO ${quoteLiteral(target)} (FORMAT parquet, RETURN_STATS true${partitionOption})`);
  const stored = new Map((await area.persist()).map((object) => [object.key, object]));
  const partitions: Record<string, PartitionEntry> = {};
  for (const stat of stats) {
    const key = `${area.prefix}${path.relative(area.localDir, String(stat.filename)).split(path.sep).join('/')}`;
    const values: Record<string, string> = {};
    for (const entry of (stat.partition_keys ?? []) as { key: string; value: string }[]) values[entry.key] = entry.value;
    const object = stored.get(key);
    if (!object) throw new Error(`COPY reported ${key}, which the staging area did not store`);
    const pkey = partitionKey(spec.partitionBy, values);
    partitions[pkey] = { values, files: [...(partitions[pkey]?.files ?? []), { key, rows: Number(stat.count), sizeBytes: object.sizeBytes }] };
  }
  await area.dispose();
  return commitTables(state, { runId, basedOn: await state.readRoot(), writes: [{ spec, kind: 'replace_all', partitions }] });
}
