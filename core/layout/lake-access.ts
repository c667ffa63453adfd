import { JOB_PARTITIONED_TABLES, QUALITY_REJECTED_TABLE, QUALITY_RESULTS_TABLE, QUARANTINE_TABLE, type TableName } from '../table/index.ts';
import { jobLockName } from '../job/job-lock.ts';
import { bookmarkDocumentPrefix, CATALOG_PUBLISH_RECORD, claimKeysOf, MAINTENANCE_LOCK, manifestDocumentPrefix, ROOT_KEY_PATTERNS, runRecordCollection, stateItemKey, VACUUM_RECORD } from '../state/state-keys.ts';
import { jobQualityResultsPrefix, jobQuarantinePrefix, jobRejectedRowsPrefix, landingPrefix, QUALITY_JOB, REPORTS_PREFIX, symlinkPartitionFolder, symlinkRoot, tablePrefix } from './lake-keys.ts';

/** What a job run or the quality step may do in the lake: lake key prefixes (ending in '/') and catalog tables. */
export interface LakeAccess {
  /** Prefixes whose objects it reads (and lists). */
  readonly reads: readonly string[];
  /** Prefixes it only lists, never reads an object of (landing freshness is a listing). */
  readonly lists: readonly string[];
  /** Prefixes it writes, overwrites and deletes under (and reads back). */
  readonly writes: readonly string[];
  /** Tables whose partitions it publishes to the catalog. */
  readonly publishes: readonly TableName[];
  /** Tables whose catalog entries it reads. */
  readonly catalogReads: readonly TableName[];
  /**
   * Partition keys of the state items it puts (and checks in a transaction: a fenced commit checks its lock),
   * as IAM's `dynamodb:LeadingKeys` condition matches them (`*`: any characters). Reading the state is not
   * limited: a run reads the root and the manifests of the tables it reads.
   */
  readonly stateWrites: readonly string[];
  /** Partition keys of the state items it deletes (the vacuum: manifests no kept version names). */
  readonly stateDeletes: readonly string[];
}

/**
 * The state items every commit writes: the root, its hint and the claim index. The root names every table, so
 * IAM cannot limit a writer to its own tables' entries in it; each commit also claims the pointers it moves, and
 * those claims are the committer's own (core/state/root-claims.ts; docs/deploy.md, "The state table, item by item").
 */
const ROOT_WRITES = ROOT_KEY_PATTERNS;

/** The state keys of every manifest document of `tables`. */
const manifestWrites = (tables: readonly string[]) => tables.map((table) => `${stateItemKey.document(manifestDocumentPrefix(table))}*`);

/** What the layout needs to know of a job (a `Job` is one): its name, where its sources are, what it writes. */
export interface JobFootprint {
  readonly name: string;
  readonly sources: Readonly<Record<string, { readonly kind: 'landing'; readonly prefix: string } | { readonly kind: 'table'; readonly table: TableName }>>;
  readonly outputs: readonly { readonly name: TableName }[];
}

/** A rule set's table and the tables its rules reference (`TableRuleSet` has both). */
export interface RuleSetTables {
  readonly table: string;
  readonly references: Readonly<Record<string, string>>;
}

const QUARANTINE = QUARANTINE_TABLE.name;
const QUALITY_RESULTS = QUALITY_RESULTS_TABLE.name;
const QUALITY_REJECTED = QUALITY_REJECTED_TABLE.name;
const SHARED_BY_JOBS: readonly string[] = JOB_PARTITIONED_TABLES.map((spec) => spec.name);

/** The symlink manifests of `job`'s partition of a table every job appends to (`quarantine/_symlink/records/job=silver.tasks/`). */
const ownPartitionSymlinks = (table: TableName, job: string) => symlinkPartitionFolder(table, ['job'], { job });

/** The rule sets of a job's outputs: the job's quality gate applies exactly these. */
export function jobRuleSets<R extends RuleSetTables>(job: JobFootprint, ruleSets: readonly R[]): R[] {
  return ruleSets.filter((set) => job.outputs.some((output) => output.name === set.table));
}

/** The tables a set of rule sets compares against (`# reference users = silver.users`). */
export function referencedTables(ruleSets: readonly RuleSetTables[]): TableName[] {
  return [...new Set(ruleSets.flatMap((set) => Object.values(set.references)))] as TableName[];
}

/** The landing source a `landing.<source>` rule set checks, as a lake prefix (`landing/tasks/`). */
export function landingPrefixOf(ruleSetTable: string): string {
  return landingPrefix(ruleSetTable.slice('landing.'.length));
}

/**
 * What a run of `job` touches: it reads its sources; writes its outputs and their symlink manifests, and its
 * own quarantine folder and its own partition's symlink manifests of the quarantine; publishes them. When its outputs have rule sets (its
 * quality gate), it also reads quality.results (the history dynamic rules and anomaly detection compare
 * against) and the tables those rule sets reference, writes its own quality.results folder, and
 * publishes quality.results.
 */
export function jobLakeAccess(job: JobFootprint, ruleSets: readonly RuleSetTables[]): LakeAccess {
  const gated = jobRuleSets(job, ruleSets);
  const sourcePrefixes = Object.values(job.sources).map((source) => (source.kind === 'landing' ? source.prefix : tablePrefix(source.table)));
  const qualityReads = gated.length > 0 ? [tablePrefix(QUALITY_RESULTS), ...referencedTables(gated).map(tablePrefix)] : [];
  // Every file a run writes stays under its staging prefix (the table's, or the job's folder of the
  // quarantine and quality.results tables, which several jobs append to); commits only record the keys.
  // A gated run stopped by a fail rule commits its results and the rows it refused (quality.rejected_rows).
  const published: TableName[] = [...job.outputs.map((output) => output.name), QUARANTINE, ...(gated.length > 0 ? [QUALITY_RESULTS, QUALITY_REJECTED] : [])];
  return {
    reads: [...new Set([...sourcePrefixes, ...qualityReads])],
    lists: [],
    writes: [
      ...job.outputs.map((output) => tablePrefix(output.name)),
      jobQuarantinePrefix(job.name),
      ...(gated.length > 0 ? [jobQualityResultsPrefix(job.name), jobRejectedRowsPrefix(job.name)] : []),
      // The Glue catalog publishes a committed table through symlink manifests beside it (core/catalog): all
      // of its own tables', and of the tables every job appends to only its own partition's.
      ...job.outputs.map((output) => symlinkRoot(output.name)),
      ...published.filter((table) => SHARED_BY_JOBS.includes(table)).map((table) => ownPartitionSymlinks(table, job.name)),
    ],
    publishes: published,
    catalogReads: Object.values(job.sources).flatMap((source) => (source.kind === 'table' ? [source.table] : [])),
    // Its commits (the manifests of the tables it publishes), its bookmarks, its run records, its lock
    // (held, renewed, released, and checked by a fenced commit) and the outcome of its catalog publish.
    stateWrites: [
      ...ROOT_WRITES,
      // The claims of the pointers its commits move: its tables' (and the shared tables') and its bookmark's.
      ...claimKeysOf(published, [job.name]),
      ...manifestWrites(published),
      `${stateItemKey.document(bookmarkDocumentPrefix(job.name))}*`,
      stateItemKey.records(runRecordCollection(job.name)),
      stateItemKey.lock(jobLockName(job.name)),
      stateItemKey.records(CATALOG_PUBLISH_RECORD.collection),
    ],
    stateDeletes: [],
  };
}

/**
 * What the quality step touches: it reads every table that has a rule set, the tables those rule sets
 * reference and quality.results (history); lists (not reads) the landing prefixes whose freshness it
 * checks; writes only its own quality.results folder (`quality/results/quality/`) and its partition's symlink
 * manifests there (`quality/_symlink/results/job=quality/`); publishes quality.results.
 */
export function qualityStepLakeAccess(ruleSets: readonly RuleSetTables[]): LakeAccess {
  const tables = ruleSets.filter((set) => !set.table.startsWith('landing.')).map((set) => set.table as TableName);
  return {
    reads: [...new Set([...tables, ...referencedTables(ruleSets), QUALITY_RESULTS].map(tablePrefix))],
    lists: ruleSets.filter((set) => set.table.startsWith('landing.')).map((set) => landingPrefixOf(set.table)),
    writes: [jobQualityResultsPrefix(QUALITY_JOB), ownPartitionSymlinks(QUALITY_RESULTS, QUALITY_JOB)],
    publishes: [QUALITY_RESULTS],
    catalogReads: [],
    stateWrites: [...ROOT_WRITES, ...claimKeysOf([QUALITY_RESULTS], []), ...manifestWrites([QUALITY_RESULTS]), stateItemKey.records(CATALOG_PUBLISH_RECORD.collection)],
    stateDeletes: [],
  };
}

/** Whether `access` lets its holder do `what` to the object at `key` (writing implies reading back; reading implies listing). */
export function accessAllows(access: LakeAccess, what: 'read' | 'list' | 'write', key: string): boolean {
  const under = (prefixes: readonly string[]) => prefixes.some((prefix) => key.startsWith(prefix));
  if (what === 'write') return under(access.writes);
  if (what === 'read') return under(access.reads) || under(access.writes);
  return under(access.reads) || under(access.writes) || under(access.lists);
}

/**
 * Whether `access` lets its holder put (or delete) the state item with partition key `key`, as IAM's StringLike
 * matches `dynamodb:LeadingKeys` (`*` any characters, `?` one).
 */
export function stateWriteAllows(access: LakeAccess, key: string, what: 'put' | 'delete' = 'put'): boolean {
  return (what === 'put' ? access.stateWrites : access.stateDeletes).some((pattern) => stringLike(pattern).test(key));
}

function stringLike(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}

/**
 * What the reconcile step touches: it reads the landing objects of the sources it follows (cutting them into
 * records again), their bronze tables, the silver tables of effective events and the quarantine; writes nothing.
 */
export function reconcileLakeAccess(sources: readonly { readonly landingPrefix: string; readonly bronzeTable: string; readonly silverEvents: string }[]): LakeAccess {
  const tables = [...new Set([...sources.flatMap((source) => [source.bronzeTable, source.silverEvents]), QUARANTINE])] as TableName[];
  return {
    reads: [...sources.map((source) => source.landingPrefix), ...tables.map(tablePrefix)],
    lists: [],
    writes: [],
    publishes: [],
    catalogReads: [],
    stateWrites: [],
    stateDeletes: [],
  };
}

/**
 * What the vacuum touches: every table's folder and its symlink manifests, where it lists, reads nothing but the
 * listing, and deletes what no kept version lists (core/runner vacuum.ts).
 */
export function vacuumLakeAccess(tables: readonly TableName[]): LakeAccess {
  return {
    reads: [],
    lists: [],
    writes: [...new Set(tables.flatMap((table) => [tablePrefix(table), symlinkRoot(table)]))],
    publishes: [],
    catalogReads: [],
    // It records its horizon, holds the maintenance lock, and removes the manifests no kept version names.
    stateWrites: [stateItemKey.records(VACUUM_RECORD.collection), stateItemKey.lock(MAINTENANCE_LOCK)],
    stateDeletes: manifestWrites(tables),
  };
}

/**
 * What the report step (`medallion report`) touches: it reads every table the lake's root lists (the runs'
 * counts, quarantine by reason, quality.results with the freshness the quality step found, the gold KPIs), lists
 * nothing of landing, and writes only under `reports/`.
 */
export function reportLakeAccess(tables: readonly TableName[]): LakeAccess {
  return {
    reads: [...new Set(tables.map(tablePrefix))],
    lists: [],
    writes: [REPORTS_PREFIX],
    publishes: [],
    catalogReads: [],
    stateWrites: [],
    stateDeletes: [],
  };
}
