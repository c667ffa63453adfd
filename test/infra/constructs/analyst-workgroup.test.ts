import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_DEFAULTS, KPI_NAMED_QUERIES } from '../../../infra/index.ts';
import { dailyTaskKpisTable } from '../../../jobs/index.ts';
import { ENVS, resourceByPrefix, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();

describe.each(ENVS)('analyst workgroup (%s)', (envName) => {
  it('enforces engine v3, KMS-encrypted results in the results bucket, a scan cutoff and CloudWatch metrics', () => {
    const template = templates()[envName];
    const bucket = resourceByPrefix(template, 'AWS::S3::Bucket', 'LakeAthenaResultsBucket');
    const key = resourceByPrefix(template, 'AWS::KMS::Key', 'LakeKey');
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    const workGroup = resourceByPrefix(template, 'AWS::Athena::WorkGroup', 'AnalystsWorkGroup').resource;
    expect(workGroup.Properties).toMatchObject({
      Name: `medallion-${envName}`,
      State: 'ENABLED',
      RecursiveDeleteOption: envName !== 'prod',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: ENV_DEFAULTS[envName].athenaBytesScannedCutoffPerQuery,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: bucket.logicalId }, '/results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: { 'Fn::GetAtt': [key.logicalId, 'Arn'] } },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      },
    });
  });

});

describe.each(ENVS)('analyst named queries (%s)', (envName) => {
  const goldDatabase = `${ENV_DEFAULTS[envName].glueDatabasePrefix}_gold`;

  it('saves every KPI question in the analysts\' workgroup, against the gold database', () => {
    const template = templates()[envName];
    const workGroup = resourceByPrefix(template, 'AWS::Athena::WorkGroup', 'AnalystsWorkGroup').logicalId;
    const queries = Object.values(template.findResources('AWS::Athena::NamedQuery') as CfnResources).map((query) => query.Properties!);
    expect(queries.map((query) => query.Name).sort()).toEqual(KPI_NAMED_QUERIES.map((query) => query.name).sort());
    for (const query of queries) {
      expect(query).toMatchObject({ WorkGroup: { Ref: workGroup }, Database: goldDatabase });
      expect(query.QueryString).toContain(`"${goldDatabase}"."daily_task_kpis"`);
      expect(query.Description.length).toBeGreaterThan(10);
    }
  });
});

describe('analyst named queries over gold.daily_task_kpis', () => {
  // Athena runs Trino SQL; these queries stay within what Trino and DuckDB share, so DuckDB can check
  // them against a table with exactly the columns and types the gold job declares.
  let connection: DuckDBConnection;
  beforeAll(async () => {
    connection = await (await DuckDBInstance.create(':memory:')).connect();
    const columns = dailyTaskKpisTable.columns.map((column) => `"${column.name}" ${column.type}`).join(', ');
    await connection.run(`CREATE SCHEMA medallion_dev_gold; CREATE TABLE medallion_dev_gold.daily_task_kpis (${columns})`);
    await connection.run(`INSERT INTO medallion_dev_gold.daily_task_kpis
      SELECT current_date - CAST(i AS INTEGER), 10 + i, 5 + i % 3, i % 2, 4, 30 - i, i % 4, CASE WHEN i % 5 = 0 THEN NULL ELSE 2.5 * i END
      FROM range(40) t(i)`);
  });
  afterAll(() => {
    connection?.closeSync();
  });

  it.each(KPI_NAMED_QUERIES.map((query) => [query.name, query] as const))('%s: runs, and reads only declared columns', async (_name, query) => {
    const result = await connection.runAndReadAll(query.sql('medallion_dev_gold'));
    expect(result.columnNames().length).toBeGreaterThan(0);
    expect(result.getRows().length).toBeGreaterThan(0);
  });
});
