import {
  BatchCreatePartitionCommand, BatchDeletePartitionCommand, BatchUpdatePartitionCommand, CreateDatabaseCommand, CreateTableCommand,
  GetDatabaseCommand, GetPartitionsCommand, GetTableCommand, UpdateTableCommand,
  type Column, type GlueClient, type Partition, type PartitionError, type PartitionInput, type StorageDescriptor, type Table, type TableInput,
} from '@aws-sdk/client-glue';
import { MedallionError } from '../errors.ts';
import type { LakeRoot, StateStore } from '../state/index.ts';
import type { Storage } from '../storage/index.ts';
import { JOB_PARTITIONED_TABLES, layerOf, manifestFiles, withAddedColumns, type PartitionEntry, type TableManifest, type TableName, type TableSpec } from '../table/index.ts';
import { readManifests } from './attach-tables.ts';
import type { Catalog, PublishOptions } from './catalog.ts';
import {
  GLUE_PARAMETERS, checkLayout, filesDigest, glueDatabaseName, gluePartitionInput, glueTableInput, renderSymlinkManifest,
  symlinkPartitionPath, type S3LakeLayout,
} from './glue-table-input.ts';
import { symlinkCurrentFolder, symlinkFolder } from '../layout/index.ts';
import { NotFoundError } from '../errors.ts';

/** Glue's batch limits: BatchCreatePartition and BatchUpdatePartition take 100 entries, BatchDeletePartition 25. */
export const GLUE_BATCH_LIMITS = { create: 100, update: 100, delete: 25 } as const;

/** Tries of one table's claim (a conditional UpdateTable) and of its partition plan, when other publishers keep changing them. */
const MAX_PUBLISH_TRIES = 10;

/** How publishing one table ended: it shows this version, or a newer version than this one claimed it. */
type TableOutcome = 'published' | 'superseded';

/** Glue refused part of a publish; what was already done is safe to redo, so publishing again resumes it. */
export class GlueCatalogError extends MedallionError {
  readonly table: string;
  constructor(table: string, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('GLUE_PUBLISH_FAILED', `table ${table}: ${message}`, {
      ...options,
      hint: options.hint ?? `the lake commit stands; Athena shows the previous version of this table until a publish succeeds (the next pipeline run retries it, or: medallion catalog publish ${table})`,
    });
    this.table = table;
  }
}

export interface GlueCatalogOptions {
  readonly glue: GlueClient;
  /** Where symlink manifests are written (lake keys `<layer>/_symlink/...`); the S3 storage of the lake. */
  readonly storage: Storage;
  readonly state: StateStore;
  /** Where each layer's lake keys live in S3, as the storage maps them. */
  readonly layout: S3LakeLayout;
  /** Databases are `<prefix>_<layer>`. */
  readonly databasePrefix: string;
  /** Table specs, for descriptions and column meanings; a committed table without one is skipped with an error. */
  readonly tables: readonly TableSpec[];
  readonly catalogId?: string;
}

interface PartitionPlan {
  readonly create: PartitionInput[];
  readonly update: { readonly values: string[]; readonly input: PartitionInput }[];
  readonly remove: string[][];
  /** Symlink manifests to write before any partition points at them: lake key to text. */
  readonly symlinks: Map<string, string>;
}

/**
 * The AWS catalog: after each commit, makes the Glue Data Catalog show exactly the committed version of
 * every table, so Athena reads `medallion_gold.daily_task_kpis` as the jobs committed it.
 *
 * Each table is an external Parquet table read through symlink manifests (see SYMLINK_PARQUET_FORMAT in
 * glue-table-input.ts): a partition whose committed files changed gets a new immutable manifest under
 * `<layer>/_symlink/<table>/<partition>/v<version>/manifest` and its Glue location moves there; partitions
 * that did not change are left alone (their digest parameter says so), and partitions the commit
 * dropped are deleted. Manifests are written before Glue points at them, so Athena never sees a
 * location without its manifest, and never a staged or superseded file.
 *
 * Publishing is idempotent (a second publish of the same root only reads) and resumable (a failed
 * publish is completed by the next one). Publishers in many processes are ordered by the table's
 * `medallion.version` parameter, which only moves forward:
 * 1. a publisher claims the table for its version with UpdateTable conditioned on the VersionId it read
 *    (a concurrent change makes it read again); it never claims a table that shows a newer version;
 * 2. it brings the data pointers up to its version: an unpartitioned table's `current/` manifest, or the
 *    partitions, leaving alone any partition a newer version wrote (each carries the version that wrote
 *    it); a partition created or deleted meanwhile by another publisher makes it plan again;
 * 3. it reads the claim back: when a newer version claimed the table meanwhile, its own late writes may
 *    have landed after the newer publisher's, so it publishes the newest root again.
 * The last publisher to write thus always ends on the newest version. Publishes in one process also run
 * one at a time.
 *
 * @example
 * const catalog = new GlueCatalog({ glue: new GlueClient({}), storage, state, layout, databasePrefix: 'medallion', tables: PIPELINE_TABLES });
 * await catalog.publish(await state.readRoot());
 */
export class GlueCatalog implements Catalog {
  private readonly options: GlueCatalogOptions;
  private readonly specs: ReadonlyMap<string, TableSpec>;
  private readonly knownDatabases = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(options: GlueCatalogOptions) {
    checkLayout(options.layout);
    glueDatabaseName(options.databasePrefix, 'gold');
    this.options = options;
    this.specs = new Map(options.tables.map((spec) => [spec.name, spec]));
  }

  /** With `tables`, only those tables (what a job's commit wrote) are brought up to date. */
  publish(root: LakeRoot, options: PublishOptions = {}): Promise<void> {
    const next = this.queue.then(() => this.publishNewest(root, options.tables, options.force ?? false, options.jobs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async publishNewest(requested: LakeRoot, tables: readonly string[] | undefined, force: boolean, jobs: readonly string[] | undefined): Promise<void> {
    let root = requested;
    for (;;) {
      const newest = await this.options.state.readRoot();
      const moved = newest.seq > root.seq;
      if (moved) root = newest;
      const superseded = await this.sync(root, tables, force, jobs);
      if (superseded.length > 0 && !moved && (await this.options.state.readRoot()).seq === root.seq) {
        // Glue shows a version of these tables that no commit of this lake made.
        throw new GlueCatalogError(superseded.join(', '), `Glue shows a newer version than the lake's newest commit (root ${root.seq})`, {
          hint: `was the lake's state replaced or restored from a backup? Check with \`medallion tables\`, then make Glue show the lake's version: medallion catalog publish --force ${superseded.join(' ')}`,
        });
      }
      if (superseded.length === 0 && (await this.options.state.readRoot()).seq === root.seq) return;
    }
  }

  /** Brings each table up to `root`; returns the tables a newer version claimed meanwhile (publish again). */
  private async sync(root: LakeRoot, tables: readonly string[] | undefined, force: boolean, jobs: readonly string[] | undefined): Promise<string[]> {
    const manifests = await readManifests(this.options.state, root, tables);
    const missing = [...manifests.keys()].filter((name) => !this.specs.has(name));
    if (missing.length > 0) throw new GlueCatalogError(missing.join(', '), 'no table spec was given to the GlueCatalog for these committed tables');
    for (const layer of new Set([...manifests.keys()].map(layerOf))) await this.ensureDatabase(glueDatabaseName(this.options.databasePrefix, layer));
    const superseded: string[] = [];
    for (const [name, manifest] of manifests) {
      const outcome = await this.syncTable(withEvolvedColumns(this.specs.get(name) as TableSpec, manifest), manifest, force, jobs);
      if (outcome === 'superseded') superseded.push(name);
    }
    return superseded;
  }

  private async ensureDatabase(name: string): Promise<void> {
    if (this.knownDatabases.has(name)) return;
    const { glue, catalogId } = this.options;
    try {
      await glue.send(new GetDatabaseCommand({ CatalogId: catalogId, Name: name }));
    } catch (error) {
      if (!isGlueError(error, 'EntityNotFoundException')) throw error;
      try {
        await glue.send(new CreateDatabaseCommand({
          CatalogId: catalogId,
          DatabaseInput: { Name: name, Description: `medallion ${name.slice(this.options.databasePrefix.length + 1)} tables, kept current by the lake's commits` },
        }));
      } catch (createError) {
        if (!isGlueError(createError, 'AlreadyExistsException')) throw createError;
      }
    }
    this.knownDatabases.add(name);
  }

  private async syncTable(spec: TableSpec, manifest: TableManifest, force: boolean, jobs: readonly string[] | undefined): Promise<TableOutcome> {
    const database = glueDatabaseName(this.options.databasePrefix, layerOf(spec.name));
    const input = glueTableInput(spec, { layout: this.options.layout, version: manifest.version });
    const name = input.Name as string;
    if (!(await this.claimTable(spec, database, input, manifest.version, force))) return 'superseded';
    if (spec.partitionBy.length > 0) await this.syncPartitions(spec, manifest, database, name, force, jobs);
    else await this.syncCurrentManifest(spec, manifest);
    // A newer version claimed the table after this one did: this publisher's writes may have landed after its.
    return !force && shownVersion(await this.getTable(database, name)) > manifest.version ? 'superseded' : 'published';
  }

  /**
   * Makes Glue's table definition say `version`: created when missing (an AlreadyExists from a racing
   * publisher turns into an update), updated conditioned on the VersionId read. False when Glue shows a
   * newer version (unless `force`).
   */
  private async claimTable(spec: TableSpec, database: string, input: TableInput, version: number, force: boolean): Promise<boolean> {
    const { glue, catalogId } = this.options;
    for (let attempt = 1; attempt <= MAX_PUBLISH_TRIES; attempt += 1) {
      const existing = await this.getTable(database, input.Name as string);
      try {
        if (!existing) {
          await glue.send(new CreateTableCommand({ CatalogId: catalogId, DatabaseName: database, TableInput: input }));
          return true;
        }
        if (!force && shownVersion(existing) > version) return false;
        if (sameTable(existing, input)) return true;
        await glue.send(new UpdateTableCommand({
          CatalogId: catalogId, DatabaseName: database, TableInput: input, SkipArchive: true,
          ...(existing.VersionId === undefined ? {} : { VersionId: existing.VersionId }),
        }));
        return true;
      } catch (error) {
        // Another publisher created or changed the table since it was read: read it again.
        if (isGlueError(error, 'AlreadyExistsException') || isGlueError(error, 'ConcurrentModificationException')) continue;
        throw new GlueCatalogError(spec.name, `could not ${existing ? 'update' : 'create'} ${database}.${input.Name}: ${describe(error)}`, { cause: error });
      }
    }
    throw new GlueCatalogError(spec.name, `${database}.${input.Name} kept changing under ${MAX_PUBLISH_TRIES} tries to publish version ${version}`);
  }

  /** Rewrites an unpartitioned table's `current/` manifest when it does not list the version's files yet. */
  private async syncCurrentManifest(spec: TableSpec, manifest: TableManifest): Promise<void> {
    const { storage, layout } = this.options;
    const key = `${symlinkCurrentFolder(spec.name)}manifest`;
    const text = renderSymlinkManifest(layout, manifestFiles(manifest));
    const shown = await storage.get(key).then((body) => body.toString('utf8'), (error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (shown !== text) await storage.put(key, text);
  }

  private async getTable(database: string, name: string): Promise<Table | undefined> {
    try {
      return (await this.options.glue.send(new GetTableCommand({ CatalogId: this.options.catalogId, DatabaseName: database, Name: name }))).Table;
    } catch (error) {
      if (isGlueError(error, 'EntityNotFoundException')) return undefined;
      throw error;
    }
  }

  /**
   * Makes the partitions match the manifest. A partition another publisher created, changed or deleted
   * between the listing and the write (Glue reports AlreadyExists or EntityNotFound for it) makes it list
   * and plan again.
   */
  private async syncPartitions(spec: TableSpec, manifest: TableManifest, database: string, table: string, force: boolean, jobs: readonly string[] | undefined): Promise<void> {
    const { glue, catalogId, storage } = this.options;
    const target = { CatalogId: catalogId, DatabaseName: database, TableName: table };
    for (let attempt = 1; attempt <= MAX_PUBLISH_TRIES; attempt += 1) {
      const plan = planPartitions(spec, manifest, await this.getPartitions(database, table), this.options.layout, { force, ...(jobs ? { jobs } : {}) });
      for (const [key, text] of plan.symlinks) await storage.put(key, text);
      let raced = false;
      const settle = (action: string, errors: readonly PartitionError[] | undefined, racing: readonly string[]) => {
        const others = (errors ?? []).filter((error) => !racing.includes(error.ErrorDetail?.ErrorCode ?? ''));
        raced ||= (errors ?? []).length > others.length;
        this.checkErrors(spec.name, action, others);
      };
      for (const batch of chunks(plan.create, GLUE_BATCH_LIMITS.create)) {
        const response = await glue.send(new BatchCreatePartitionCommand({ ...target, PartitionInputList: batch }));
        settle('create', response.Errors, ['AlreadyExistsException']);
      }
      for (const batch of chunks(plan.update, GLUE_BATCH_LIMITS.update)) {
        const response = await glue.send(new BatchUpdatePartitionCommand({
          ...target,
          Entries: batch.map((entry) => ({ PartitionValueList: entry.values, PartitionInput: entry.input })),
        }));
        settle('update', (response.Errors ?? []).map((error) => ({ PartitionValues: error.PartitionValueList, ErrorDetail: error.ErrorDetail })), ['EntityNotFoundException']);
      }
      for (const batch of chunks(plan.remove, GLUE_BATCH_LIMITS.delete)) {
        const response = await glue.send(new BatchDeletePartitionCommand({ ...target, PartitionsToDelete: batch.map((values) => ({ Values: values })) }));
        // Already gone is what a delete wants.
        settle('delete', (response.Errors ?? []).filter((error) => error.ErrorDetail?.ErrorCode !== 'EntityNotFoundException'), []);
      }
      if (!raced) return;
    }
    throw new GlueCatalogError(spec.name, `the partitions of ${database}.${table} kept changing under ${MAX_PUBLISH_TRIES} tries to publish version ${manifest.version}`);
  }

  private async getPartitions(database: string, table: string): Promise<Partition[]> {
    const partitions: Partition[] = [];
    let token: string | undefined;
    do {
      const page = await this.options.glue.send(new GetPartitionsCommand({ CatalogId: this.options.catalogId, DatabaseName: database, TableName: table, NextToken: token }));
      partitions.push(...(page.Partitions ?? []));
      token = page.NextToken;
    } while (token);
    return partitions;
  }

  private checkErrors(table: TableName, action: string, errors: readonly PartitionError[] | undefined): void {
    if (!errors || errors.length === 0) return;
    const details = errors.map((error) => `[${(error.PartitionValues ?? []).join(', ')}] ${error.ErrorDetail?.ErrorCode ?? 'error'}: ${error.ErrorDetail?.ErrorMessage ?? ''}`);
    throw new GlueCatalogError(table, `Glue could not ${action} ${errors.length} partition(s): ${details.join('; ')}`);
  }
}

/**
 * What to change so Glue's partitions match a manifest. A partition whose digest matches keeps its
 * location (its manifest is still right); a changed or new one gets a manifest at this version. A
 * partition that a newer version wrote is neither changed nor deleted (unless `force`). With `jobs`, a table
 * every job appends to has only those jobs' partitions planned (PublishOptions.jobs).
 */
export function planPartitions(
  spec: TableSpec,
  manifest: TableManifest,
  existing: readonly Partition[],
  layout: S3LakeLayout,
  options: { readonly force?: boolean; readonly jobs?: readonly string[] } = {},
): PartitionPlan {
  const plan: PartitionPlan = { create: [], update: [], remove: [], symlinks: new Map() };
  const current = new Map(existing.map((partition) => [JSON.stringify(partition.Values ?? []), partition]));
  const newer = (partition: Partition | undefined) => !options.force && shownVersion(partition) > manifest.version;
  // A shared table's partition column is `job` (its only one); another job's partitions are left as they are.
  const jobs = options.jobs && SHARED_BY_JOBS.has(spec.name) ? new Set(options.jobs) : undefined;
  const others = (values: readonly string[]) => jobs !== undefined && !jobs.has(values[spec.partitionBy.indexOf('job')] ?? '');
  const wanted = new Set<string>();
  for (const entry of Object.values(manifest.partitions) as PartitionEntry[]) {
    const values = spec.partitionBy.map((key) => entry.values[key] ?? '');
    if (others(values)) continue;
    const id = JSON.stringify(values);
    wanted.add(id);
    const found = current.get(id);
    if (newer(found)) continue;
    const text = renderSymlinkManifest(layout, entry.files);
    const digest = filesDigest(text);
    // Forced, every partition gets its manifest written anew: a lake restored from a backup, or one whose manifests
    // were removed, may have Glue pointing at a manifest that is no longer there.
    const unchangedFiles = !options.force && found?.Parameters?.[GLUE_PARAMETERS.filesDigest] === digest && found.StorageDescriptor?.Location !== undefined;
    const folder = symlinkFolder(spec.name, manifest.version, symlinkPartitionPath(spec.partitionBy, entry.values));
    const input = gluePartitionInput(spec, entry, { layout, symlinkFolderKey: folder, digest, version: manifest.version });
    if (unchangedFiles) {
      // The files did not change: keep the location and the version that wrote them.
      const kept: PartitionInput = {
        ...input,
        Parameters: { ...input.Parameters, [GLUE_PARAMETERS.version]: found.Parameters?.[GLUE_PARAMETERS.version] ?? String(manifest.version) },
        StorageDescriptor: { ...input.StorageDescriptor, Location: found.StorageDescriptor?.Location },
      };
      if (!sameStorage(found.StorageDescriptor, kept.StorageDescriptor)) plan.update.push({ values, input: kept });
      continue;
    }
    plan.symlinks.set(`${folder}manifest`, text);
    if (found) plan.update.push({ values, input });
    else plan.create.push(input);
  }
  for (const [id, partition] of current) if (!wanted.has(id) && !newer(partition) && !others(partition.Values ?? JSON.parse(id))) plan.remove.push(partition.Values ?? JSON.parse(id));
  return plan;
}

const SHARED_BY_JOBS: ReadonlySet<string> = new Set(JOB_PARTITIONED_TABLES.map((spec) => spec.name));

/** The table version a Glue table or partition shows (`medallion.version`); -1 when it has none. */
function shownVersion(entity: { readonly Parameters?: Record<string, string> | undefined } | undefined): number {
  const value = Number(entity?.Parameters?.[GLUE_PARAMETERS.version] ?? -1);
  return Number.isFinite(value) ? value : -1;
}

function columnsKey(columns: readonly Column[] | undefined): string {
  return JSON.stringify((columns ?? []).map((column) => [column.Name, column.Type, column.Comment ?? '']));
}

function sameParameters(existing: Readonly<Record<string, string>> | undefined, wanted: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(wanted ?? {}).every(([key, value]) => existing?.[key] === value);
}

function sameStorage(existing: StorageDescriptor | undefined, wanted: StorageDescriptor | undefined): boolean {
  return (
    columnsKey(existing?.Columns) === columnsKey(wanted?.Columns) &&
    existing?.Location === wanted?.Location &&
    existing?.InputFormat === wanted?.InputFormat &&
    existing?.OutputFormat === wanted?.OutputFormat &&
    existing?.SerdeInfo?.SerializationLibrary === wanted?.SerdeInfo?.SerializationLibrary &&
    sameParameters(existing?.SerdeInfo?.Parameters, wanted?.SerdeInfo?.Parameters)
  );
}

/** Whether Glue's table already says what `input` says (Glue adds fields of its own, which are ignored). */
function sameTable(existing: Table, input: TableInput): boolean {
  return (
    (existing.Description ?? '') === (input.Description ?? '') &&
    existing.TableType === input.TableType &&
    sameParameters(existing.Parameters, input.Parameters) &&
    columnsKey(existing.PartitionKeys) === columnsKey(input.PartitionKeys) &&
    sameStorage(existing.StorageDescriptor, input.StorageDescriptor)
  );
}

function isGlueError(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** The spec with the columns schema evolution added to the committed table (its manifest), so Athena sees them. */
export function withEvolvedColumns(spec: TableSpec, manifest: TableManifest): TableSpec {
  return withAddedColumns(
    spec,
    manifest.columns
      .filter((column) => column.origin !== undefined && !spec.columns.some((own) => own.name === column.name))
      .map((column) => ({ ...column, description: `Added by schema evolution (${column.origin}).` })),
  );
}
