import { describe, expect, it } from 'vitest';
import { GlueTypeError, glueColumns, glueType, glueTypes, parseDuckDbType } from '../../../core/catalog/index.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';

describe('DuckDB to Glue types', () => {
  it('maps every column of every pipeline table', () => {
    for (const spec of PIPELINE_TABLES) {
      const { columns, partitionKeys } = glueColumns(spec);
      expect(columns.length + partitionKeys.length).toBe(spec.columns.length);
      for (const column of [...columns, ...partitionKeys]) expect(column.Type).toMatch(/^(string|bigint|int|smallint|tinyint|double|float|boolean|date|timestamp|binary|decimal\(\d+,\d+\)|array<.+>|struct<.+>|map<.+>)$/);
    }
  });

  it.each([
    ['VARCHAR', 'string'], ['varchar(20)', 'string'], ['JSON', 'string'], ['BIGINT', 'bigint'], ['INTEGER', 'int'], ['SMALLINT', 'smallint'],
    ['TINYINT', 'tinyint'], ['DOUBLE', 'double'], ['REAL', 'float'], ['FLOAT', 'float'], ['BOOLEAN', 'boolean'], ['DATE', 'date'],
    ['TIMESTAMP', 'timestamp'], ['TIMESTAMPTZ', 'timestamp'], ['TIMESTAMP WITH TIME ZONE', 'timestamp'], ['DECIMAL(12,2)', 'decimal(12,2)'],
    ['DECIMAL(10)', 'decimal(10,0)'], ['DECIMAL', 'decimal(18,3)'], ['NUMERIC(38, 10)', 'decimal(38,10)'], ['HUGEINT', 'decimal(38,0)'],
    ['BLOB', 'binary'], ['VARCHAR[]', 'array<string>'], ['INTEGER[][]', 'array<array<int>>'], ['DOUBLE[3]', 'array<double>'],
    ['LIST(DATE)', 'array<date>'], ['MAP(VARCHAR, BIGINT)', 'map<string,bigint>'],
    ['STRUCT(a INTEGER, b VARCHAR[])', 'struct<a:int,b:array<string>>'],
    ['STRUCT("User_Id" VARCHAR, "amount" DECIMAL(10,2), nested STRUCT(x DOUBLE, m MAP(VARCHAR, STRUCT(k BLOB)[])))[]',
      'array<struct<user_id:string,amount:decimal(10,2),nested:struct<x:double,m:map<string,array<struct<k:binary>>>>>>'],
  ])('%s -> %s', (duckDb, glue) => {
    expect(glueType(duckDb, 'example.t.c')).toBe(glue);
  });

  it('parses quoted struct field names with commas, parentheses and doubled quotes', () => {
    expect(parseDuckDbType('STRUCT("a, (b)" INTEGER, "say ""hi""" VARCHAR)')).toEqual({
      kind: 'struct',
      fields: [
        { name: 'a, (b)', type: { kind: 'scalar', name: 'INTEGER' } },
        { name: 'say "hi"', type: { kind: 'scalar', name: 'VARCHAR' } },
      ],
    });
  });

  it.each([
    ['UUID', /UUID has no Glue type/], ['UBIGINT', /UBIGINT has no Glue type/], ['TIME', /TIME has no Glue type/], ['INTERVAL', /INTERVAL/],
    ['DECIMAL(40,2)', /precision 40/], ['STRUCT(a INTEGER', /expected "\)"/], ['STRUCT("a b" INTEGER)', /not a Hive identifier/],
    ['STRUCT(a INTEGER, A VARCHAR)', /appears twice/], ['MAP(VARCHAR)', /expected ","/], ['VARCHAR[', /expected "\]"/], ['INTEGER;', /unexpected/],
  ])('refuses %s, naming the column', (duckDb, reason) => {
    let caught: unknown;
    try {
      glueType(duckDb, 'silver.example.bad_column');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GlueTypeError);
    expect((caught as GlueTypeError).code).toBe('GLUE_TYPE_UNSUPPORTED');
    expect((caught as GlueTypeError).columns).toEqual(['silver.example.bad_column']);
    expect((caught as Error).message).toContain('silver.example.bad_column');
    expect((caught as Error).message).toMatch(reason);
  });

  it('reports every unmapped column at once', () => {
    expect(() => glueTypes([{ name: 't.a', type: 'UUID' }, { name: 't.b', type: 'VARCHAR' }, { name: 't.c', type: 'TIME' }])).toThrow(
      /t\.a: UUID .*; t\.c: TIME/,
    );
  });
});
