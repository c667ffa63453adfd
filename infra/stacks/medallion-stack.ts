import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { TableSpec } from '../../core/index.ts';
import type { InfraConfig } from '../config.ts';
import { AnalystWorkgroup } from '../constructs/analyst-workgroup.ts';
import { LakeCatalog } from '../constructs/lake-catalog.ts';
import { BRONZE_PREFIX, LakeStorage } from '../constructs/lake-storage.ts';
import { LandingDeliveryStream } from '../constructs/landing-delivery-stream.ts';
import { SOURCE_NAMES, SourceTables, type SourceName } from '../constructs/source-tables.ts';

export interface MedallionStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The job table specs registered in the Glue catalog (the app passes `PIPELINE_TABLES`). */
  readonly tables: readonly TableSpec[];
}

/**
 * Everything one environment needs: source tables and their change streams, the lake buckets,
 * the Firehose delivery streams between them, the Glue catalog and the analysts' Athena workgroup.
 *
 * @example
 * new MedallionStack(app, 'medallion-dev', { config: loadInfraConfig('dev'), tables: PIPELINE_TABLES });
 */
export class MedallionStack extends Stack {
  readonly sources: SourceTables;
  readonly lake: LakeStorage;
  readonly deliveryStreams: Readonly<Record<SourceName, LandingDeliveryStream>>;
  readonly catalog: LakeCatalog;
  readonly analysts: AnalystWorkgroup;

  constructor(scope: Construct, id: string, props: MedallionStackProps) {
    super(scope, id, props);
    const { config } = props;
    Tags.of(this).add('project', 'medallion');
    Tags.of(this).add('environment', config.envName);

    this.sources = new SourceTables(this, 'Sources', { config });
    this.lake = new LakeStorage(this, 'Lake', { config });

    const delivery = (source: SourceName): LandingDeliveryStream =>
      new LandingDeliveryStream(this, `${source[0]!.toUpperCase()}${source.slice(1)}Delivery`, {
        config,
        source,
        stream: this.sources.bySource[source].stream,
        streamKey: this.sources.key,
        bucket: this.lake.buckets.landingBronze,
        bucketKey: this.lake.key,
      });
    this.deliveryStreams = Object.fromEntries(SOURCE_NAMES.map((source) => [source, delivery(source)])) as Record<
      SourceName,
      LandingDeliveryStream
    >;

    const { buckets } = this.lake;
    this.catalog = new LakeCatalog(this, 'Catalog', {
      config,
      tables: props.tables,
      locations: {
        bronze: { bucket: buckets.landingBronze, prefix: BRONZE_PREFIX },
        silver: { bucket: buckets.silver, prefix: '' },
        gold: { bucket: buckets.gold, prefix: '' },
        quarantine: { bucket: buckets.quarantine, prefix: '' },
      },
    });
    this.analysts = new AnalystWorkgroup(this, 'Analysts', { config, resultsBucket: buckets.athenaResults, resultsKey: this.lake.key });
  }
}
