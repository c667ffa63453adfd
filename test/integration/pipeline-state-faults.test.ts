import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { LocalCatalog, s3LakeLayout } from '../../core/catalog/index.ts';
import { GlueCatalog } from '../../core/catalog/glue-catalog.ts';
import { runJobs, type RunJobsOptions } from '../../core/runner/index.ts';
import { DynamoDbStateStore } from '../../core/state/dynamodb-state-store.ts';
import { PIPELINE_JOBS, PIPELINE_TABLES } from '../../jobs/index.ts';
import { loadPipelineRuleSets } from '../../jobs/quality.ts';
import { reconcileLake } from '../../jobs/reconcile.ts';
import { generateLanding } from '../../simulator/index.ts';
import { capturingGlue } from '../core/catalog/glue-capture.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { startDynamoFaultProxy, type DynamoFault, type DynamoFaultProxy, type DynamoRequest } from '../support/dynamo-fault-proxy.ts';
import { loopbackClientConfig, startDynamoDbLocal, type LocalServer } from '../support/local-aws.ts';
import { tableContents } from '../support/pipeline-check.ts';
import { mulberry32 } from '../support/seeded-random.ts';
import { holdBackLastDay, landAgain } from '../support/landing-days.ts';

const tempDir = useTempDirs();
const LANDING = { seed: 17, days: 2, users: 15, tasksPerDay: 25, faultRate: 0.03 } as const;
const quality = await loadPipelineRuleSets();

let dynamo: LocalServer;
const clients: DynamoDBClient[] = [];
const proxies: DynamoFaultProxy[] = [];
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});
afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  for (const client of clients) client.destroy();
  await dynamo?.close();
});

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);

/**
 * Faults as a real network and a busy table give them, drawn per request: a write's answer lost after
 * DynamoDB applied it (the SDK retries it), throttling, a reset connection, a slow request.
 */
function networkFaults(seed: number): (request: DynamoRequest) => DynamoFault | undefined {
  const random = mulberry32(seed);
  return ({ operation }) => {
    const draw = random();
    if (WRITES.has(operation) && draw < 0.06) return { kind: 'drop-response' };
    if (draw < 0.1) return { kind: 'throttle' };
    if (draw < 0.13) return { kind: 'reset' };
    if (draw < 0.2) return { kind: 'delay', ms: Math.floor(random() * 40) };
    return undefined;
  };
}

/** Generates the landing, holding the last day back; `land()` lands it (the second night's objects). */
async function landing(lake: Lake): Promise<() => Promise<void>> {
  await generateLanding(lake.storage, LANDING);
  const held = await holdBackLastDay(lake);
  return () => landAgain(lake, held);
}

/** Two nights of the pipeline as `run --all` runs it: quality rules on, two jobs at a time, bookmarks, retries. */
async function twoNights(lake: Lake, land: () => Promise<void>, options: RunJobsOptions = {}): Promise<void> {
  const nightly: RunJobsOptions = {
    quality,
    concurrency: 2,
    settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' }, maxRetries: 4 }),
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    ...options,
  };
  await runJobs(lake, PIPELINE_JOBS, nightly);
  await land();
  await runJobs(lake, PIPELINE_JOBS, nightly);
}

describe('the pipeline through a faulty network to its DynamoDB state table ends as a clean run', async () => {
  const referenceDir = await tempDir('state-faults-reference');
  const reference = openLocalLake(referenceDir, { threads: 2 });
  await twoNights(reference, await landing(reference));
  const expected = await tableContents(reference);

  for (const seed of [1, 2, 3]) {
    it(`lost answers, throttling, resets and delays (seed ${seed}): the same tables, reconcile balanced`, async () => {
      const dir = await tempDir('state-faults');
      const local = openLocalLake(dir, { threads: 2 });
      const table = `state-${randomUUID()}`;
      const direct = new DynamoDBClient(loopbackClientConfig(dynamo.endpoint));
      clients.push(direct);
      await DynamoDbStateStore.createTable(direct, table);
      const proxy = await startDynamoFaultProxy(dynamo.endpoint, networkFaults(seed));
      proxies.push(proxy);
      // The SDK's standard retries (its retry quota included), with short waits: the faults are the point here, not
      // the half-second backoff after a throttle, which made most of this test's time.
      const client = new DynamoDBClient({ ...loopbackClientConfig(proxy.endpoint), retryStrategy: new ConfiguredRetryStrategy(5, (attempt) => 10 * attempt) });
      clients.push(client);
      const state = new DynamoDbStateStore(client, table);
      const lake: Lake = { ...local, state, catalog: new LocalCatalog(path.join(dir, '_catalog'), local.storage, state) };

      await twoNights(lake, await landing(lake));
      expect(new Set(proxy.injected)).toEqual(new Set(['drop-response', 'throttle', 'reset', 'delay']));
      // Read back without faults: exactly the clean run's tables, and every landing record accounted for once.
      const clean: Lake = { ...lake, state: new DynamoDbStateStore(direct, table) };
      expect(await tableContents(clean)).toEqual(expected);
      expect((await reconcileLake(clean)).differences).toEqual([]);
      // The limit leaves room for a busy machine.
    }, 240_000);
  }

  it('two jobs in processes of their own publish to one Glue at once (the shared quarantine and quality tables): Glue ends on the newest root', async () => {
    const dir = await tempDir('glue-race');
    const local = openLocalLake(dir, { threads: 2 });
    const land = await landing(local);
    const random = mulberry32(7);
    const glue = capturingGlue({ delay: () => new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4))) });
    const layout = s3LakeLayout({ default: 's3://example-lake-bucket/' });
    // Each job's process has its own catalog client and publishes its own commit, as the job containers do.
    const catalogOf = () => new GlueCatalog({ glue: glue.client(), storage: local.storage, state: local.state, layout, databasePrefix: 'medallion', tables: PIPELINE_TABLES });
    const bronze = PIPELINE_JOBS.filter((job) => job.name.startsWith('bronze.'));
    const night = () => Promise.all(bronze.map((job) => {
      const lake: Lake = { ...local, catalog: catalogOf() };
      return runJobs(lake, [job], { quality, settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }) });
    }));
    await night();
    await land();
    await night();
    const root = await local.state.readRoot();
    for (const name of ['bronze.tasks_cdc', 'bronze.users_cdc', 'quarantine.records', 'quality.results']) {
      const manifest = await local.state.getDocument<{ version: number; partitions: Record<string, { values: Record<string, string> }> }>(root.tables[name]!.manifest);
      const [layer, short] = name.split('.') as [string, string];
      const shown = glue.tables.get(`medallion_${layer}.${short}`);
      expect(shown?.Parameters['medallion.version'], name).toBe(String(manifest.version));
      const partitions = [...(glue.partitions.get(`medallion_${layer}.${short}`)?.keys() ?? [])].map((id) => JSON.parse(id).join('/')).sort();
      expect(partitions, name).toEqual(Object.values(manifest.partitions).map((entry) => Object.values(entry.values).join('/')).sort());
    }
  });
});
