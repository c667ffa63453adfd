import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedallionError } from '../../../core/errors.ts';
import { EMPTY_ROOT, stateItemKey, type LakeRoot } from '../../../core/state/index.ts';
import { DynamoDbStateStore } from '../../../core/state/dynamodb-state-store.ts';
import { loopbackClientConfig, startDynalite, startDynamoDbLocal, type LocalServer } from '../../support/local-aws.ts';
import { stateStoreContract } from './state-store-contract.ts';

let server: LocalServer;
let client: DynamoDBClient;

beforeAll(async () => {
  server = await startDynalite();
  client = new DynamoDBClient(loopbackClientConfig(server.endpoint));
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

/** A store on a table of its own, so tests never see each other's items. */
async function freshStore(): Promise<DynamoDbStateStore> {
  const table = `state-${randomUUID()}`;
  await DynamoDbStateStore.createTable(client, table);
  return new DynamoDbStateStore(client, table);
}

// The contract runs on AWS's DynamoDB Local, which validates requests as DynamoDB does and has transactions:
// every swap is one (the root with its claims). dynalite, which has none, serves the tests below that do not swap.
describe('on DynamoDB Local', () => {
  let local: LocalServer;
  let localClient: DynamoDBClient;
  beforeAll(async () => {
    local = await startDynamoDbLocal();
    localClient = new DynamoDBClient(loopbackClientConfig(local.endpoint));
  });
  afterAll(async () => {
    localClient.destroy();
    await local.close();
  });
  /**
   * A store on a table of its own, and the table's name for writes that go around it. It calls a root forged at
   * once: DynamoDB Local shows a transaction's items together, so waiting to read again would only slow the tests
   * (the test of the wait is below).
   */
  async function localStore(): Promise<{ store: DynamoDbStateStore; table: string }> {
    const table = `state-${randomUUID()}`;
    await DynamoDbStateStore.createTable(localClient, table);
    return { store: reader(table), table };
  }
  const reader = (table: string, client: DynamoDBClient = localClient) => new DynamoDbStateStore(client, table, { claimRecheckMs: [] });
  /**
   * DynamoDB Local behind a client whose first command `late` answers (not undefined) gets that answer instead, as a
   * read during another commit's transaction could; `lagged` counts the answers given.
   */
  const lagging = (late: (command: unknown) => Promise<unknown> | undefined) => {
    let lagged = 0;
    const client = Object.create(localClient) as DynamoDBClient;
    client.send = ((command: unknown) => {
      const answer = lagged === 0 ? late(command) : undefined;
      if (answer) lagged += 1;
      return answer ?? localClient.send(command as QueryCommand);
    }) as DynamoDBClient['send'];
    return { client, lagged: () => lagged };
  };
  stateStoreContract('DynamoDbStateStore (DynamoDB Local)', async () => (await localStore()).store);

  /** A root item put straight into the table, as a principal that may put root items but goes around the store would. */
  const forgeRoot = (table: string, root: LakeRoot, key = stateItemKey.root(root.seq), sk = 'root') =>
    localClient.send(new PutItemCommand({ TableName: table, Item: { pk: { S: key }, sk: { S: sk }, seq: { N: String(root.seq) }, body: { S: JSON.stringify(root) } } }));
  /** The sort keys (root sequences) of the claims of `key`. */
  const claimsOf = async (table: string, key: string) =>
    ((await localClient.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: key } } }))).Items ?? []).map((item) => item.sk?.S);
  const manifest = (table: string, version: number) => ({ version, manifest: `manifests/${table}/${String(version).padStart(10, '0')}-run_${version}-1` });
  /** A root after `previous` that moves `table` to `version`. */
  const moved = (previous: LakeRoot, table: string, version: number, bookmarks: Record<string, string> = {}): LakeRoot => ({
    ...previous, seq: previous.seq + 1, runId: `run_${previous.seq + 1}`, commitId: randomUUID(),
    tables: { ...previous.tables, [table]: manifest(table, version) }, bookmarks: { ...previous.bookmarks, ...bookmarks },
  });

  describe('claims: a root put outside the commit protocol is refused, not read', () => {
    it('a commit claims, in the transaction of its root, exactly the pointers it moves; a commit that lost its sequence claims nothing', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1, { 'gold.kpis': 'bookmarks/gold.kpis/run_1' });
      expect(await store.swapRoot(one)).toBe(true);
      const two = moved(one, 'bronze.events', 1);
      expect(await store.swapRoot(two)).toBe(true);
      // Another commit built on root 1, too late: its sequence is taken.
      expect(await store.swapRoot({ ...moved(one, 'silver.users', 1), runId: 'run_late' })).toBe(false);
      expect(await claimsOf(table, stateItemKey.tableClaim('gold.kpis'))).toEqual(['000000000001']);
      expect(await claimsOf(table, stateItemKey.bookmarkClaim('gold.kpis'))).toEqual(['000000000001']);
      expect(await claimsOf(table, stateItemKey.tableClaim('bronze.events'))).toEqual(['000000000002']);
      expect(await claimsOf(table, stateItemKey.tableClaim('silver.users'))).toEqual([]);
      expect((await claimsOf(table, stateItemKey.claimIndex)).sort()).toEqual(['claim#bookmark#gold.kpis', 'claim#table#bronze.events', 'claim#table#gold.kpis']);
      expect((await claimsOf(table, stateItemKey.claimsAt(1))).sort()).toEqual(['claim#bookmark#gold.kpis', 'claim#table#gold.kpis']);
      expect(await claimsOf(table, stateItemKey.claimsAt(2))).toEqual(['claim#table#bronze.events']);
      // A commit that removes a table claims its removal.
      const { 'bronze.events': _removed, ...rest } = two.tables;
      expect(await store.swapRoot({ ...two, seq: 3, commitId: randomUUID(), tables: rest })).toBe(true);
      expect(await claimsOf(table, stateItemKey.tableClaim('bronze.events'))).toEqual(['000000000002', '000000000003']);
      expect((await store.readRoot()).tables['bronze.events']).toBeUndefined();
    });

    it.each([
      ['points a table at a version no commit set (a new root)', (root: LakeRoot) => ({ ...moved(root, 'gold.kpis', 9), tables: { ...root.tables, 'gold.kpis': manifest('gold.kpis', 9) } }), 'next', /points table gold\.kpis at manifests\/gold\.kpis\/0000000009-run_9-1, but the last commit that moved it \(root 2, commit [^,]+, run run_2\) set it to manifests\/gold\.kpis\/0000000002/],
      ['rolls a table back to an older version (the newest root overwritten)', (root: LakeRoot) => ({ ...root, tables: { ...root.tables, 'gold.kpis': manifest('gold.kpis', 1) } }), 'same', /root 3 .* points table gold\.kpis at manifests\/gold\.kpis\/0000000001-run_1-1, but .*root 2.*set it to manifests\/gold\.kpis\/0000000002/],
      ['leaves a claimed table out', (root: LakeRoot) => {
        const { 'gold.kpis': _dropped, ...tables } = root.tables;
        return { ...root, seq: root.seq + 1, tables };
      }, 'next', /leaves out table gold\.kpis, but the last commit that moved it \(root 2/],
      ['rolls a bookmark back (the job would read its input again)', (root: LakeRoot) => ({ ...root, seq: root.seq + 1, bookmarks: { ...root.bookmarks, 'gold.kpis': 'bookmarks/gold.kpis/run_1' } }), 'next', /points the bookmark of gold\.kpis at bookmarks\/gold\.kpis\/run_1, but .*root 2.*set it to bookmarks\/gold\.kpis\/run_2/],
    ] as const)('a root that %s is STATE_CORRUPT, for readers and for the next commit alike', async (_what, forge, where, message) => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1, { 'gold.kpis': 'bookmarks/gold.kpis/run_1' });
      const two = moved(one, 'gold.kpis', 2, { 'gold.kpis': 'bookmarks/gold.kpis/run_2' });
      const three = moved(two, 'bronze.events', 1);
      for (const root of [one, two, three]) expect(await store.swapRoot(root)).toBe(true);
      const forged: LakeRoot = forge(three);
      expect(forged.seq).toBe(where === 'next' ? 4 : 3);
      await forgeRoot(table, forged);
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(message) });
      await expect(store.readRootAt(forged.seq)).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
      // A reader that checked the roots before it checks this one from its commit's claims; a new reader, from every claim.
      await expect(reader(table).readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(message) });
      await expect(reader(table).readRootAt(forged.seq)).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
      // The roots before it still read, and nothing commits on top of it.
      expect(await store.readRootAt(2)).toEqual(two);
      await expect(store.swapRoot(moved(forged, 'bronze.events', 2))).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
      expect(await claimsOf(table, stateItemKey.tableClaim('bronze.events'))).toEqual(['000000000003']);
    });

    it('a root whose pointers are unchanged reads (it moves nothing); the HEAD hint gives only a sequence, never the root', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      const two = moved(one, 'gold.kpis', 2);
      for (const root of [one, two]) expect(await store.swapRoot(root)).toBe(true);
      // A HEAD hint rewritten to point gold back: readers take its sequence and read root 2's own item.
      await forgeRoot(table, { ...two, tables: { 'gold.kpis': manifest('gold.kpis', 1) } }, stateItemKey.head, 'HEAD');
      expect(await store.readRoot()).toEqual(two);
      const copy = { ...two, seq: 3, runId: 'run_copy' };
      await forgeRoot(table, copy);
      expect(await store.readRoot()).toEqual(copy);
    });

    it('a root pointing a table at a manifest of another table, or a bookmark at another job\'s, is STATE_CORRUPT (only a table\'s owner writes its manifests)', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'bronze.events', 1);
      expect(await store.swapRoot(one)).toBe(true);
      await forgeRoot(table, { ...one, seq: 2, tables: { ...one.tables, 'gold.kpis': manifest('bronze.events', 1) } });
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/points table gold\.kpis \(version 1\) at manifests\/bronze\.events\/.*not a document of its own table \(and version\) or job/) });
      // Its own manifest, with another version: the version a reader plans from is the manifest's.
      await forgeRoot(table, { ...one, seq: 2, tables: { 'bronze.events': { ...manifest('bronze.events', 1), version: 5 } } });
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/table bronze\.events \(version 5\) at manifests\/bronze\.events\/0000000001-/) });
      await forgeRoot(table, { ...one, seq: 2, bookmarks: { 'gold.kpis': 'bookmarks/bronze.events/run_1' } });
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/the bookmark of gold\.kpis at bookmarks\/bronze\.events\/run_1/) });
    });

    it('a root read before its claims show (a read landing mid-transaction) is read again, not called forged', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      const two = moved(one, 'gold.kpis', 2);
      for (const root of [one, two]) expect(await store.swapRoot(root)).toBe(true);
      // The first look for gold's newest claim at or before root 2 finds only root 1's, as a read-committed query
      // during root 2's transaction could.
      const lag = () => lagging((command) => command instanceof QueryCommand && command.input.ExpressionAttributeValues?.[':pk']?.S === stateItemKey.tableClaim('gold.kpis')
        ? localClient.send(new QueryCommand({ ...command.input, ExpressionAttributeValues: { ...command.input.ExpressionAttributeValues, ':sk': { S: '000000000001' } } }))
        : undefined);
      const once = lag();
      expect(await new DynamoDbStateStore(once.client, table, { claimRecheckMs: [10] }).readRoot()).toEqual(two);
      expect(once.lagged()).toBe(1);
      // Without the second look, the same lag is taken for a forged root.
      const again = lag();
      await expect(reader(table, again.client).readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
      expect(again.lagged()).toBe(1);
    });

    it('a reader that saw a root before a new pointer\'s first claim showed still checks that pointer in the roots after it', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      expect(await store.swapRoot(one)).toBe(true);
      // The reader has checked root 1 when root 2 lands, claiming silver.users for the first time; its first look
      // at that claim finds nothing, as a read during the transaction could.
      const lag = lagging((command) => (command instanceof GetItemCommand && command.input.Key?.pk?.S === stateItemKey.tableClaim('silver.users') ? Promise.resolve({}) : undefined));
      const watcher = reader(table, lag.client);
      expect(await watcher.readRoot()).toEqual(one);
      const two = moved(one, 'silver.users', 1);
      expect(await store.swapRoot(two)).toBe(true);
      expect(await watcher.readRoot()).toEqual(two);
      expect(lag.lagged()).toBe(1);
      // A root put around the store that moves silver.users back is refused by that reader too.
      await forgeRoot(table, { ...two, seq: 3, tables: { ...two.tables, 'silver.users': manifest('silver.users', 7) } });
      await expect(watcher.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/table silver\.users/) });
    });

    it('a root item holding another sequence\'s root (an older one copied over it) is STATE_CORRUPT, and readers do not walk on from it', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      const two = moved(one, 'gold.kpis', 2);
      const three = moved(two, 'bronze.events', 1);
      for (const root of [one, two, three]) expect(await store.swapRoot(root)).toBe(true);
      await forgeRoot(table, one, stateItemKey.root(3));
      for (const anyReader of [store, reader(table)]) {
        await expect(anyReader.readRootAt(3)).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/root 3 in .* holds root 1/) });
        await expect(anyReader.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
      }
    });

    it('a hint naming a root that has no item is STATE_CORRUPT once the lake has claims, whatever its copy holds; a reader that saw it does not keep it', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      expect(await store.swapRoot(one)).toBe(true);
      // A copy that passes the claims, far ahead: readers must not take it as the newest root.
      await forgeRoot(table, { ...one, seq: 999_999 }, stateItemKey.head, 'HEAD');
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT', message: expect.stringMatching(/names root 999999, which has no item of its own/) });
      // Put back on the newest root (the runbook's fix), the lake reads and commits again.
      await forgeRoot(table, one, stateItemKey.head, 'HEAD');
      expect(await store.readRoot()).toEqual(one);
      expect(await store.swapRoot(moved(one, 'gold.kpis', 2))).toBe(true);
      // A hint that lags behind (its commit's move of the hint was lost) is walked past.
      expect((await store.readRoot()).seq).toBe(2);
    });

    it('a claim its job put ahead of the commit at that sequence is reported as a claim and a root of different commits, not as a forged root', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'bronze.events', 1);
      expect(await store.swapRoot(one)).toBe(true);
      // bronze.events' own job (compromised) claims its table at root 2 before anyone commits root 2.
      await localClient.send(new PutItemCommand({
        TableName: table,
        Item: { pk: { S: stateItemKey.tableClaim('bronze.events') }, sk: { S: '000000000002' }, seq: { N: '2' }, target: { S: manifest('bronze.events', 7).manifest }, commitId: { S: 'forged' } },
      }));
      const two = moved(one, 'gold.kpis', 1);
      expect(await store.swapRoot(two)).toBe(true);
      await expect(reader(table).readRoot()).rejects.toMatchObject({
        code: 'STATE_CORRUPT',
        message: expect.stringMatching(/the claim of table bronze\.events at root 2 \(commit forged\) set it to .*: the root and the claim come from different commits/),
      });
    });

    it('a lake committed before roots had items (only the hint holds its root) reads and commits on', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      await forgeRoot(table, one, stateItemKey.head, 'HEAD');
      expect(await store.readRoot()).toEqual(one);
      const two = moved(one, 'gold.kpis', 2);
      expect(await store.swapRoot(two)).toBe(true);
      expect(await reader(table).readRoot()).toEqual(two);
      expect(await claimsOf(table, stateItemKey.tableClaim('gold.kpis'))).toEqual(['000000000002']);
      // The hint's move after that first claiming commit was lost: readers walk on from the hint's copy, and a
      // commit that raced it for root 2 lost the sequence (and tries again on top), rather than finding a gap.
      await forgeRoot(table, one, stateItemKey.head, 'HEAD');
      expect(await reader(table).readRoot()).toEqual(two);
      expect(await reader(table).swapRoot({ ...moved(one, 'bronze.events', 1), runId: 'run_late' })).toBe(false);
    });

    it('roots committed before claims existed read as before; the next commit claims only what it moves, and from then on that pointer is checked', async () => {
      const { store, table } = await localStore();
      const one = moved(EMPTY_ROOT, 'gold.kpis', 1);
      const two = moved(one, 'bronze.events', 1);
      // Committed by a version without claims: root items and the hint, nothing else.
      await forgeRoot(table, one);
      await forgeRoot(table, two);
      await forgeRoot(table, two, stateItemKey.head, 'HEAD');
      expect(await store.readRoot()).toEqual(two);
      const three = moved(two, 'gold.kpis', 2);
      expect(await store.swapRoot(three)).toBe(true);
      expect((await claimsOf(table, stateItemKey.claimIndex))).toEqual(['claim#table#gold.kpis']);
      expect(await store.readRootAt(2)).toEqual(two);
      await forgeRoot(table, { ...three, seq: 4, tables: { ...three.tables, 'gold.kpis': manifest('gold.kpis', 1) } });
      await expect(store.readRoot()).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
    });
  });
});

describe('DynamoDbStateStore', () => {
  it('stores a document larger than a DynamoDB item in parts and reads it back whole', async () => {
    const store = await freshStore();
    // Random text does not compress: about 1.3 MB of JSON, more than three items' worth.
    const big = { files: Array.from({ length: 2000 }, (_, index) => ({ key: `silver/t/run/${index}-${randomBytes(300).toString('base64')}`, rows: index })) };
    await store.putDocument('manifests/silver.t/0000000001-run', big);
    expect(await store.getDocument('manifests/silver.t/0000000001-run')).toEqual(big);
  });

  it('names the table and what it was doing when DynamoDB refuses, e.g. a table that does not exist', async () => {
    const store = new DynamoDbStateStore(client, 'no-such-state-table');
    const error = await store.readRoot().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MedallionError);
    expect(error).toMatchObject({ code: 'STATE_STORE_ERROR' });
    expect((error as MedallionError).describe()).toMatch(/dynamodb:\/\/no-such-state-table: reading root: ResourceNotFoundException.*check the state table name/);
  });

  it('names itself by its table', async () => {
    expect((await freshStore()).location).toMatch(/^dynamodb:\/\/state-/);
  });
});
