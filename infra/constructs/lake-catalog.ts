import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnDatabase, CfnDataCatalogEncryptionSettings, CfnTable } from 'aws-cdk-lib/aws-glue';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';
import { AnyPrincipal, type Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { TableName, TableSpec } from '../../core/index.ts';
import type { LakeAccess } from '../../core/layout/index.ts';
import { shortNameOf } from '../../core/table/index.ts';
import { glueTableInput, type S3LakeLayout } from '../../core/catalog/index.ts';
import type { TableInput } from '@aws-sdk/client-glue';

/** The layers analysts see as Glue databases (`gold.daily_task_kpis`, `quality.results`). */
export const CATALOG_LAYERS = ['bronze', 'silver', 'gold', 'quarantine', 'quality'] as const;
export type CatalogLayer = (typeof CATALOG_LAYERS)[number];

export interface LakeCatalogProps {
  readonly config: InfraConfig;
  /** The job table specs to register (the pipeline passes `PIPELINE_TABLES`). */
  readonly tables: readonly TableSpec[];
  /** Where each layer's tables live, and the key prefix inside that bucket. */
  readonly locations: Readonly<Record<CatalogLayer, { readonly bucket: IBucket; readonly prefix: string }>>;
}

/** The Glue database name of a layer: prod uses the bare layer name, other environments a prefix. */
export const glueDatabaseName = (config: InfraConfig, layer: CatalogLayer): string => `${config.glueDatabasePrefix}_${layer}`;

/**
 * A Glue database per layer and a Glue table per job table spec, with the same columns (Glue types),
 * partition keys and Parquet storage the jobs write. Partitions are not declared here: the jobs'
 * commits register the committed partition versions.
 *
 * @example
 * new LakeCatalog(stack, 'Catalog', { config, tables: PIPELINE_TABLES, locations });
 */
export class LakeCatalog extends Construct {
  readonly databases: Readonly<Record<CatalogLayer, CfnDatabase>>;
  readonly tables: Readonly<Record<string, CfnTable>>;
  /** The key the account's Data Catalog is encrypted with, where `catalogEncryption` is on. */
  readonly key: Key | undefined;

  private readonly config: InfraConfig;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const { config, locations } = props;
    this.config = config;
    const account = Stack.of(this).account;
    // In prod the catalog outlives the stack: tables carry the partitions the jobs have registered.
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const databases = {} as Record<CatalogLayer, CfnDatabase>;
    for (const layer of CATALOG_LAYERS) {
      databases[layer] = new CfnDatabase(this, `${layer}Database`, {
        catalogId: account,
        databaseInput: {
          name: glueDatabaseName(config, layer),
          description: `medallion ${config.envName}: ${layer} layer tables`,
          locationUri: `s3://${locations[layer].bucket.bucketName}/${locations[layer].prefix}`,
        },
      });
      databases[layer].applyRemovalPolicy(removalPolicy);
    }
    this.databases = databases;

    // The tables as the jobs' catalog publishes them (core/catalog: symlink-manifest Parquet tables, same
    // columns, types and comments), at version 0. The stack owns the definition; the runtime owns what moves
    // with commits: the `medallion.version` parameter, the partitions, and an unpartitioned table's `current/`
    // manifest. The Location is the same in both (the symlink root, or the `current/` folder), so a deploy that
    // changes a table's definition leaves Athena on the current version; the next publish sets the version
    // parameter back.
    const layout = Object.fromEntries(
      CATALOG_LAYERS.map((layer) => {
        const { bucket, prefix } = locations[layer];
        if (!prefix.endsWith(`${layer}/`)) throw new Error(`the ${layer} tables must live under ${layer}/ in their bucket, not ${prefix}`);
        return [layer, { bucket: bucket.bucketName, prefix: prefix.slice(0, -`${layer}/`.length) }];
      }),
    ) as unknown as S3LakeLayout;
    const tables: Record<string, CfnTable> = {};
    for (const spec of props.tables) {
      const [layer, tableName] = spec.name.split('.') as [CatalogLayer, string];
      const table = new CfnTable(this, `${layer}_${tableName}`, {
        catalogId: account,
        databaseName: glueDatabaseName(config, layer),
        tableInput: cfnTableInput(glueTableInput(spec, { layout, version: 0 })),
      });
      table.applyRemovalPolicy(removalPolicy);
      table.node.addDependency(databases[layer]);
      tables[spec.name] = table;
    }
    this.tables = tables;
    this.key = config.catalogEncryption ? this.encryptCatalog() : undefined;
  }

  /**
   * Encrypts the account's Data Catalog metadata with a key of its own. Every reader of the catalog (the tasks,
   * the analyst role, Athena with its callers' rights) decrypts through Glue: the key policy lets this account's
   * principals use the key only through Glue, so no role needs a grant of its own, and no one can use the key
   * for anything else. The key and the setting outlive the stack whatever the environment: every database of
   * the account is encrypted with the key, and deleting it would lock them all. Connection passwords are left
   * as the account has them (this stack has no connection; returning them encrypted would change what other
   * workloads of the account read).
   */
  private encryptCatalog(): Key {
    const stack = Stack.of(this);
    const key = new Key(this, 'CatalogKey', {
      description: `medallion ${this.config.envName}: the account's Glue Data Catalog (metadata)`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'UseThroughGlueInThisAccount',
        principals: [new AnyPrincipal()],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'],
        // A key policy's "*" is this key.
        resources: ['*'],
        conditions: { StringEquals: { 'kms:CallerAccount': stack.account, 'kms:ViaService': `glue.${stack.region}.amazonaws.com` } },
      }),
    );
    const settings = new CfnDataCatalogEncryptionSettings(this, 'EncryptionSettings', {
      catalogId: stack.account,
      dataCatalogEncryptionSettings: {
        encryptionAtRest: { catalogEncryptionMode: 'SSE-KMS', sseAwsKmsKeyId: key.keyArn },
        connectionPasswordEncryption: { returnConnectionPasswordEncrypted: false },
      },
    });
    settings.applyRemovalPolicy(RemovalPolicy.RETAIN);
    // The databases (and so the tables) are made once the catalog encrypts what they hold.
    for (const database of Object.values(this.databases)) database.node.addDependency(settings);
    return key;
  }

  /**
   * Lets the holder of `policy` publish partitions of the tables it writes (`access.publishes`: its outputs,
   * the quarantine, quality.results) and read the catalog entries of the tables it reads, and no others.
   */
  grantTableAccess(policy: Policy, access: LakeAccess): void {
    const stack = Stack.of(this);
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const tableArns = (names: readonly TableName[]) => {
      const databases = new Set<string>();
      const tables: string[] = [];
      for (const name of names) {
        const database = glueDatabaseName(this.config, name.split('.')[0] as CatalogLayer);
        databases.add(stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }));
        tables.push(stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${shortNameOf(name)}` }));
      }
      return [catalogArn, ...databases, ...tables];
    };
    policy.addStatements(
      new PolicyStatement({
        sid: 'PublishOwnPartitions',
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:UpdateTable',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
          'glue:CreatePartition',
          'glue:BatchCreatePartition',
          'glue:UpdatePartition',
          'glue:BatchUpdatePartition',
          'glue:DeletePartition',
          'glue:BatchDeletePartition',
        ],
        resources: tableArns(access.publishes),
      }),
    );
    if (access.catalogReads.length > 0) {
      policy.addStatements(
        new PolicyStatement({
          sid: 'ReadSourceCatalog',
          actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions', 'glue:BatchGetPartition'],
          resources: tableArns(access.catalogReads),
        }),
      );
    }
  }
}

/** Glue's TableInput (the SDK's PascalCase shape) as CloudFormation's property shape. */
function cfnTableInput(input: TableInput): CfnTable.TableInputProperty {
  const column = (value: { Name?: string | undefined; Type?: string | undefined; Comment?: string | undefined }) => ({
    name: value.Name as string, ...(value.Type ? { type: value.Type } : {}), ...(value.Comment ? { comment: value.Comment } : {}),
  });
  const descriptor = input.StorageDescriptor;
  return {
    name: input.Name as string,
    ...(input.Description ? { description: input.Description } : {}),
    tableType: input.TableType as string,
    parameters: { ...input.Parameters },
    partitionKeys: (input.PartitionKeys ?? []).map(column),
    storageDescriptor: {
      columns: (descriptor?.Columns ?? []).map(column),
      location: descriptor?.Location as string,
      inputFormat: descriptor?.InputFormat as string,
      outputFormat: descriptor?.OutputFormat as string,
      compressed: descriptor?.Compressed ?? false,
      serdeInfo: { serializationLibrary: descriptor?.SerdeInfo?.SerializationLibrary as string, parameters: { ...descriptor?.SerdeInfo?.Parameters } },
    },
  };
}
