import { ConfigError } from '../errors.ts';

/**
 * A DuckDB column type, parsed. Only the shapes the lake can write to Parquet and Athena can read back
 * are represented; everything else is refused while parsing or mapping.
 */
export type DuckDbType =
  | { readonly kind: 'scalar'; readonly name: string }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'list'; readonly element: DuckDbType }
  | { readonly kind: 'struct'; readonly fields: readonly { readonly name: string; readonly type: DuckDbType }[] }
  | { readonly kind: 'map'; readonly key: DuckDbType; readonly value: DuckDbType };

/** A column type with no Glue (Hive) equivalent, or one that does not parse. Lists every such column. */
export class GlueTypeError extends ConfigError {
  readonly columns: readonly string[];
  constructor(problems: readonly string[]) {
    super('GLUE_TYPE_UNSUPPORTED', `no Glue type for ${problems.length === 1 ? 'this column' : 'these columns'}: ${problems.join('; ')}`, {
      hint: 'use a type listed in core/catalog/glue-types.ts (SCALAR_TYPES), or add its mapping there',
    });
    this.columns = problems.map((problem) => problem.slice(0, problem.indexOf(': ')));
  }
}

/**
 * DuckDB scalar types (and their aliases) to Hive types as Glue stores them and Athena reads them from
 * the Parquet files DuckDB writes.
 *
 * - TIMESTAMP WITH TIME ZONE maps to `timestamp`: DuckDB writes it as a Parquet timestamp adjusted to
 *   UTC, and Athena reads that as the UTC wall-clock time (the lake's timestamps are all UTC), so the
 *   values agree; only the zone label is lost.
 * - JSON maps to `string`: Parquet has no JSON type and DuckDB writes JSON as text.
 * - HUGEINT maps to `decimal(38,0)`, the only Hive type wide enough (values beyond 38 digits fail at read).
 * - Unsigned integers, TIME, INTERVAL, UUID, UNION, ENUM and BIT are refused: Athena cannot read
 *   DuckDB's Parquet encoding of them as any matching Hive type. Cast them in the job's SQL instead.
 */
export const SCALAR_TYPES: Readonly<Record<string, string>> = {
  VARCHAR: 'string', STRING: 'string', TEXT: 'string', CHAR: 'string', BPCHAR: 'string', JSON: 'string',
  BIGINT: 'bigint', INT8: 'bigint', LONG: 'bigint',
  INTEGER: 'int', INT: 'int', INT4: 'int', SIGNED: 'int',
  SMALLINT: 'smallint', INT2: 'smallint', SHORT: 'smallint',
  TINYINT: 'tinyint', INT1: 'tinyint',
  HUGEINT: 'decimal(38,0)',
  DOUBLE: 'double', FLOAT8: 'double', 'DOUBLE PRECISION': 'double',
  REAL: 'float', FLOAT: 'float', FLOAT4: 'float',
  BOOLEAN: 'boolean', BOOL: 'boolean', LOGICAL: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamp', DATETIME: 'timestamp', 'TIMESTAMP WITHOUT TIME ZONE': 'timestamp',
  TIMESTAMPTZ: 'timestamp', 'TIMESTAMP WITH TIME ZONE': 'timestamp',
  BLOB: 'binary', BYTEA: 'binary', BINARY: 'binary', VARBINARY: 'binary',
};

/** Character types that accept a length, `VARCHAR(20)`; DuckDB ignores it and so does Hive's `string`. */
const SIZED_STRINGS = new Set(['VARCHAR', 'CHAR', 'BPCHAR', 'TEXT', 'STRING']);
/** Hive's limit, and DuckDB's default for a bare DECIMAL. */
const MAX_DECIMAL_PRECISION = 38;
const DEFAULT_DECIMAL = { precision: 18, scale: 3 } as const;
/** Field names Hive type strings can carry without quoting (Athena lowercases them anyway). */
const HIVE_FIELD_NAME = /^[a-z_][a-z0-9_]*$/;

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly at: number }
  | { readonly kind: 'quoted'; readonly text: string; readonly at: number }
  | { readonly kind: 'number'; readonly text: string; readonly at: number }
  | { readonly kind: 'punct'; readonly text: '(' | ')' | ',' | '[' | ']'; readonly at: number };

class TypeSyntaxError extends Error {}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at] as string;
    if (/\s/.test(char)) {
      at += 1;
    } else if ('(),[]'.includes(char)) {
      tokens.push({ kind: 'punct', text: char as '(' | ')' | ',' | '[' | ']', at });
      at += 1;
    } else if (char === '"') {
      // A quoted identifier; "" inside stands for one ".
      let name = '';
      let end = at + 1;
      for (;;) {
        if (end >= text.length) throw new TypeSyntaxError(`unterminated quoted name at position ${at + 1}`);
        if (text[end] === '"') {
          if (text[end + 1] === '"') {
            name += '"';
            end += 2;
            continue;
          }
          break;
        }
        name += text[end];
        end += 1;
      }
      tokens.push({ kind: 'quoted', text: name, at });
      at = end + 1;
    } else if (/[0-9]/.test(char)) {
      const match = /^[0-9]+/.exec(text.slice(at)) as RegExpExecArray;
      tokens.push({ kind: 'number', text: match[0], at });
      at += match[0].length;
    } else if (/[A-Za-z_]/.test(char)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at)) as RegExpExecArray;
      tokens.push({ kind: 'word', text: match[0], at });
      at += match[0].length;
    } else {
      throw new TypeSyntaxError(`unexpected ${JSON.stringify(char)} at position ${at + 1}`);
    }
  }
  return tokens;
}

class TypeParser {
  private index = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  parseAll(): DuckDbType {
    const type = this.type();
    const rest = this.tokens[this.index];
    if (rest) throw new TypeSyntaxError(`unexpected ${JSON.stringify(rest.text)} at position ${rest.at + 1}`);
    return type;
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private isPunct(text: string): boolean {
    const token = this.peek();
    return token?.kind === 'punct' && token.text === text;
  }

  private expectPunct(text: string): void {
    const token = this.peek();
    if (token?.kind !== 'punct' || token.text !== text) throw new TypeSyntaxError(`expected "${text}" ${token ? `at position ${token.at + 1}` : 'at the end'}`);
    this.index += 1;
  }

  private number(): number {
    const token = this.peek();
    if (token?.kind !== 'number') throw new TypeSyntaxError(`expected a number ${token ? `at position ${token.at + 1}` : 'at the end'}`);
    this.index += 1;
    return Number(token.text);
  }

  private type(): DuckDbType {
    let type = this.base();
    // `T[]` is a list; `T[3]` a fixed-size array, which DuckDB also writes to Parquet as a list.
    while (this.isPunct('[')) {
      this.index += 1;
      if (this.peek()?.kind === 'number') this.number();
      this.expectPunct(']');
      type = { kind: 'list', element: type };
    }
    return type;
  }

  private base(): DuckDbType {
    const token = this.peek();
    if (token?.kind !== 'word') throw new TypeSyntaxError(`expected a type name ${token ? `at position ${token.at + 1}` : 'at the end'}`);
    this.index += 1;
    const name = token.text.toUpperCase();
    switch (name) {
      case 'STRUCT':
      case 'ROW':
        return this.struct();
      case 'MAP': {
        this.expectPunct('(');
        const key = this.type();
        this.expectPunct(',');
        const value = this.type();
        this.expectPunct(')');
        return { kind: 'map', key, value };
      }
      case 'LIST': {
        this.expectPunct('(');
        const element = this.type();
        this.expectPunct(')');
        return { kind: 'list', element };
      }
      case 'DECIMAL':
      case 'NUMERIC':
        return this.decimal();
      default:
        return { kind: 'scalar', name: this.scalarName(name) };
    }
  }

  private struct(): DuckDbType {
    this.expectPunct('(');
    const fields: { name: string; type: DuckDbType }[] = [];
    do {
      if (fields.length > 0) this.expectPunct(',');
      const token = this.peek();
      if (token?.kind !== 'word' && token?.kind !== 'quoted') throw new TypeSyntaxError(`expected a struct field name ${token ? `at position ${token.at + 1}` : 'at the end'}`);
      this.index += 1;
      fields.push({ name: token.text, type: this.type() });
    } while (this.isPunct(','));
    this.expectPunct(')');
    return { kind: 'struct', fields };
  }

  private decimal(): DuckDbType {
    if (!this.isPunct('(')) return { kind: 'decimal', ...DEFAULT_DECIMAL };
    this.index += 1;
    const precision = this.number();
    let scale = 0;
    if (this.isPunct(',')) {
      this.index += 1;
      scale = this.number();
    }
    this.expectPunct(')');
    return { kind: 'decimal', precision, scale };
  }

  /** Multi-word names (`TIMESTAMP WITH TIME ZONE`, `DOUBLE PRECISION`) and ignored lengths (`VARCHAR(20)`). */
  private scalarName(first: string): string {
    let name = first;
    for (;;) {
      const token = this.peek();
      if (token?.kind !== 'word') break;
      const candidate = `${name} ${token.text.toUpperCase()}`;
      const continues = Object.keys(SCALAR_TYPES).some((known) => known === candidate || known.startsWith(`${candidate} `));
      if (!continues) break;
      name = candidate;
      this.index += 1;
    }
    if (SIZED_STRINGS.has(name) && this.isPunct('(')) {
      this.index += 1;
      this.number();
      this.expectPunct(')');
    }
    return name;
  }
}

/**
 * Parses a DuckDB type as table specs write it: `VARCHAR`, `DECIMAL(12,2)`, `VARCHAR[]`,
 * `STRUCT("user id" VARCHAR, tags VARCHAR[])`, `MAP(VARCHAR, BIGINT)`. Throws on malformed text.
 */
export function parseDuckDbType(text: string): DuckDbType {
  return new TypeParser(tokenize(text)).parseAll();
}

/** The Hive type string for a parsed type, or throws an Error saying which part has no mapping. */
function renderHiveType(type: DuckDbType): string {
  switch (type.kind) {
    case 'scalar': {
      const hive = SCALAR_TYPES[type.name];
      if (hive === undefined) throw new TypeSyntaxError(`${type.name} has no Glue type`);
      return hive;
    }
    case 'decimal':
      if (type.precision < 1 || type.precision > MAX_DECIMAL_PRECISION) throw new TypeSyntaxError(`DECIMAL precision ${type.precision} is outside 1..${MAX_DECIMAL_PRECISION}`);
      if (type.scale > type.precision) throw new TypeSyntaxError(`DECIMAL scale ${type.scale} exceeds its precision ${type.precision}`);
      return `decimal(${type.precision},${type.scale})`;
    case 'list':
      return `array<${renderHiveType(type.element)}>`;
    case 'map':
      return `map<${renderHiveType(type.key)},${renderHiveType(type.value)}>`;
    case 'struct': {
      const seen = new Set<string>();
      const fields = type.fields.map((field) => {
        const name = field.name.toLowerCase();
        if (!HIVE_FIELD_NAME.test(name)) throw new TypeSyntaxError(`struct field name ${JSON.stringify(field.name)} is not a Hive identifier (letters, digits, _)`);
        if (seen.has(name)) throw new TypeSyntaxError(`struct field ${JSON.stringify(field.name)} appears twice (Athena ignores case)`);
        seen.add(name);
        return `${name}:${renderHiveType(field.type)}`;
      });
      return `struct<${fields.join(',')}>`;
    }
  }
}

/** The Hive type, or the one-line problem (`column: TYPE (why)`) when there is none. */
function mapColumn(duckDbType: string, column: string): { readonly hive: string } | { readonly problem: string } {
  try {
    return { hive: renderHiveType(parseDuckDbType(duckDbType)) };
  } catch (error) {
    if (error instanceof TypeSyntaxError) return { problem: `${column}: ${duckDbType} (${error.message})` };
    throw error;
  }
}

/**
 * The Glue (Hive) type for a DuckDB column type, e.g. `STRUCT(a INTEGER, b DECIMAL(10,2)[])` becomes
 * `struct<a:int,b:array<decimal(10,2)>>`. `column` names the column in the error when there is no mapping.
 *
 * @example
 * glueType('VARCHAR[]', 'silver.tasks.tags'); // 'array<string>'
 */
export function glueType(duckDbType: string, column: string): string {
  const mapped = mapColumn(duckDbType, column);
  if ('problem' in mapped) throw new GlueTypeError([mapped.problem]);
  return mapped.hive;
}

/**
 * Glue types for many columns at once, keyed by the given names; reports every unmapped column in one error.
 *
 * @example
 * glueTypes(spec.columns.map((c) => ({ name: `${spec.name}.${c.name}`, type: c.type })));
 */
export function glueTypes(columns: readonly { readonly name: string; readonly type: string }[]): Map<string, string> {
  const types = new Map<string, string>();
  const problems: string[] = [];
  for (const column of columns) {
    const mapped = mapColumn(column.type, column.name);
    if ('problem' in mapped) problems.push(mapped.problem);
    else types.set(column.name, mapped.hive);
  }
  if (problems.length > 0) throw new GlueTypeError(problems);
  return types;
}
