import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type Policy, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { LakeAccess } from '../../core/layout/index.ts';
import type { InfraConfig } from '../config.ts';

/**
 * The lake's state: the DynamoDB table `DynamoDbStateStore` (core/state) keeps the root, manifests,
 * bookmarks, run records and locks in, and the key that encrypts it and the pipeline's log groups.
 *
 * Built in the scope it is given (JobCompute's), so the resources keep the logical ids a deployed stack has:
 * the table is kept in prod, and a new logical id would mean a new, empty table.
 */
export class LakeState {
  /** Encrypts the state table and the pipeline's log groups. */
  readonly key: Key;
  readonly stateTable: Table;

  constructor(scope: Construct, props: { readonly config: InfraConfig; readonly logGroupNames: readonly string[]; readonly removalPolicy: RemovalPolicy }) {
    const { config, removalPolicy } = props;
    const stack = Stack.of(scope);
    this.key = new Key(scope, 'Key', {
      description: `medallion ${config.envName}: lake state table and pipeline log groups`,
      enableKeyRotation: true,
      removalPolicy,
    });
    const logGroupArn = (name: string) =>
      stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'EncryptPipelineLogGroups',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        // A key policy's "*" is this key. The condition limits CloudWatch Logs to our own log groups.
        resources: ['*'],
        conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': props.logGroupNames.map(logGroupArn) } },
      }),
    );
    this.stateTable = new Table(scope, 'StateTable', {
      tableName: `medallion-${config.envName}-state`,
      // The keys DynamoDbStateStore (core/state) uses for the root, documents, records and locks.
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: config.envName === 'prod',
      removalPolicy,
    });
  }

  /**
   * Lets the holder of `policy` read the state, put the items `access.stateWrites` names and delete those
   * `access.stateDeletes` names (by partition key: `dynamodb:LeadingKeys`; a transaction's parts are
   * authorized one by one, so a fenced commit needs its root and its lock there), through the table's key. The
   * state store never updates an item in place (every write is a conditional put), so no role may.
   */
  grantReadWrite(policy: Policy, access: Pick<LakeAccess, 'stateWrites' | 'stateDeletes'>): void {
    const region = Stack.of(this.stateTable).region;
    policy.addStatements(
      new PolicyStatement({
        sid: 'ReadStateTable',
        actions: ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
        resources: [this.stateTable.tableArn],
      }),
      ...(access.stateWrites.length === 0
        ? []
        : [
            new PolicyStatement({
              sid: 'WriteOwnStateItems',
              actions: ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'],
              resources: [this.stateTable.tableArn],
              conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...access.stateWrites] } },
            }),
          ]),
      ...(access.stateDeletes.length === 0
        ? []
        : [
            new PolicyStatement({
              sid: 'DeleteStateItems',
              actions: ['dynamodb:DeleteItem'],
              resources: [this.stateTable.tableArn],
              conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...access.stateDeletes] } },
            }),
          ]),
      new PolicyStatement({
        sid: 'UseStateTableKey',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com` } },
      }),
    );
  }
}
