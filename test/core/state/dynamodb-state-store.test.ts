import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedallionError } from '../../../core/errors.ts';
import { DynamoDbStateStore } from '../../../core/state/index.ts';
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

// dynalite has no transactions, which fenced swaps are: those run on DynamoDB Local below.
stateStoreContract('DynamoDbStateStore (dynalite)', freshStore, { fencing: false });

// The same contract on AWS's DynamoDB Local, which validates requests as DynamoDB does (and has transactions).
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
  stateStoreContract('DynamoDbStateStore (DynamoDB Local)', async () => {
    const table = `state-${randomUUID()}`;
    await DynamoDbStateStore.createTable(localClient, table);
    return new DynamoDbStateStore(localClient, table);
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
