import { Stack } from 'aws-cdk-lib';
import { CfnNamedQuery, CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.ts';
import { glueDatabaseName } from './lake-catalog.ts';

export interface AnalystWorkgroupProps {
  readonly config: InfraConfig;
  readonly resultsBucket: IBucket;
  readonly resultsKey: IKey;
}

/** Prefix under the Athena results bucket where query results land. */
export const ATHENA_RESULTS_PREFIX = 'results/';

/** A saved query analysts open from the Athena console's "Saved queries" tab. */
export interface KpiNamedQuery {
  readonly name: string;
  readonly description: string;
  /** Athena (Trino) SQL over `<gold database>.daily_task_kpis`; columns as docs/tables.md defines them. */
  readonly sql: (goldDatabase: string) => string;
}

/** The common KPI questions, answered from gold.daily_task_kpis. */
export const KPI_NAMED_QUERIES: readonly KpiNamedQuery[] = [
  {
    name: 'Daily task KPIs, last 30 days',
    description: 'Every KPI of the last 30 UTC days, newest first.',
    sql: (gold) => `SELECT *
FROM "${gold}"."daily_task_kpis"
WHERE dt >= current_date - INTERVAL '30' DAY
ORDER BY dt DESC`,
  },
  {
    name: 'Weekly tasks created, completed and deleted',
    description: 'Created, completed and deleted tasks per ISO week, with completions per created task.',
    sql: (gold) => `SELECT date_trunc('week', dt) AS week,
       sum(tasks_created) AS tasks_created,
       sum(tasks_completed) AS tasks_completed,
       sum(tasks_deleted) AS tasks_deleted,
       round(CAST(sum(tasks_completed) AS DOUBLE) / NULLIF(sum(tasks_created), 0), 3) AS completed_per_created
FROM "${gold}"."daily_task_kpis"
GROUP BY 1
ORDER BY 1 DESC`,
  },
  {
    name: 'Backlog and overdue share, last 90 days',
    description: 'Open and overdue tasks at the end of each day, and the share of open tasks that are overdue.',
    sql: (gold) => `SELECT dt,
       open_tasks_eod,
       overdue_tasks_eod,
       round(CAST(overdue_tasks_eod AS DOUBLE) / NULLIF(open_tasks_eod, 0), 3) AS overdue_share
FROM "${gold}"."daily_task_kpis"
WHERE dt >= current_date - INTERVAL '90' DAY
ORDER BY dt DESC`,
  },
  {
    name: 'Active users, 7-day average',
    description: 'Distinct active users per day and their trailing 7-day average (the average of daily counts, not distinct users over 7 days).',
    sql: (gold) => `SELECT dt,
       active_users,
       round(avg(active_users) OVER (ORDER BY dt ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 1) AS active_users_7d_avg
FROM "${gold}"."daily_task_kpis"
ORDER BY dt DESC`,
  },
  {
    name: 'Slowest completion days',
    description: 'The 20 days whose median hours from a task\'s creation to its completion were longest (days with completions only).',
    sql: (gold) => `SELECT dt, median_hours_to_complete, tasks_completed
FROM "${gold}"."daily_task_kpis"
WHERE median_hours_to_complete IS NOT NULL
ORDER BY median_hours_to_complete DESC
LIMIT 20`,
  },
];

/**
 * The Athena workgroup analysts query through: engine v3, settings enforced (a client cannot turn
 * off encryption or the scan limit), results KMS-encrypted, a bytes-scanned cutoff per query, and
 * CloudWatch metrics; with the common KPI questions saved in it as named queries.
 *
 * @example
 * new AnalystWorkgroup(stack, 'Analysts', { config, resultsBucket, resultsKey });
 */
export class AnalystWorkgroup extends Construct {
  readonly workGroup: CfnWorkGroup;
  readonly namedQueries: readonly CfnNamedQuery[];

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

    const goldDatabase = glueDatabaseName(config, 'gold');
    this.namedQueries = KPI_NAMED_QUERIES.map(
      (query) =>
        new CfnNamedQuery(this, `KpiQuery${query.name.replace(/[^A-Za-z0-9]/g, '')}`, {
          name: query.name,
          description: query.description,
          database: goldDatabase,
          // Ref is the workgroup name, so the query is created after its workgroup.
          workGroup: this.workGroup.ref,
          queryString: query.sql(goldDatabase),
        }),
    );
  }
}
