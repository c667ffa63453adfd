import { RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

export interface AlertTopicProps {
  readonly config: InfraConfig;
}

/**
 * The SNS topic operators subscribe to: every CloudWatch alarm and every failed pipeline step
 * publishes here. Encrypted with its own rotating key (which CloudWatch may use, to publish alarms),
 * publish over TLS only, and the configured addresses subscribed by email.
 *
 * @example
 * const alerts = new AlertTopic(stack, 'Alerts', { config });
 * alerts.topic.topicArn;
 */
export class AlertTopic extends Construct {
  readonly key: Key;
  readonly topic: Topic;

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
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      topicName: `medallion-${config.envName}-alerts`,
      displayName: `medallion ${config.envName} alerts`,
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of config.alertEmails) this.topic.addSubscription(new EmailSubscription(email));
  }
}
