import type { Engine } from '../engine/index.ts';
import { quoteIdentifier } from '../engine/index.ts';
import { tableRelation } from '../catalog/index.ts';
import { MedallionError, NotFoundError } from '../errors.ts';
import type { JobBookmarkState, LandingBookmark } from '../bookmark/index.ts';
import type { Job } from '../job/index.ts';
import type { Lake } from '../lake.ts';
import type { LakeRoot } from '../state/index.ts';
import type { LocalFiles } from '../storage/index.ts';
import { emptyManifest, manifestFiles, type DataFile, type TableManifest, type TableSpec } from '../table/index.ts';
import { readManifest } from '../state/state-documents.ts';

export function landingBookmarkOf(state: JobBookmarkState | undefined, source: string): LandingBookmark | undefined {
  const bookmark = state?.sources[source];
  return bookmark?.kind === 'landing' ? bookmark : undefined;
}

export async function attachTableInput(
  lake: Lake,
  engine: Engine,
  root: LakeRoot,
  name: string,
  table: string,
): Promise<{ rows: number; bytes: number; release: () => Promise<void> }> {
  const ref = root.tables[table];
  if (!ref) {
    throw new MedallionError('SOURCE_TABLE_MISSING', `source table ${table} has no committed version yet`, {
      hint: `run the job that writes ${table} first, or use \`medallion run --all\``,
    });
  }
  const manifest = await readManifest(lake.state, ref.manifest);
  const { sql, files } = await tableRelation(engine, lake.storage, manifest);
  await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(`input_${name}`)} AS SELECT * FROM ${sql}`);
  const dataFiles = manifestFiles(manifest);
  return {
    rows: dataFiles.reduce((sum, file) => sum + file.rows, 0),
    bytes: dataFiles.reduce((sum, file) => sum + file.sizeBytes, 0),
    release: () => releaseFiles(files),
  };
}

export async function releaseFiles(files: LocalFiles): Promise<void> {
  await files.release();
}

export interface TableDelta {
  readonly manifest: TableManifest;
  readonly added: readonly DataFile[];
  readonly before: readonly DataFile[];
}

/**
 * What each table source (but snapshot ones) gained since the bookmark, or undefined when the run must read
 * everything: a source did anything but grow (a file removed or replaced), or an output was committed since
 * by another run than the one that committed the bookmark (a pause or disabled run, a replay, a restore), so it
 * may already hold what the sources gained, and adding it again would double it.
 */
export async function tableDeltas(lake: Lake, job: Job, root: LakeRoot, since: JobBookmarkState): Promise<Map<string, TableDelta> | undefined> {
  for (const spec of job.outputs) {
    const ref = root.tables[spec.name];
    if (!ref || (await readManifest(lake.state, ref.manifest)).runId !== since.runId) return undefined;
  }
  const deltas = new Map<string, TableDelta>();
  for (const [name, source] of Object.entries(job.sources)) {
    if (source.kind !== 'table' || source.snapshot) continue;
    const seen = since.sources[name];
    const ref = root.tables[source.table];
    if (seen?.kind !== 'table' || seen.manifest === undefined || !ref) return undefined;
    const [current, then] = await Promise.all([
      readManifest(lake.state, ref.manifest),
      // The version the bookmark read may be gone (vacuumed after a long pause): then read everything.
      readManifest(lake.state, seen.manifest).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }),
    ]);
    if (!then) return undefined;
    const currentKeys = new Set(manifestFiles(current).map((file) => file.key));
    const before = manifestFiles(then);
    if (before.some((file) => !currentKeys.has(file.key))) return undefined;
    const beforeKeys = new Set(before.map((file) => file.key));
    deltas.set(name, { manifest: current, added: manifestFiles(current).filter((file) => !beforeKeys.has(file.key)), before });
  }
  return deltas;
}

/**
 * A view `name` over some files of a table version (an empty typed relation when there are none); with
 * `fileColumn`, each row also has the path of its file in that column (see tableRelation).
 */
export async function attachFiles(lake: Lake, engine: Engine, manifest: TableManifest, files: readonly DataFile[], name: string, options: { fileColumn?: string } = {}): Promise<() => Promise<void>> {
  const wanted = new Set(files.map((file) => file.key));
  const subset: TableManifest = {
    ...manifest,
    partitions: Object.fromEntries(
      Object.entries(manifest.partitions).map(([key, entry]) => [key, { ...entry, files: entry.files.filter((file) => wanted.has(file.key)) }]),
    ),
  };
  const { sql, files: local } = await tableRelation(engine, lake.storage, subset, options);
  await engine.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(name)} AS SELECT * FROM ${sql}`);
  return () => local.release();
}

/** A view over the job's own output as last committed, for incremental plans (`previous(table)`). */
export async function attachPrevious(lake: Lake, engine: Engine, root: LakeRoot, spec: TableSpec): Promise<() => Promise<void>> {
  const ref = root.tables[spec.name];
  // As the job declares the table now: a column added since the last commit reads as NULL from its files.
  const columns = spec.columns.map(({ name, type }) => ({ name, type }));
  const manifest = ref ? { ...(await readManifest(lake.state, ref.manifest)), columns } : emptyManifest(spec.name, columns, spec.partitionBy);
  return attachFiles(lake, engine, manifest, manifestFiles(manifest), `previous_${spec.name.replace('.', '_')}`);
}
