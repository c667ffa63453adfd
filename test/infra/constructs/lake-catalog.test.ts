import { describe, expect, it } from 'vitest';
import { glueTableInput, s3LakeLayout } from '../../../core/catalog/index.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';
import { ENVS, resourceByPrefix, useTemplates, type CfnResources } from '../infra-fixtures.ts';

const templates = useTemplates();
// Each layer has its bucket; a table's objects keep their whole lake key there (`silver/tasks/...`), as S3Storage stores them.
// quality.results lives in the quarantine (operations) bucket, under quality/.
const LAYER_BUCKETS = {
  bronze: ['LandingBronze', 'bronze/'],
  silver: ['Silver', 'silver/'],
  gold: ['Gold', 'gold/'],
  quarantine: ['Quarantine', 'quarantine/'],
  quality: ['Quarantine', 'quality/'],
} as const;

describe.each(ENVS)('lake catalog (%s)', (envName) => {
  const databasePrefix = envName === 'prod' ? 'medallion_' : 'medallion_dev_';
  const tablesOf = () => Object.values(templates()[envName].findResources('AWS::Glue::Table') as CfnResources).map((table) => table.Properties!);

  it('has one Glue database per layer, named as analysts query it', () => {
    const names = Object.values(templates()[envName].findResources('AWS::Glue::Database') as CfnResources).map(
      (database) => database.Properties!.DatabaseInput.Name,
    );
    expect(names.sort()).toEqual(['bronze', 'gold', 'quality', 'quarantine', 'silver'].map((layer) => `${databasePrefix}${layer}`).sort());
  });

  it('registers quality.results in the quality database, partitioned by job, at quality/ in the quarantine bucket', () => {
    const table = tablesOf().find((candidate) => candidate.DatabaseName === `${databasePrefix}quality` && candidate.TableInput.Name === 'results');
    expect(table).toBeDefined();
    expect(table!.TableInput.PartitionKeys.map((key: { Name: string }) => key.Name)).toEqual(['job']);
    const bucket = resourceByPrefix(templates()[envName], 'AWS::S3::Bucket', 'LakeQuarantineBucket').logicalId;
    expect(table!.TableInput.StorageDescriptor.Location).toMatchObject({ 'Fn::Join': ['', ['s3://', { Ref: bucket }, expect.stringMatching(/^\/quality\/_symlink\/results\//)]] });
    const database = Object.values(templates()[envName].findResources('AWS::Glue::Database') as CfnResources).find(
      (candidate) => candidate.Properties!.DatabaseInput.Name === `${databasePrefix}quality`,
    )!;
    expect(database.Properties!.DatabaseInput.LocationUri).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: bucket }, '/quality/']] });
  });

  it('registers every pipeline table once, in its layer database', () => {
    const registered = tablesOf().map((table) => `${table.DatabaseName}.${table.TableInput.Name}`);
    expect(registered.sort()).toEqual(PIPELINE_TABLES.map((spec) => `${databasePrefix}${spec.name}`).sort());
  });

  it.each(PIPELINE_TABLES.map((spec) => [spec.name, spec] as const))('%s: defined as the jobs publish it (same columns, types, comments, symlink-manifest Parquet in its layer bucket)', (tableName, spec) => {
    const [layer, name] = tableName.split('.') as [keyof typeof LAYER_BUCKETS, string];
    const table = tablesOf().find((candidate) => candidate.DatabaseName === `${databasePrefix}${layer}` && candidate.TableInput.Name === name)!;
    const input = table.TableInput;
    const partitionNames = input.PartitionKeys.map((key: { Name: string }) => key.Name);
    const columnNames = input.StorageDescriptor.Columns.map((column: { Name: string }) => column.Name);
    expect(partitionNames).toEqual(spec.partitionBy);
    expect([...columnNames, ...partitionNames].sort()).toEqual(spec.columns.map((column) => column.name).sort());
    expect(columnNames).toEqual(spec.columns.map((column) => column.name).filter((column) => !spec.partitionBy.includes(column)));
    for (const column of [...input.StorageDescriptor.Columns, ...input.PartitionKeys]) expect(column.Type, column.Name).toMatch(/^[a-z]/);

    const [bucketName, prefix] = LAYER_BUCKETS[layer];
    const bucket = resourceByPrefix(templates()[envName], 'AWS::S3::Bucket', `Lake${bucketName}Bucket`);
    // The very definition the jobs' catalog publishes (version 0: an empty manifest folder until the first commit).
    const published = glueTableInput(spec, { layout: s3LakeLayout({ default: 's3://example-lake-bucket/' }), version: 0 });
    const symlinkPath = (published.StorageDescriptor?.Location ?? '').replace('s3://example-lake-bucket/', '');
    expect(symlinkPath.startsWith(`${prefix}_symlink/${name}/`)).toBe(true);
    expect(input.StorageDescriptor).toMatchObject({
      Location: { 'Fn::Join': ['', ['s3://', { Ref: bucket.logicalId }, `/${symlinkPath}`]] },
      InputFormat: published.StorageDescriptor?.InputFormat,
      OutputFormat: published.StorageDescriptor?.OutputFormat,
      SerdeInfo: { SerializationLibrary: published.StorageDescriptor?.SerdeInfo?.SerializationLibrary },
      Columns: (published.StorageDescriptor?.Columns ?? []).map(({ Name, Type, Comment }) => ({ Name, Type, Comment })),
    });
    expect(input.PartitionKeys).toEqual((published.PartitionKeys ?? []).map(({ Name, Type, Comment }) => ({ Name, Type, Comment })));
    expect(input).toMatchObject({ TableType: 'EXTERNAL_TABLE', Parameters: published.Parameters });
  });

  it(`${envName === 'prod' ? 'retains' : 'removes'} the databases and tables with the stack`, () => {
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table']) {
      for (const resource of Object.values(templates()[envName].findResources(type))) {
        expect(resource.DeletionPolicy, type).toBe(envName === 'prod' ? 'Retain' : 'Delete');
      }
    }
  });

  it('gives silver.tasks tags as array<string> and keeps column comments', () => {
    const table = tablesOf().find((candidate) => candidate.DatabaseName === `${databasePrefix}silver` && candidate.TableInput.Name === 'tasks')!;
    const tags = table.TableInput.StorageDescriptor.Columns.find((column: { Name: string }) => column.Name === 'tags');
    expect(tags).toMatchObject({ Type: 'array<string>' });
    expect(tags.Comment.length).toBeGreaterThan(0);
  });
});
