import { HiveSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../core/index.ts';
import { athenaTableDdl, glueTableInput, quoteAthenaIdentifier, quoteAthenaString, s3LakeLayout } from '../../../core/catalog/index.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';

const layout = s3LakeLayout({ default: 's3://example-lake-bucket/lake' });
const hive = new HiveSQL();

describe('Athena DDL', () => {
  it.each(PIPELINE_TABLES.map((spec) => [spec.name, spec] as const))('%s parses as Hive DDL', (_name, spec) => {
    const ddl = athenaTableDdl(spec, { databasePrefix: 'medallion', layout });
    expect(hive.validate(ddl)).toEqual([]);
    expect(ddl).toMatch(/^CREATE EXTERNAL TABLE IF NOT EXISTS `medallion_[a-z]+`\.`[a-z_]+` \(\n/);
    expect(ddl).toContain("ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'");
    expect(ddl).toContain("STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'");
    expect(ddl).toContain("OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'");
    // The same definition as the Glue TableInput.
    const input = glueTableInput(spec, { layout, version: 0 });
    expect(ddl).toContain(`LOCATION '${input.StorageDescriptor?.Location}'`);
    for (const column of input.StorageDescriptor?.Columns ?? []) expect(ddl).toContain(`\`${column.Name}\` ${column.Type} COMMENT`);
    if (spec.partitionBy.length > 0) {
      const keys = (input.PartitionKeys ?? []).map((key) => `  \`${key.Name}\` ${key.Type} COMMENT`);
      expect(ddl).toMatch(new RegExp(`PARTITIONED BY \\(\\n${keys.map((key) => key.replace(/[`()]/g, '\\$&')).join('.*\\n')}`));
    } else {
      expect(ddl).not.toContain('PARTITIONED BY');
    }
  });

  it('renders partition keys, location and properties exactly, escaping strings', () => {
    const spec = defineTable({
      name: 'bronze.odd_table',
      description: "It's a table\nwith a back\\slash.",
      columns: [
        { name: 'payload', type: 'STRUCT(a INTEGER, b MAP(VARCHAR, DECIMAL(10,2)))', description: "The 'payload'." },
        { name: 'ingest_date', type: 'DATE', description: 'Day.' },
        { name: 'source', type: 'VARCHAR', description: 'Source.' },
      ],
      partitionBy: ['ingest_date', 'source'],
      writeMode: 'append',
    });
    const ddl = athenaTableDdl(spec, { databasePrefix: 'lake', layout });
    expect(hive.validate(ddl)).toEqual([]);
    expect(ddl).toBe(
      [
        'CREATE EXTERNAL TABLE IF NOT EXISTS `lake_bronze`.`odd_table` (',
        "  `payload` struct<a:int,b:map<string,decimal(10,2)>> COMMENT 'The \\'payload\\'.'",
        ')',
        "COMMENT 'It\\'s a table with a back\\\\slash.'",
        'PARTITIONED BY (',
        "  `ingest_date` date COMMENT 'Day.',",
        "  `source` string COMMENT 'Source.'",
        ')',
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'",
        "WITH SERDEPROPERTIES ('serialization.format'='1')",
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'",
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        "LOCATION 's3://example-lake-bucket/lake/bronze/_symlink/odd_table/'",
        "TBLPROPERTIES ('classification'='parquet', 'medallion.table'='bronze.odd_table', 'medallion.version'='0');",
        '',
      ].join('\n'),
    );
  });

  it('quotes identifiers and strings the Hive way', () => {
    expect(quoteAthenaIdentifier('a`b')).toBe('`a``b`');
    expect(quoteAthenaString("it's \\ here")).toBe("'it\\'s \\\\ here'");
    // The parser rejects broken DDL, so the checks above mean something.
    expect(hive.validate("CREATE EXTERNAL TABLE `x` (`a` string COMMENT 'it's') LOCATION 's3://b/'").length).toBeGreaterThan(0);
  });
});
