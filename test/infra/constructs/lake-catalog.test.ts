import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateDatabaseCommand, CreateTableCommand, UpdateTableCommand, type TableInput } from '@aws-sdk/client-glue';
import { describe, expect, it } from 'vitest';
import { glueTableInput, s3LakeLayout } from '../../../core/catalog/index.ts';
import { GlueCatalog } from '../../../core/catalog/glue-catalog.ts';
import { FileStateStore } from '../../../core/state/index.ts';
import { LocalStorage } from '../../../core/storage/index.ts';
import { commitTables } from '../../../core/table/index.ts';
import { PIPELINE_TABLES } from '../../../jobs/index.ts';
import { capturingGlue } from '../../core/catalog/glue-capture.ts';
import { ENVS, resourceByPrefix, useTemplates, type CfnResources } from '../infra-fixtures.ts';

/** A template value with its `Ref`s to buckets replaced by their names and `Fn::Join`s joined, as CloudFormation resolves them. */
function resolve(value: unknown, names: Readonly<Record<string, string>>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, names));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return names[object.Ref as string] ?? `unresolved-${String(object.Ref)}`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolve(part, names)).join(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, resolve(item, names)]));
}

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

  it(envName === 'prod' ? "encrypts the account's Data Catalog with a key of its own, usable only through Glue in this account" : 'leaves the account\'s Data Catalog encryption alone (one stack per account owns it: prod)', () => {
    const template = templates()[envName];
    const settings = Object.values(template.findResources('AWS::Glue::DataCatalogEncryptionSettings') as CfnResources);
    if (envName !== 'prod') {
      expect(settings).toEqual([]);
      return;
    }
    const key = resourceByPrefix(template, 'AWS::KMS::Key', 'CatalogCatalogKey');
    expect(key.resource.Properties!.EnableKeyRotation).toBe(true);
    expect(settings).toHaveLength(1);
    const arn = { 'Fn::GetAtt': [key.logicalId, 'Arn'] };
    expect(settings[0]!.Properties).toMatchObject({
      CatalogId: { Ref: 'AWS::AccountId' },
      DataCatalogEncryptionSettings: {
        EncryptionAtRest: { CatalogEncryptionMode: 'SSE-KMS', SseAwsKmsKeyId: arn },
        ConnectionPasswordEncryption: { ReturnConnectionPasswordEncrypted: false },
      },
    });
    // Both outlive the stack: every database of the account is encrypted with the key.
    expect(key.resource.DeletionPolicy).toBe('Retain');
    expect(Object.values(template.findResources('AWS::Glue::DataCatalogEncryptionSettings') as CfnResources)[0]!.DeletionPolicy).toBe('Retain');
    const statements = key.resource.Properties!.KeyPolicy.Statement as Record<string, any>[];
    const glue = statements.find((statement) => statement.Sid === 'UseThroughGlueInThisAccount')!;
    expect(glue.Principal).toEqual({ AWS: '*' });
    expect(glue.Condition).toEqual({ StringEquals: { 'kms:CallerAccount': { Ref: 'AWS::AccountId' }, 'kms:ViaService': { 'Fn::Join': ['', ['glue.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
    expect(glue.Action).not.toContain('kms:*');
    // Every database (and so every table) is made after the catalog encrypts.
    for (const database of Object.values(template.findResources('AWS::Glue::Database') as CfnResources)) {
      expect((database as { DependsOn?: string[] }).DependsOn).toContain(Object.keys(template.findResources('AWS::Glue::DataCatalogEncryptionSettings'))[0]);
    }
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
    // The very definition the jobs' catalog publishes (version 0; the location does not depend on the version).
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

  it('keeps Athena on the current version of an unpartitioned table when a deploy rewrites its definition', async () => {
    // The stack creates gold.daily_task_kpis as its template says; the jobs commit and publish two versions;
    // then a deploy that changed the table updates it (CloudFormation sends the template's whole TableInput).
    const bucket = resourceByPrefix(templates()[envName], 'AWS::S3::Bucket', 'LakeGoldBucket').logicalId;
    const cfn = tablesOf().find((candidate) => candidate.DatabaseName === `${databasePrefix}gold` && candidate.TableInput.Name === 'daily_task_kpis')!;
    const templateInput = resolve(cfn.TableInput, { [bucket]: 'example-gold-bucket' }) as TableInput;
    const spec = PIPELINE_TABLES.find((candidate) => candidate.name === 'gold.daily_task_kpis')!;
    expect(spec.partitionBy).toEqual([]);

    const dir = await mkdtemp(path.join(tmpdir(), 'medallion-redeploy-'));
    try {
      const storage = new LocalStorage(dir);
      const state = new FileStateStore(path.join(dir, '_state'));
      const { glue, tables } = capturingGlue();
      const database = `${databasePrefix}gold`;
      await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
      await glue.send(new CreateTableCommand({ DatabaseName: database, TableInput: templateInput }));
      const catalog = new GlueCatalog({
        glue, storage, state, layout: s3LakeLayout({ default: 's3://example-lake-bucket/', gold: 's3://example-gold-bucket' }),
        databasePrefix: databasePrefix.slice(0, -1), tables: PIPELINE_TABLES,
      });
      let root = await state.readRoot();
      for (const runId of ['run-1', 'run-2']) {
        ({ root } = await commitTables(state, {
          runId, basedOn: root,
          writes: [{ spec, kind: 'replace_all', partitions: { '': { values: {}, files: [{ key: `gold/daily_task_kpis/${runId}/data_0.parquet`, rows: 3, sizeBytes: 100 }] } } }],
        }));
        await catalog.publish(root, { tables: [spec.name] });
      }
      const shown = async () => {
        const location = tables.get(`${database}.daily_task_kpis`)!.StorageDescriptor.Location as string;
        return readFile(path.join(dir, location.replace('s3://example-gold-bucket/', ''), 'manifest'), 'utf8');
      };
      expect(await shown()).toBe('s3://example-gold-bucket/gold/daily_task_kpis/run-2/data_0.parquet\n');

      await glue.send(new UpdateTableCommand({ DatabaseName: database, TableInput: templateInput }));
      expect(tables.get(`${database}.daily_task_kpis`)!.Parameters['medallion.version']).toBe('0');
      expect(await shown()).toBe('s3://example-gold-bucket/gold/daily_task_kpis/run-2/data_0.parquet\n');
      // The next publish (any run of the pipeline, or `medallion catalog publish`) puts the version back.
      await catalog.publish(root, { tables: [spec.name] });
      expect(tables.get(`${database}.daily_task_kpis`)!.Parameters['medallion.version']).toBe('2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives silver.tasks tags as array<string> and keeps column comments', () => {
    const table = tablesOf().find((candidate) => candidate.DatabaseName === `${databasePrefix}silver` && candidate.TableInput.Name === 'tasks')!;
    const tags = table.TableInput.StorageDescriptor.Columns.find((column: { Name: string }) => column.Name === 'tags');
    expect(tags).toMatchObject({ Type: 'array<string>' });
    expect(tags.Comment.length).toBeGreaterThan(0);
  });
});
