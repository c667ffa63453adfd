import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTable, openLocalLake, type Lake } from '../../../core/index.ts';
import { s3LakeLayout } from '../../../core/catalog/index.ts';
import { GlueCatalog } from '../../../core/catalog/glue-catalog.ts';
import { vacuumLake } from '../../../core/runner/index.ts';
import { commitTables, partitionKey, type PartitionEntry } from '../../../core/table/index.ts';
import { useTempDirs } from '../test-resources.ts';
import { capturingGlue } from './glue-capture.ts';

const tempDir = useTempDirs();
const HOUR = 3_600_000;
const layout = s3LakeLayout({ default: 's3://example-lake-bucket/lake' });

const events = defineTable({
  name: 'bronze.example_events',
  description: 'Example events, one partition per day.',
  columns: [
    { name: 'event_id', type: 'VARCHAR', description: "The event's id." },
    { name: 'ingest_date', type: 'DATE', description: 'UTC day the event landed.' },
  ],
  partitionBy: ['ingest_date'],
  writeMode: 'replace_partitions',
});

const day = (index: number) => `2025-01-0${index + 1}`;

function partitions(runId: string, days: readonly number[]): Record<string, PartitionEntry> {
  return Object.fromEntries(
    days.map((index) => {
      const values = { ingest_date: day(index) };
      return [partitionKey(events.partitionBy, values), { values, files: [{ key: `bronze/example_events/${runId}/ingest_date=${day(index)}/data_0.parquet`, rows: 1, sizeBytes: 1 }] }];
    }),
  );
}

/** The lake key of the symlink manifest a Glue partition reads (its Location's folder). */
function manifestKeyOf(location: string): string {
  return `${location.replace('s3://example-lake-bucket/lake/', '')}manifest`;
}

describe('the vacuum and the catalog\'s symlink manifests', () => {
  it('keeps the manifest of every partition Glue still reads, also one written by a version older than it keeps', async () => {
    const dir = await tempDir('vacuum-symlinks');
    const local = openLocalLake(dir);
    const glue = capturingGlue();
    const catalog = new GlueCatalog({ glue: glue.glue, storage: local.storage, state: local.state, layout, databasePrefix: 'example', tables: [events] });
    const lake: Lake = { ...local, catalog };
    // Version 1 writes days 0-2; versions 2 to 4 rewrite only day 2, so days 0 and 1 keep reading v1's manifests.
    let root = (await commitTables(lake.state, { runId: 'run-1', basedOn: await lake.state.readRoot(), writes: [{ spec: events, kind: 'replace_partitions', partitions: partitions('run-1', [0, 1, 2]) }] })).root;
    await catalog.publish(root);
    for (const run of ['run-2', 'run-3', 'run-4']) {
      root = (await commitTables(lake.state, { runId: run, basedOn: root, writes: [{ spec: events, kind: 'replace_partitions', partitions: partitions(run, [2]) }] })).root;
      await catalog.publish(root);
    }
    const glued = glue.partitions.get('example_bronze.example_events') as Map<string, { StorageDescriptor: { Location: string } }>;
    const locations = [...glued.values()].map((partition) => partition.StorageDescriptor.Location);
    expect(locations.filter((location) => location.includes('/v1/'))).toHaveLength(2);

    // A clock far ahead: only the newest version is kept whole.
    const result = await vacuumLake(lake, [], { retainMs: HOUR, now: () => new Date(Date.now() + 48 * HOUR) });
    expect(result.filesRemoved).toBeGreaterThan(0);
    for (const location of locations) await expect(access(path.join(dir, manifestKeyOf(location))), location).resolves.toBeUndefined();
    // What no partition reads any more goes: day 2's manifests of versions 2 and 3.
    for (const version of [2, 3]) {
      await expect(access(path.join(dir, `bronze/_symlink/example_events/ingest_date=${day(2)}/v${version}/manifest`))).rejects.toThrow();
    }
  });

  it('catalog publish --force writes every partition\'s manifest anew, mending a partition whose manifest was removed', async () => {
    const dir = await tempDir('vacuum-symlinks-force');
    const local = openLocalLake(dir);
    const glue = capturingGlue();
    const catalog = new GlueCatalog({ glue: glue.glue, storage: local.storage, state: local.state, layout, databasePrefix: 'example', tables: [events] });
    let root = (await commitTables(local.state, { runId: 'run-1', basedOn: await local.state.readRoot(), writes: [{ spec: events, kind: 'replace_partitions', partitions: partitions('run-1', [0, 1]) }] })).root;
    await catalog.publish(root);
    root = (await commitTables(local.state, { runId: 'run-2', basedOn: root, writes: [{ spec: events, kind: 'replace_partitions', partitions: partitions('run-2', [1]) }] })).root;
    await catalog.publish(root);
    const locations = () => [...(glue.partitions.get('example_bronze.example_events') as Map<string, { StorageDescriptor: { Location: string } }>).values()].map((partition) => partition.StorageDescriptor.Location);
    // Day 0 reads version 1's manifest; take it away, as a vacuum before this release did.
    const lost = locations().find((location) => location.includes('/v1/'))!;
    await rm(path.join(dir, manifestKeyOf(lost)));
    await catalog.publish(root);
    expect(locations()).toContain(lost);
    await catalog.publish(root, { force: true });
    for (const location of locations()) {
      expect(location).toContain('/v2/');
      await expect(access(path.join(dir, manifestKeyOf(location))), location).resolves.toBeUndefined();
    }
  });
});
