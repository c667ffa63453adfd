import type { TableSpec } from '../core/index.ts';

/** How each DuckDB column type the jobs declare is stored in Glue (Hive) and read by Athena. */
const DUCKDB_TO_GLUE: Readonly<Record<string, string>> = {
  VARCHAR: 'string',
  BIGINT: 'bigint',
  INTEGER: 'int',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
  // Parquet has no JSON type: DuckDB writes JSON columns as strings.
  JSON: 'string',
  'VARCHAR[]': 'array<string>',
  HUGEINT: 'decimal(38,0)',
};

/** A table spec with a column type that has no Glue mapping; lists every such column at once. */
export class GlueTypeMappingError extends Error {
  readonly code = 'INFRA_GLUE_TYPE_UNMAPPED';
  constructor(readonly unmapped: readonly string[]) {
    super(`no Glue type for these columns:\n${unmapped.join('\n')}\nAdd the DuckDB type to DUCKDB_TO_GLUE in infra/glue-column-type.ts.`);
    this.name = 'GlueTypeMappingError';
  }
}

export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  readonly comment: string;
}

export interface GlueTableShape {
  readonly columns: readonly GlueColumn[];
  readonly partitionKeys: readonly GlueColumn[];
}

/**
 * Splits a job table spec into Glue data columns and partition keys, with Glue types.
 *
 * @example
 * glueTableShape(tasksTable).partitionKeys; // [] for silver.tasks
 */
export function glueTableShape(spec: TableSpec): GlueTableShape {
  const unmapped: string[] = [];
  const toGlue = (column: TableSpec['columns'][number]): GlueColumn => {
    const type = DUCKDB_TO_GLUE[column.type.toUpperCase()];
    if (type === undefined) unmapped.push(`${spec.name}.${column.name}: ${column.type}`);
    return { name: column.name, type: type ?? '', comment: column.description.slice(0, 255) };
  };
  const partitionKeys = spec.partitionBy.map((key) => toGlue(spec.columns.find((column) => column.name === key)!));
  const columns = spec.columns.filter((column) => !spec.partitionBy.includes(column.name)).map(toGlue);
  if (unmapped.length > 0) throw new GlueTypeMappingError(unmapped);
  return { columns, partitionKeys };
}
