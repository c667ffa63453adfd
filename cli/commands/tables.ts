import type { Lake } from '../../core/index.ts';
import { readManifests } from '../../core/catalog/index.ts';
import type { ResultRow } from '../../core/engine/index.ts';
import { manifestFiles } from '../../core/table/index.ts';
import { PIPELINE_TABLES } from '../../jobs/index.ts';

/** One row per table: committed version, rows, partitions, files and bytes; declared tables not written yet show version 0. */
export async function listTables(lake: Lake): Promise<ResultRow[]> {
  const root = await lake.state.readRoot();
  const manifests = await readManifests(lake.state, root);
  const names = [...new Set([...PIPELINE_TABLES.map((table) => table.name), ...manifests.keys()])].sort();
  return names.map((name) => {
    const manifest = manifests.get(name);
    const files = manifest ? manifestFiles(manifest) : [];
    return {
      table: name,
      version: manifest?.version ?? 0,
      rows: files.reduce((sum, file) => sum + file.rows, 0),
      partitions: manifest ? Object.keys(manifest.partitions).length : 0,
      files: files.length,
      size_bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
      committed_at: manifest ? manifest.committedAt : null,
    };
  });
}
