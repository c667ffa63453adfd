import { Stack } from 'aws-cdk-lib';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';

export interface CostBudgetProps {
  readonly config: InfraConfig;
  /** Where the budget's alerts go: the warning topic (working hours, not a page). */
  readonly topic: ITopic;
  /** The topic's key, which AWS Budgets must use to publish to it. */
  readonly topicKey: IKey;
}

/**
 * What the environment may cost a month: an AWS Budgets cost budget of `monthlyBudgetUsd` over the resources tagged
 * `medallion=<env>` (the stack tags every resource; the tag counts once it is activated as a cost allocation tag in
 * Billing), alerting the warning topic when actual spend passes `budgetAlertPercent` of it,
 * and when the month's forecast does.
 *
 * @example
 * new CostBudget(stack, 'Budget', { config, topic: alerts.warningTopic, topicKey: alerts.key });
 */
export class CostBudget extends Construct {
  readonly budget: CfnBudget;

  constructor(scope: Construct, id: string, props: CostBudgetProps) {
    super(scope, id);
    const { config, topic, topicKey } = props;
    const stack = Stack.of(this);
    const subscribers = [{ subscriptionType: 'SNS', address: topic.topicArn }];
    this.budget = new CfnBudget(this, 'Budget', {
      budget: {
        budgetName: `medallion-${config.envName}`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: config.monthlyBudgetUsd, unit: 'USD' },
        // One tag, one value: Budgets counts a resource matching any value of a filter, so two tags would add up.
        costFilters: { TagKeyValue: [`user:medallion$${config.envName}`] },
      },
      notificationsWithSubscribers: (['ACTUAL', 'FORECASTED'] as const).map((notificationType) => ({
        notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold: config.budgetAlertPercent, thresholdType: 'PERCENTAGE' },
        subscribers,
      })),
    });
    // AWS Budgets publishes as its service, for this account's budgets only, to the encrypted topic.
    const budgets = new ServicePrincipal('budgets.amazonaws.com');
    const fromThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:budgets::${stack.account}:*` },
    };
    topic.addToResourcePolicy(new PolicyStatement({ sid: 'BudgetsPublish', principals: [budgets], actions: ['sns:Publish'], resources: [topic.topicArn], conditions: fromThisAccount }));
    topicKey.addToResourcePolicy(new PolicyStatement({ sid: 'BudgetsPublish', principals: [budgets], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromThisAccount }));
  }
}
