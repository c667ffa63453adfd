import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { TableSpec } from '../../core/index.ts';
import type { InfraConfig } from '../config.ts';
import { glueTableShape } from '../glue-column-type.ts';

/** The layers analysts see as Glue databases (`gold.daily_task_kpis`). */
export const CATALOG_LAYERS = ['bronze', 'silver', 'gold', 'quarantine'] as const;
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

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const { config, locations } = props;
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

    const tables: Record<string, CfnTable> = {};
    for (const spec of props.tables) {
      const [layer, tableName] = spec.name.split('.') as [CatalogLayer, string];
      const { columns, partitionKeys } = glueTableShape(spec);
      const location = locations[layer];
      const table = new CfnTable(this, `${layer}_${tableName}`, {
        catalogId: account,
        databaseName: glueDatabaseName(config, layer),
        tableInput: {
          name: tableName,
          description: spec.description.slice(0, 2048),
          tableType: 'EXTERNAL_TABLE',
          parameters: { classification: 'parquet', EXTERNAL: 'TRUE', 'parquet.compression': 'ZSTD' },
          partitionKeys: [...partitionKeys],
          storageDescriptor: {
            columns: [...columns],
            location: `s3://${location.bucket.bucketName}/${location.prefix}${tableName}/`,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      });
      table.applyRemovalPolicy(removalPolicy);
      table.node.addDependency(databases[layer]);
      tables[spec.name] = table;
    }
    this.tables = tables;
  }
}
