import { z } from 'zod';

export const LAYERS = ['bronze', 'silver', 'gold', 'quarantine', 'quality'] as const;
export type Layer = (typeof LAYERS)[number];

/** `layer.table`, the name analysts query and jobs refer to. */
export type TableName = `${Layer}.${string}`;

export interface ColumnSpec {
  readonly name: string;
  /** DuckDB type, e.g. `VARCHAR`, `BIGINT`, `TIMESTAMP`, `VARCHAR[]`, `JSON`. */
  readonly type: string;
  /** What the column means, for the table reference. */
  readonly description: string;
  /**
   * Where a column added by schema evolution comes from, e.g. `dynamodb:N:priorityScore` (a DynamoDB
   * attribute and its type); kept in the table's manifest so later runs type it the same way.
   */
  readonly origin?: string;
  /**
   * Personal data: `direct` names a person on its own (an e-mail address, a name); `indirect` only together with other
   * columns (a country). Analysts are granted no layer with a direct column unless the deployment says so
   * (infra `analystPersonalData`); docs/tables.md marks both.
   */
  readonly personalData?: 'direct' | 'indirect';
}

/**
 * A table the lake holds: its columns, how it is partitioned, and how runs write it.
 * `append`: every run adds files (bronze, quarantine). `replace_partitions`: a run replaces each partition
 * it writes as a whole and leaves the others (an unpartitioned table is one partition).
 */
export interface TableSpec {
  readonly name: TableName;
  readonly description: string;
  readonly columns: readonly ColumnSpec[];
  readonly partitionBy: readonly string[];
  readonly writeMode: 'append' | 'replace_partitions';
}

const IDENTIFIER = /^[a-z][a-z0-9_]*$/;
const METADATA_IDENTIFIER = /^_[a-z][a-z0-9_]*$/;

export const TableSpecSchema = z
  .object({
    name: z.string().regex(/^(bronze|silver|gold|quarantine|quality)\.[a-z][a-z0-9_]*$/, 'must be layer.table in snake_case'),
    description: z.string().min(1),
    columns: z
      .array(
        z.object({
          name: z.string().refine((name) => IDENTIFIER.test(name) || METADATA_IDENTIFIER.test(name), 'must be snake_case (metadata columns start with _)'),
          type: z.string().min(1),
          description: z.string().min(1),
          origin: z.string().optional(),
          personalData: z.enum(['direct', 'indirect']).optional(),
        }),
      )
      .min(1),
    partitionBy: z.array(z.string()),
    writeMode: z.enum(['append', 'replace_partitions']),
  })
  .superRefine((spec, context) => {
    const names = spec.columns.map((column) => column.name);
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) context.addIssue({ code: 'custom', message: `column ${name} is declared twice`, path: ['columns'] });
      seen.add(name);
    }
    for (const key of spec.partitionBy) {
      if (!seen.has(key)) context.addIssue({ code: 'custom', message: `partition column ${key} is not a declared column`, path: ['partitionBy'] });
    }
  });

/**
 * `spec` with columns schema evolution added, after its data columns and before its partition columns (the
 * order jobs write and catalogs publish). Returns `spec` itself when nothing is added.
 */
export function withAddedColumns(spec: TableSpec, added: readonly { name: string; type: string; origin?: string; description?: string }[]): TableSpec {
  if (added.length === 0) return spec;
  const extra = added.map((column) => ({
    name: column.name,
    type: column.type,
    description: column.description ?? `Added by schema evolution (${column.origin ?? 'unknown origin'}).`,
    ...(column.origin === undefined ? {} : { origin: column.origin }),
  }));
  const data = spec.columns.filter((column) => !spec.partitionBy.includes(column.name));
  const partitions = spec.columns.filter((column) => spec.partitionBy.includes(column.name));
  return { ...spec, columns: [...data, ...extra, ...partitions] };
}

/** Declares a table, checked when the module loads so a mistake fails fast with every problem listed. */
export function defineTable(spec: TableSpec): TableSpec {
  const parsed = TableSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw new Error(`table ${spec.name} is not valid:\n${z.prettifyError(parsed.error)}`);
  }
  return Object.freeze({ ...spec, columns: Object.freeze([...spec.columns]), partitionBy: Object.freeze([...spec.partitionBy]) });
}

export function layerOf(name: TableName): Layer {
  return name.slice(0, name.indexOf('.')) as Layer;
}

export function shortNameOf(name: TableName): string {
  return name.slice(name.indexOf('.') + 1);
}

/** Columns that hold data in the files (partition columns live in the path). */
export function dataColumns(spec: TableSpec): readonly ColumnSpec[] {
  return spec.columns.filter((column) => !spec.partitionBy.includes(column.name));
}
