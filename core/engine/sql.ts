/** Quotes an identifier for DuckDB (and Athena): `my "col"` becomes `"my ""col"""`. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals: `['a', 'b']`. */
export function literalList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}
