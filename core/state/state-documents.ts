import { z } from 'zod';
import type { JobBookmarkState } from '../bookmark/job-bookmark.ts';
import { MedallionError } from '../errors.ts';
import type { TableManifest } from '../table/manifest.ts';
import type { LakeRoot, StateStore } from './state-store.ts';
import { bookmarkDocumentPrefix, manifestVersionPrefix } from './state-keys.ts';

/**
 * The shapes of the state documents, checked whenever one is read: a document changed outside medallion
 * (edited by hand, cut, written by another tool) is reported with its id and what is wrong with it, instead
 * of failing somewhere later without a name. Fields added by later versions are let through.
 */
const count = z.number().int().nonnegative();

const DataFileSchema = z.looseObject({
  key: z.string().min(1), rows: count, sizeBytes: count, schema: z.string().optional(),
  sourceObjects: z.looseObject({ min: z.string(), max: z.string() }).optional(),
});

export const TableManifestSchema = z.looseObject({
  table: z.string().min(1),
  version: count,
  columns: z.array(z.looseObject({ name: z.string().min(1), type: z.string().min(1), origin: z.string().optional() })),
  partitionBy: z.array(z.string()),
  partitions: z.record(z.string(), z.looseObject({ values: z.record(z.string(), z.string().nullable()), files: z.array(DataFileSchema) })),
  committedAt: z.string(),
  runId: z.string(),
  job: z.string().optional(),
  operation: z.string().optional(),
  commitSeq: count.optional(),
  restoredFrom: count.optional(),
});

const KeyAndTime = z.looseObject({ key: z.string(), lastModifiedMs: z.number() });

const SourceBookmarkSchema = z.discriminatedUnion('kind', [
  z.looseObject({
    kind: z.literal('landing'),
    watermarkMs: z.number(),
    bandMs: z.number().nonnegative(),
    recent: z.array(KeyAndTime),
    ahead: z.array(KeyAndTime).optional(),
    retry: z
      .array(z.looseObject({
        key: z.string(),
        error: z.string(),
        readUpTo: z.looseObject({ watermarkMs: z.number(), bandMs: z.number().nonnegative(), recent: z.array(z.string()), ahead: z.array(z.string()).optional() }).optional(),
      }))
      .optional(),
  }),
  z.looseObject({ kind: z.literal('table'), table: z.string().min(1), version: count, manifest: z.string().optional() }),
]);

export const JobBookmarkStateSchema = z.looseObject({
  jobName: z.string().min(1),
  version: count,
  run: count,
  attempt: count,
  runId: z.string().min(1),
  previousRunId: z.string().optional(),
  committedAt: z.string(),
  sources: z.record(z.string(), SourceBookmarkSchema),
});

export const LakeRootSchema = z.looseObject({
  seq: count,
  committedAt: z.string(),
  runId: z.string().nullable(),
  tables: z.record(z.string(), z.looseObject({ version: count, manifest: z.string().min(1) })),
  bookmarks: z.record(z.string(), z.string().min(1)),
  commitId: z.string().optional(),
  fences: z.record(z.string(), z.number()).optional(),
});

/** `value` as a document of `what`, or STATE_CORRUPT naming `where` and every field that is wrong. */
export function checkStateDocument<T>(schema: z.ZodType, value: unknown, what: string, where: string, hint: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return value as T;
  const problems = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(the document)'}: ${issue.message}`);
  throw new MedallionError('STATE_CORRUPT', `${where} is not a valid ${what}: ${problems.join('; ')}${parsed.error.issues.length > 5 ? '; ...' : ''}`, { hint });
}

/** A table manifest, checked (see checkStateDocument). */
export async function readManifest(state: StateStore, id: string): Promise<TableManifest> {
  return checkStateDocument<TableManifest>(TableManifestSchema, await state.getDocument(id), 'table manifest', `state document ${id} in ${state.location}`,
    'it was changed outside medallion: restore it from a backup of the state; every state document is written once, whole, and never changed');
}

/** A job bookmark, checked (see checkStateDocument). */
export async function readBookmark(state: StateStore, id: string): Promise<JobBookmarkState> {
  const job = id.split('/')[1] ?? 'JOB';
  return checkStateDocument<JobBookmarkState>(JobBookmarkStateSchema, await state.getDocument(id), 'job bookmark', `state document ${id} in ${state.location}`,
    `restore it from a backup of the state, or start the job's bookmark over: medallion bookmark reset ${job}`);
}

/**
 * A root as a store read it, checked (see checkStateDocument). Each pointer must name a document of its own
 * table or job, and a table's version must be its manifest's (`manifests/<table>/<version>-...`,
 * `bookmarks/<job>/`): only a table's owner may write those (IAM, by partition key), so a root cannot point gold
 * at a manifest a bronze task wrote, nor give it a version its manifest does not have.
 */
export function checkRoot(value: unknown, where: string): LakeRoot {
  const hint = 'it was changed outside medallion: restore the state from a backup; roots are written once, whole, and never changed';
  const root = checkStateDocument<LakeRoot>(LakeRootSchema, value, 'lake root', where, hint);
  const foreign = [
    ...Object.entries(root.tables).flatMap(([table, ref]) => (ref.manifest.startsWith(manifestVersionPrefix(table, ref.version)) ? [] : [`table ${table} (version ${ref.version}) at ${ref.manifest}`])),
    ...Object.entries(root.bookmarks).flatMap(([job, id]) => (id.startsWith(bookmarkDocumentPrefix(job)) ? [] : [`the bookmark of ${job} at ${id}`])),
  ];
  if (foreign.length > 0) throw new MedallionError('STATE_CORRUPT', `${where} points ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}: not a document of its own table (and version) or job`, { hint });
  return root;
}
