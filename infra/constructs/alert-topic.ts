import { Annotations, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { SlackChannelConfiguration } from 'aws-cdk-lib/aws-chatbot';
import { ManagedPolicy, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { AlarmSeverity } from '../../core/alarms.ts';
import type { InfraConfig } from '../config.ts';

export interface AlertTopicProps {
  readonly config: InfraConfig;
}

/**
 * The SNS topics operators subscribe to, by severity: `topic` (critical: pages someone) takes the critical
 * alarms and every failed pipeline step; `warningTopic` the warning alarms (working hours). Encrypted with one
 * rotating key (which CloudWatch may use, to publish alarms), publish over TLS only; the configured addresses
 * subscribed by email (alertEmails to both, warningEmails to warnings only), and the configured Slack channel
 * (AWS Chatbot) to both. An environment with no subscriber at all gets a synthesis warning: its alarms would
 * reach nobody.
 *
 * @example
 * const alerts = new AlertTopic(stack, 'Alerts', { config });
 * alerts.topics.critical.topicArn;
 */
export class AlertTopic extends Construct {
  readonly key: Key;
  /** The critical topic (also `topics.critical`). */
  readonly topic: Topic;
  readonly warningTopic: Topic;
  readonly topics: Readonly<Record<AlarmSeverity, Topic>>;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    const { config } = props;
    this.key = new Key(this, 'Key', {
      description: `medallion ${config.envName}: alert topic`,
      enableKeyRotation: true,
      // Alerts are transient; keeping the key of a deleted topic protects nothing.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms publish as the CloudWatch service, which must be able to encrypt the message.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        // Only for this account's alarms (a confused deputy cannot have CloudWatch use the key for another's).
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      topicName: `medallion-${config.envName}-alerts`,
      displayName: `medallion ${config.envName} critical alerts`,
      masterKey: this.key,
      enforceSSL: true,
    });
    this.warningTopic = new Topic(this, 'WarningTopic', {
      topicName: `medallion-${config.envName}-warnings`,
      displayName: `medallion ${config.envName} warnings`,
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topics = { critical: this.topic, warning: this.warningTopic };
    // enforceSSL gives each topic a policy of its own, which replaces SNS's default: CloudWatch, a service principal,
    // must be allowed to publish this account's alarms there.
    for (const topic of [this.topic, this.warningTopic]) {
      topic.addToResourcePolicy(new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }));
    }
    for (const email of config.alertEmails) {
      this.topic.addSubscription(new EmailSubscription(email));
      this.warningTopic.addSubscription(new EmailSubscription(email));
    }
    for (const email of config.warningEmails) this.warningTopic.addSubscription(new EmailSubscription(email));
    if (config.slackChannel) {
      new SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `medallion-${config.envName}-alerts`,
        slackWorkspaceId: config.slackChannel.workspaceId,
        slackChannelId: config.slackChannel.channelId,
        notificationTopics: [this.topic, this.warningTopic],
        // Read-only guardrail: the channel shows alarms, nobody acts on the account from it.
        guardrailPolicies: [ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
      });
    }
    if (config.alertEmails.length === 0 && !config.slackChannel) {
      Annotations.of(this).addWarningV2(
        'medallion:no-alert-subscriber',
        `no one is subscribed to the ${config.envName} critical alerts: set alertEmails or slackChannel in the ${config.envName} config, or every alarm reaches nobody`,
      );
    }
  }
}
