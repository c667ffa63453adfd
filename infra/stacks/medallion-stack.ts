import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { IChainable } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { Job, TableSpec } from '../../core/index.ts';
import type { TableRuleSet } from '../../core/quality/index.ts';
import type { InfraConfig } from '../config.ts';
import { AlertTopic } from '../constructs/alert-topic.ts';
import { AnalystAccess } from '../constructs/analyst-access.ts';
import { CostBudget } from '../constructs/cost-budget.ts';
import { AnalystWorkgroup } from '../constructs/analyst-workgroup.ts';
import { JobCompute } from '../constructs/job-compute.ts';
import { CATALOG_LAYERS, type CatalogLayer, LakeCatalog } from '../constructs/lake-catalog.ts';
import { LakeBackup } from '../constructs/lake-backup.ts';
import { LakeStorage } from '../constructs/lake-storage.ts';
import { LandingDeliveryStream } from '../constructs/landing-delivery-stream.ts';
import { type MonitoredSource, PipelineMonitoring } from '../constructs/pipeline-monitoring.ts';
import { PipelineOrchestration, qualityCheckStep, reconcileCheckStep, reportStep, vacuumStep } from '../constructs/pipeline-orchestration.ts';
import { SOURCE_NAMES, SourceTables, type SourceName } from '../constructs/source-tables.ts';
import { type LakeLocation, locateLakePrefix } from '../lake-layout.ts';

export interface MedallionStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The job table specs registered in the Glue catalog (the app passes `PIPELINE_TABLES`). */
  readonly tables: readonly TableSpec[];
  /** The jobs the pipeline runs, one task definition and one state each (the app passes `PIPELINE_JOBS`). */
  readonly jobs: readonly Job[];
  /** The folder holding the Dockerfile of the jobs' image (the repository root). */
  readonly imageDirectory: string;
  /** The quality rule sets the image carries (the app passes `pipelineRuleSets()`): the roles are granted what they read. */
  readonly ruleSets: readonly TableRuleSet[];
  /**
   * The states that run after the last job stage (see PipelineOrchestration); by default the quality step,
   * `medallion quality` as a Fargate task (`qualityCheckStep`).
   */
  readonly qualityStep?: (scope: Construct) => IChainable;
  /** The sources the nightly reconcile step follows (the app passes `RECONCILED_SOURCES`); without them, no such step. */
  readonly reconciledSources?: readonly { readonly landingPrefix: string; readonly bronzeTable: string; readonly silverEvents: string }[];
}

/**
 * Everything one environment needs: source tables and their change streams, the lake buckets,
 * the Firehose delivery streams between them, the Glue catalog and the analysts' Athena workgroup,
 * the jobs' compute and state table, the nightly state machine (the jobs, then the quality step), and the
 * alarms (one or more per entry of the alarm registry, core/alarms.ts) and dashboard.
 *
 * @example
 * new MedallionStack(app, 'medallion-dev', { config: loadInfraConfig('dev'), tables: PIPELINE_TABLES, jobs: PIPELINE_JOBS, ruleSets: pipelineRuleSets(), imageDirectory: repoRoot });
 */
export class MedallionStack extends Stack {
  readonly sources: SourceTables;
  readonly lake: LakeStorage;
  readonly deliveryStreams: Readonly<Record<SourceName, LandingDeliveryStream>>;
  readonly catalog: LakeCatalog;
  readonly analysts: AnalystWorkgroup;
  readonly compute: JobCompute;
  readonly alerts: AlertTopic;
  /** The analysts' role: Athena over the granted layers. */
  readonly analystAccess: AnalystAccess;
  /** The monthly cost budget, where `monthlyBudgetUsd` is above 0. */
  readonly budget?: CostBudget;
  readonly pipeline: PipelineOrchestration;
  readonly monitoring: PipelineMonitoring;
  /** The AWS Backup plan of the state table and the lake buckets, where the config turns it on. */
  readonly backup?: LakeBackup;

  constructor(scope: Construct, id: string, props: MedallionStackProps) {
    super(scope, id, props);
    const { config } = props;
    Tags.of(this).add('project', 'medallion');
    Tags.of(this).add('environment', config.envName);
    // One tag that says both (the cost budget filters on it: Budgets ORs the values of a filter).
    Tags.of(this).add('medallion', config.envName);

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

    const { buckets, layout } = this.lake;
    this.catalog = new LakeCatalog(this, 'Catalog', {
      config,
      tables: props.tables,
      locations: Object.fromEntries(CATALOG_LAYERS.map((layer) => [layer, locateLakePrefix(layout, `${layer}/`)])) as Record<CatalogLayer, LakeLocation>,
    });
    this.analysts = new AnalystWorkgroup(this, 'Analysts', { config, resultsBucket: buckets.athenaResults, resultsKey: this.lake.key });
    this.analystAccess = new AnalystAccess(this, 'AnalystAccess', { config, lake: this.lake, workgroup: this.analysts, tables: props.tables });

    this.compute = new JobCompute(this, 'Jobs', {
      config,
      jobs: props.jobs,
      lake: this.lake,
      catalog: this.catalog,
      imageDirectory: props.imageDirectory,
      ruleSets: props.ruleSets,
      ...(props.reconciledSources ? { reconciledSources: props.reconciledSources } : {}),
    });
    if (config.backupEnabled) {
      this.backup = new LakeBackup(this, 'Backup', {
        config,
        stateTable: this.compute.state.stateTable,
        buckets: [buckets.landingBronze, buckets.silver, buckets.gold, buckets.quarantine],
        lakeKey: this.lake.key,
      });
    }
    this.alerts = new AlertTopic(this, 'Alerts', { config });
    this.pipeline = new PipelineOrchestration(this, 'Pipeline', {
      config,
      jobs: props.jobs,
      ruleSets: props.ruleSets,
      compute: this.compute,
      alertTopic: this.alerts.topic,
      alertKey: this.alerts.key,
      qualityStep: props.qualityStep ?? qualityCheckStep({ config, compute: this.compute, alertTopic: this.alerts.topic }),
      // Then every night: reconcile (records that do not add up fail the execution), and the vacuum.
      afterQuality: [
        ...(this.compute.reconcileTask ? [reconcileCheckStep({ config, compute: this.compute, alertTopic: this.alerts.topic })] : []),
        vacuumStep({ config, compute: this.compute, alertTopic: this.alerts.topic }),
        // Last, the operations report, and its summary to the warning topic.
        reportStep({ config, compute: this.compute, lake: this.lake, warningTopic: this.alerts.warningTopic }),
      ],
    });
    if (config.monthlyBudgetUsd > 0) this.budget = new CostBudget(this, 'Budget', { config, topic: this.alerts.warningTopic, topicKey: this.alerts.key });
    const monitoredSource = (source: SourceName): MonitoredSource => ({
      table: this.sources.bySource[source].table,
      stream: this.sources.bySource[source].stream,
      deliveryStreamName: this.deliveryStreams[source].deliveryStream.ref,
    });
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      config,
      jobs: props.jobs,
      ruleSets: props.ruleSets,
      alertTopics: this.alerts.topics,
      jobLogGroup: this.compute.logGroup,
      sources: { users: monitoredSource('users'), tasks: monitoredSource('tasks') },
      stateTable: this.compute.state.stateTable,
      stateMachine: this.pipeline.stateMachine,
      schedule: this.pipeline.schedule,
      costs: {
        buckets: { ...buckets, accessLogs: this.lake.accessLogBucket },
        workGroupName: this.analysts.workGroup.ref,
      },
    });
  }
}
