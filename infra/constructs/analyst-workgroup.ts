import { Stack } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

export interface AnalystWorkgroupProps {
  readonly config: InfraConfig;
  readonly resultsBucket: IBucket;
  readonly resultsKey: IKey;
}

/** Prefix under the Athena results bucket where query results land. */
export const ATHENA_RESULTS_PREFIX = 'results/';

/**
 * The Athena workgroup analysts query through: engine v3, settings enforced (a client cannot turn
 * off encryption or the scan limit), results KMS-encrypted, a bytes-scanned cutoff per query, and
 * CloudWatch metrics.
 *
 * @example
 * new AnalystWorkgroup(stack, 'Analysts', { config, resultsBucket, resultsKey });
 */
export class AnalystWorkgroup extends Construct {
  readonly workGroup: CfnWorkGroup;

  constructor(scope: Construct, id: string, props: AnalystWorkgroupProps) {
    super(scope, id);
    const { config, resultsBucket, resultsKey } = props;
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: `medallion-${config.envName}`,
      description: `medallion ${config.envName}: analysts' queries over the lake`,
      state: 'ENABLED',
      recursiveDeleteOption: config.envName !== 'prod',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: config.athenaBytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${resultsBucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: resultsKey.keyArn },
          expectedBucketOwner: Stack.of(this).account,
        },
      },
    });
  }
}
