import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { ApproximateCreationDateTimePrecision, AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

/** The Todo API's source tables, named as they appear in `landing/<source>/`. */
export const SOURCE_NAMES = ['users', 'tasks'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export interface SourceTablesProps {
  readonly config: InfraConfig;
}

/** One source table with the Kinesis data stream its changes flow into. */
export interface SourceTable {
  readonly source: SourceName;
  readonly table: Table;
  readonly stream: Stream;
}

/**
 * The `Users` and `Tasks` DynamoDB tables, each streaming its changes (with microsecond
 * `ApproximateCreationDateTime`) to its own KMS-encrypted Kinesis data stream.
 *
 * Each table gets its own stream because each Firehose reads one whole stream and writes it to
 * `landing/<source>/`: a shared stream would mix users and tasks records under both prefixes.
 *
 * @example
 * const sources = new SourceTables(stack, 'Sources', { config });
 * sources.bySource.tasks.stream; // the stream the tasks Firehose reads
 */
export class SourceTables extends Construct {
  /** Encrypts the tables, their backups and the Kinesis streams. */
  readonly key: Key;
  readonly bySource: Readonly<Record<SourceName, SourceTable>>;

  constructor(scope: Construct, id: string, props: SourceTablesProps) {
    super(scope, id);
    const { config } = props;
    const isProd = config.envName === 'prod';
    const removalPolicy = isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = new Key(this, 'Key', {
      description: `medallion ${config.envName}: source DynamoDB tables and their Kinesis change streams`,
      enableKeyRotation: true,
      removalPolicy,
    });

    const build = (source: SourceName, tableName: string, withSortKey: boolean): SourceTable => {
      const stream = new Stream(this, `${tableName}ChangeStream`, {
        streamMode: StreamMode.ON_DEMAND,
        encryption: StreamEncryption.KMS,
        encryptionKey: this.key,
        retentionPeriod: Duration.hours(config.kinesisRetentionHours),
        removalPolicy,
      });
      Validations.of(stream).acknowledge({
        id: 'AwsSolutions-KDS3',
        reason:
          'The stream is deliberately encrypted with the customer-managed source key (rotated, shared with the tables, its policy under our control) rather than the AWS-managed aws/kinesis key.',
      });
      const table = new Table(this, `${tableName}Table`, {
        tableName: `medallion-${config.envName}-${tableName}`,
        partitionKey: { name: 'userId', type: AttributeType.STRING },
        ...(withSortKey ? { sortKey: { name: 'taskId', type: AttributeType.STRING } } : {}),
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        deletionProtection: isProd,
        removalPolicy,
        kinesisStream: stream,
        kinesisPrecisionTimestamp: ApproximateCreationDateTimePrecision.MICROSECOND,
      });
      return { source, table, stream };
    };

    this.bySource = {
      users: build('users', 'Users', false),
      tasks: build('tasks', 'Tasks', true),
    };
  }
}
