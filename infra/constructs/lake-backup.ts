import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BackupPlan, BackupPlanRule, BackupResource, BackupVault } from 'aws-cdk-lib/aws-backup';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

export interface LakeBackupProps {
  readonly config: InfraConfig;
  /** The lake's state: commits, bookmarks, runs, locks. */
  readonly stateTable: ITable;
  /** The lake's buckets (landing+bronze, silver, gold, quarantine): versioned, as AWS Backup needs. */
  readonly buckets: readonly IBucket[];
  /** The key the buckets' objects are encrypted with: the backup role decrypts through it. */
  readonly lakeKey: IKey;
}

/** AWS Backup's managed policies for DynamoDB and S3 backup and restore (S3 needs its own). */
export const BACKUP_MANAGED_POLICIES = [
  'service-role/AWSBackupServiceRolePolicyForBackup',
  'service-role/AWSBackupServiceRolePolicyForRestores',
  'AWSBackupServiceRolePolicyForS3Backup',
  'AWSBackupServiceRolePolicyForS3Restore',
] as const;

/** `medallion-<env>-lake`: the vault and plan runbooks/disaster-recovery.md restores from. */
export const backupVaultName = (config: InfraConfig): string => `medallion-${config.envName}-lake`;

/**
 * AWS Backup of the lake, as AWS recommends for data that must survive its account's mistakes: one plan backs up
 * the state table and every lake bucket together, daily at 03:00 UTC (after the nightly pipeline) with continuous
 * backup for point-in-time restores, into a vault of its own key, kept `backupRetentionDays`. On where the config
 * says (`backupEnabled`: prod); DynamoDB point-in-time recovery is on in every environment regardless.
 * runbooks/disaster-recovery.md restores from it.
 */
export class LakeBackup extends Construct {
  readonly vault: BackupVault;
  readonly plan: BackupPlan;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: LakeBackupProps) {
    super(scope, id);
    const { config } = props;
    const removalPolicy = config.envName === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const key = new Key(this, 'VaultKey', { description: `medallion ${config.envName}: the lake's backup vault`, enableKeyRotation: true, removalPolicy });
    this.vault = new BackupVault(this, 'Vault', { backupVaultName: backupVaultName(config), encryptionKey: key, removalPolicy });
    this.plan = new BackupPlan(this, 'Plan', {
      backupPlanName: backupVaultName(config),
      backupVault: this.vault,
      backupPlanRules: [
        new BackupPlanRule({
          ruleName: 'daily',
          scheduleExpression: Schedule.cron({ minute: '0', hour: '3' }),
          // Continuous backup (S3 and DynamoDB) restores to any second of the last 35 days at most.
          enableContinuousBackup: true,
          deleteAfter: Duration.days(Math.min(config.backupRetentionDays, 35)),
        }),
      ],
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('backup.amazonaws.com'),
      description: `medallion ${config.envName}: AWS Backup of the lake's state table and buckets`,
      managedPolicies: BACKUP_MANAGED_POLICIES.map((name) => ManagedPolicy.fromAwsManagedPolicyName(name)),
    });
    // The buckets' objects are encrypted with the lake key: reading them for a backup and writing them back on a restore.
    this.role.addToPolicy(new PolicyStatement({ sid: 'UseLakeKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], resources: [props.lakeKey.keyArn] }));
    for (const policy of BACKUP_MANAGED_POLICIES) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
        reason: "AWS Backup's own service-role policy for backing up and restoring DynamoDB tables and S3 buckets: AWS maintains what each backup type needs; the backup selection limits the resources to the lake's.",
      });
    }
    this.plan.addSelection('Lake', {
      role: this.role,
      resources: [BackupResource.fromDynamoDbTable(props.stateTable), ...props.buckets.map((bucket) => BackupResource.fromArn(bucket.bucketArn))],
    });
  }
}
