import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTable, type TableSpec } from '../../core/index.ts';
import { type LakeRoot, type StateStore } from '../../core/state/index.ts';
import { DynamoDbStateStore } from '../../core/state/dynamodb-state-store.ts';
import { commitTables, type TableManifest, type TableWrite } from '../../core/table/index.ts';
import { startDynamoFaultProxy, type DynamoFault, type DynamoFaultProxy, type DynamoRequest } from '../support/dynamo-fault-proxy.ts';
import { loopbackClientConfig, startDynamoDbLocal, type LocalServer } from '../support/local-aws.ts';

const events = defineTable({
  name: 'bronze.events',
  description: 'Appended events.',
  writeMode: 'append',
  partitionBy: [],
  columns: [{ name: 'id', type: 'BIGINT', description: 'Event id.' }],
});
const kpis = defineTable({
  name: 'gold.kpis',
  description: 'Replaced KPIs.',
  writeMode: 'replace_partitions',
  partitionBy: [],
  columns: [{ name: 'n', type: 'BIGINT', description: 'A count.' }],
});
const other = defineTable({ ...events, name: 'bronze.other' });

const write = (spec: TableSpec, kind: TableWrite['kind'], key: string): TableWrite => ({
  spec,
  kind,
  partitions: { '': { values: {}, files: [{ key, rows: 10, sizeBytes: 1000 }] } },
});

let dynamo: LocalServer;
const clients: DynamoDBClient[] = [];
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await dynamo.close();
});

/** A state table reached two ways: directly, and through a proxy that injects `decide`'s faults. */
async function stateTable(decide: (request: DynamoRequest) => DynamoFault | undefined): Promise<{ direct: StateStore; faulty: StateStore; proxy: DynamoFaultProxy }> {
  const table = `state-${randomUUID()}`;
  const client = new DynamoDBClient({ ...loopbackClientConfig(dynamo.endpoint), maxAttempts: 4 });
  clients.push(client);
  await DynamoDbStateStore.createTable(client, table);
  const proxy = await startDynamoFaultProxy(dynamo.endpoint, decide);
  const viaProxy = new DynamoDBClient({ ...loopbackClientConfig(proxy.endpoint), maxAttempts: 4 });
  clients.push(viaProxy);
  return { direct: new DynamoDbStateStore(client, table), faulty: new DynamoDbStateStore(viaProxy, table), proxy };
}

/** Whether a request is a root swap: the transaction that puts a root item (with its claims), the commit point. */
const isRootSwap = ({ operation, body }: DynamoRequest) =>
  operation === 'TransactWriteItems' && String(body.TransactItems?.[0]?.Put?.Item?.pk?.S ?? '').startsWith('root#');

/** The first root swap gets `fault`; every other request passes. */
function onFirstRootSwap(fault: () => DynamoFault): (request: DynamoRequest) => DynamoFault | undefined {
  let done = false;
  return (request) => {
    if (done || !isRootSwap(request)) return undefined;
    done = true;
    return fault();
  };
}

const filesOf = async (state: StateStore, root: LakeRoot, table: string) =>
  Object.values((await state.getDocument<TableManifest>(root.tables[table]!.manifest)).partitions).flatMap((entry) => entry.files.map((file) => file.key));

describe('the commit on DynamoDB when an answer is lost (DynamoDB Local behind a faulty proxy)', () => {
  it('applies an append once when the root swap went in, its answer was lost and another job committed before the retry', async () => {
    let direct!: StateStore;
    const setup = await stateTable(onFirstRootSwap(() => ({
      kind: 'drop-response',
      // Another job commits while the first one's answer is on its way back.
      meanwhile: async () => void (await commitTables(direct, { runId: 'jr_other', basedOn: await direct.readRoot(), writes: [write(other, 'append', 'other/1.parquet')] })),
    })));
    direct = setup.direct;
    await commitTables(direct, { runId: 'jr_first', basedOn: await direct.readRoot(), writes: [write(events, 'append', 'events/1.parquet')] });

    const result = await commitTables(setup.faulty, { runId: 'jr_mine', basedOn: await direct.readRoot(), writes: [write(events, 'append', 'events/2.parquet')] });
    expect(setup.proxy.injected).toEqual(['drop-response']);
    const root = await direct.readRoot();
    expect(root.seq).toBe(3);
    expect(await filesOf(direct, root, 'bronze.events')).toEqual(['events/1.parquet', 'events/2.parquet']);
    expect(await filesOf(direct, root, 'bronze.other')).toEqual(['other/1.parquet']);
    expect(result.root.seq).toBe(2);
    await setup.proxy.close();
  });

  it('reports a replacing commit that went in as committed, bookmark included, not as a conflict', async () => {
    let direct!: StateStore;
    const setup = await stateTable(onFirstRootSwap(() => ({
      kind: 'drop-response',
      meanwhile: async () => void (await commitTables(direct, { runId: 'jr_other', basedOn: await direct.readRoot(), writes: [write(other, 'append', 'other/1.parquet')] })),
    })));
    direct = setup.direct;
    await commitTables(direct, { runId: 'jr_first', basedOn: await direct.readRoot(), writes: [write(kpis, 'replace_all', 'kpis/1.parquet')] });

    await setup.faulty.putDocument('bookmarks/gold.kpis/jr_mine', { version: 1 });
    await commitTables(setup.faulty, {
      runId: 'jr_mine', basedOn: await direct.readRoot(), writes: [write(kpis, 'replace_all', 'kpis/2.parquet')], bookmarks: { 'gold.kpis': 'bookmarks/gold.kpis/jr_mine' },
    });
    const root = await direct.readRoot();
    expect(root.seq).toBe(3);
    expect(await filesOf(direct, root, 'gold.kpis')).toEqual(['kpis/2.parquet']);
    expect(root.bookmarks['gold.kpis']).toBe('bookmarks/gold.kpis/jr_mine');
    await setup.proxy.close();
  });

  it('commits exactly once through throttling and reset connections on the swap', async () => {
    let faults = 0;
    const setup = await stateTable((request) => {
      if (!isRootSwap(request) || faults >= 2) return undefined;
      faults += 1;
      return faults === 1 ? { kind: 'throttle' } : { kind: 'reset' };
    });
    await commitTables(setup.faulty, { runId: 'jr_mine', basedOn: await setup.direct.readRoot(), writes: [write(events, 'append', 'events/1.parquet')] });
    expect(setup.proxy.injected).toEqual(['throttle', 'reset']);
    const root = await setup.direct.readRoot();
    expect(root.seq).toBe(1);
    expect(await filesOf(setup.direct, root, 'bronze.events')).toEqual(['events/1.parquet']);
    await setup.proxy.close();
  });
});
