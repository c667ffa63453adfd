import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  ConditionalCheckFailedException, CreateTableCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, ResourceInUseException,
  TransactionCanceledException, TransactWriteItemsCommand, waitUntilTableExists, type AttributeValue, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { MedallionError, NotFoundError } from '../errors.ts';
import { commitFenced, isCurrentLease, lockLost } from './lock-lease.ts';
import { EMPTY_ROOT, sameCommit, type LakeRoot, type ListRecordsOptions, type LockLease, type LockState, type StateStore } from './state-store.ts';
import { checkRoot } from './state-documents.ts';
import { stateItemKey } from './state-keys.ts';

const rootKey = stateItemKey.root;

/** Tries of a fenced swap that DynamoDB cancelled for a conflicting write in flight (our own heartbeat, say). */
const FENCED_SWAP_TRIES = 8;

/** Bytes of compressed document per item: well under DynamoDB's 400 KB item limit. */
const DOCUMENT_PART_BYTES = 300 * 1024;

type Item = Record<string, AttributeValue>;

/** How a conditional root put ended: it went in, the sequence was taken, or the lock no longer fenced it. */
type SwapOutcome = 'written' | 'lost' | 'fenced';

/**
 * State in one DynamoDB table with a string partition key `pk` and a string sort key `sk`:
 * - roots: one item per committed root (`root#<seq>`, `root`), created by a put conditioned on the item not
 *   existing, which makes the swap atomic and exclusive; the item (`root`, `HEAD`) is a hint to the newest,
 *   moved forward after each commit (readers walk past a hint that lags). A swap whose answer was lost is
 *   decided by reading its sequence's item back (`sameCommit`). A fenced swap is a transaction of that put
 *   and a condition check on the lock item (its owner, not released), with an idempotency token drawn
 *   from the commit's identity;
 * - documents (manifests, bookmarks): items (`doc#<id>`, `part#<n>`) holding the gzipped JSON in parts,
 *   written before any root names them, never rewritten;
 * - locks: item (`lock#<name>`, `lock`) with owner, generation and lease end; every acquire, renew and
 *   release is one update conditioned on the generation it read, so of two racers at most one wins;
 * - records: items (`rec#<collection>`, `<id>`), read back in sort-key order (UTF-8 bytes).
 * Every read is strongly consistent.
 *
 * @example
 * const state = new DynamoDbStateStore(new DynamoDBClient({}), 'medallion-state');
 */
export class DynamoDbStateStore implements StateStore {
  readonly location: string;
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.client = client;
    this.table = table;
    this.location = `dynamodb://${table}`;
  }

  /** Creates the table (on-demand) when it does not exist and waits until it is ready: for local use and tests; in AWS the stack creates it. */
  static async createTable(client: DynamoDBClient, table: string): Promise<void> {
    try {
      await client.send(new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      }));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    // A new table answers only once it is ACTIVE.
    await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: table });
  }

  async readRoot(): Promise<LakeRoot> {
    const head = await this.get(stateItemKey.head, 'HEAD');
    // HEAD is a hint that may lag behind the newest committed root (it is moved after the commit): walk forward.
    let current = head ? checkRoot(this.parse<unknown>(head, 'the root'), `the root in ${this.location}`) : EMPTY_ROOT;
    for (let next = await this.rootAt(current.seq + 1); next; next = await this.rootAt(current.seq + 1)) current = next;
    return current;
  }

  async swapRoot(next: LakeRoot, fence?: LockLease): Promise<boolean> {
    if (next.seq < 1) throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: sequences start at 1`);
    if (next.seq > 1 && !(await this.rootExists(next.seq - 1))) {
      throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: root ${next.seq - 1} does not exist`);
    }
    const body = JSON.stringify(next);
    const item: Item = { pk: { S: rootKey(next.seq) }, sk: { S: 'root' }, seq: { N: String(next.seq) }, body: { S: body } };
    let outcome: SwapOutcome = 'lost';
    let failure: unknown;
    try {
      if (fence) outcome = await this.fencedPut(item, fence, next);
      else outcome = (await this.conditionalPut(item, 'attribute_not_exists(pk)', {})) ? 'written' : 'lost';
    } catch (error) {
      failure = error;
    }
    if (outcome !== 'written') {
      // The SDK retries a write whose answer was lost: the retry fails its condition when the first try went
      // in, or its retries run out. The root at this sequence says whose it is, whatever came after it since
      // (a lease taken over after our commit went in included).
      const landed = await this.rootAt(next.seq);
      if (!(landed && sameCommit(landed, next))) {
        if (fence && outcome === 'fenced') throw commitFenced(fence, await this.readLock(fence.name));
        if (!landed && failure !== undefined) throw failure;
        return false;
      }
    }
    await this.moveHead(next.seq, body);
    return true;
  }

  /**
   * Puts a root item only while `fence.owner` holds the lock: one transaction, so no takeover falls between
   * the check and the put. Its token makes a repeated request (the SDK's retry of a lost answer) a no-op
   * that answers success; a cancellation says which condition failed.
   */
  private async fencedPut(item: Item, fence: LockLease, next: LakeRoot): Promise<SwapOutcome> {
    const token = next.commitId === undefined ? undefined : createHash('sha256').update(`${next.commitId}@${next.seq}`).digest('hex').slice(0, 36);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.send(new TransactWriteItemsCommand({
          ...(token === undefined ? {} : { ClientRequestToken: token }),
          TransactItems: [
            { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              ConditionCheck: {
                TableName: this.table,
                Key: { pk: { S: stateItemKey.lock(fence.name) }, sk: { S: 'lock' } },
                ConditionExpression: '#owner = :owner AND #released = :no',
                ExpressionAttributeNames: { '#owner': 'owner', '#released': 'released' },
                ExpressionAttributeValues: { ':owner': { S: fence.owner }, ':no': { BOOL: false } },
              },
            },
          ],
        }));
        return 'written';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw stateError(this.location, `committing ${item.pk?.S ?? 'a root'} fenced by lock ${fence.name}`, error);
        const [put, check] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
        if (check === 'ConditionalCheckFailed') return 'fenced';
        if (put === 'ConditionalCheckFailed') return 'lost';
        // A write to either item in flight (the run's own heartbeat renewing the lock): try again shortly.
        if (attempt >= FENCED_SWAP_TRIES) throw stateError(this.location, `committing ${item.pk?.S ?? 'a root'} fenced by lock ${fence.name}`, error);
        await sleep(20 * 2 ** attempt * Math.random());
      }
    }
  }

  async readRootAt(seq: number): Promise<LakeRoot | undefined> {
    if (seq === 0) return EMPTY_ROOT;
    return this.rootAt(seq);
  }

  /** The committed root at `seq`, if there is one. */
  private async rootAt(seq: number): Promise<LakeRoot | undefined> {
    const item = await this.get(rootKey(seq), 'root');
    return item ? checkRoot(this.parse<unknown>(item, `root ${seq}`), `root ${seq} in ${this.location}`) : undefined;
  }

  /** Root `seq` was committed: as its own item, or (lakes committed before roots had items) as HEAD or before it. */
  private async rootExists(seq: number): Promise<boolean> {
    if (await this.rootAt(seq)) return true;
    const head = await this.get(stateItemKey.head, 'HEAD');
    return Number(head?.seq?.N ?? 0) >= seq;
  }

  /** Moves the HEAD hint forward to `seq` (never back); a failure only leaves the hint behind, which readers walk past. */
  private async moveHead(seq: number, body: string): Promise<void> {
    await this.conditionalPut(
      { pk: { S: stateItemKey.head }, sk: { S: 'HEAD' }, seq: { N: String(seq) }, body: { S: body } },
      'attribute_not_exists(pk) OR seq < :seq',
      { ':seq': { N: String(seq) } },
    ).catch(() => false);
  }

  async putDocument(id: string, body: unknown): Promise<void> {
    checkId('document id', id);
    const compressed = gzipSync(Buffer.from(JSON.stringify(body)));
    const parts = Math.max(1, Math.ceil(compressed.length / DOCUMENT_PART_BYTES));
    for (let part = 0; part < parts; part += 1) {
      await this.call(`writing document ${id}`, () => this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: stateItemKey.document(id) },
          sk: { S: `part#${String(part).padStart(6, '0')}` },
          parts: { N: String(parts) },
          data: { B: compressed.subarray(part * DOCUMENT_PART_BYTES, (part + 1) * DOCUMENT_PART_BYTES) },
        },
      })));
    }
  }

  async deleteDocument(id: string): Promise<void> {
    checkId('document id', id);
    for (const item of await this.query(stateItemKey.document(id))) {
      await this.call(`removing document ${id}`, () => this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: stateItemKey.document(id) }, sk: item.sk as { S: string } } })));
    }
  }

  async getDocument<T>(id: string): Promise<T> {
    checkId('document id', id);
    const items = await this.query(stateItemKey.document(id));
    const declared = Number(items[0]?.parts?.N ?? 0);
    if (items.length === 0 || items.length < declared) {
      throw new NotFoundError('STATE_DOCUMENT_MISSING', `state document ${id} is missing from ${this.location}`);
    }
    const compressed = Buffer.concat(items.slice(0, declared).map((item) => Buffer.from(item.data?.B ?? new Uint8Array())));
    try {
      return JSON.parse(gunzipSync(compressed).toString('utf8')) as T;
    } catch (error) {
      throw new MedallionError('STATE_CORRUPT', `state document ${id} in ${this.location} cannot be read (${(error as Error).message})`, {
        hint: 'it was changed outside medallion; restore the item from a backup (point-in-time recovery)',
      });
    }
  }

  async acquireLock(name: string, owner: string, leaseMs: number, nowMs: number): Promise<LockLease | undefined> {
    checkId('lock name', name);
    const latest = await this.readLock(name);
    if (latest && !latest.released && latest.expiresAtMs > nowMs) return undefined;
    const lease: LockLease = { name, owner, generation: (latest?.generation ?? 0) + 1, expiresAtMs: nowMs + leaseMs };
    return (await this.writeLock(lease, false, latest?.generation)) ? lease : undefined;
  }

  /** True when the lock is exactly `lease` (a write of ours that went through although its answer was lost). */
  private async holds(lease: LockLease, released: boolean): Promise<boolean> {
    const latest = await this.readLock(lease.name);
    return latest !== undefined && latest.owner === lease.owner && latest.generation === lease.generation && latest.expiresAtMs === lease.expiresAtMs && latest.released === released;
  }

  async renewLock(lease: LockLease, leaseMs: number, nowMs: number): Promise<LockLease> {
    const latest = await this.readLock(lease.name);
    if (!isCurrentLease(lease, latest)) throw lockLost(lease, latest);
    const renewed: LockLease = { ...lease, generation: lease.generation + 1, expiresAtMs: nowMs + leaseMs };
    if (!(await this.writeLock(renewed, false, lease.generation))) throw lockLost(lease, await this.readLock(lease.name));
    return renewed;
  }

  async releaseLock(lease: LockLease): Promise<void> {
    if (!isCurrentLease(lease, await this.readLock(lease.name))) return;
    // Losing this write means someone moved the lock on since; their state is the one to keep.
    await this.writeLock({ ...lease, generation: lease.generation + 1 }, true, lease.generation);
  }

  async readLock(name: string): Promise<LockState | undefined> {
    checkId('lock name', name);
    const item = await this.get(stateItemKey.lock(name), 'lock');
    if (!item) return undefined;
    return {
      name,
      owner: item.owner?.S ?? '',
      generation: Number(item.generation?.N ?? 0),
      expiresAtMs: Number(item.expiresAtMs?.N ?? 0),
      released: item.released?.BOOL ?? false,
    };
  }

  async putRecord(collection: string, id: string, body: unknown): Promise<void> {
    checkCollection(collection);
    checkId('record id', id);
    await this.call(`writing record ${collection}/${id}`, () => this.client.send(new PutItemCommand({
      TableName: this.table,
      Item: { pk: { S: stateItemKey.records(collection) }, sk: { S: id }, body: { S: JSON.stringify(body) } },
    })));
  }

  async getRecord<T>(collection: string, id: string): Promise<T | undefined> {
    checkCollection(collection);
    checkId('record id', id);
    const item = await this.get(stateItemKey.records(collection), id);
    return item ? this.parse<T>(item, `record ${collection}/${id}`) : undefined;
  }

  async listRecords<T>(collection: string, options: ListRecordsOptions = {}): Promise<T[]> {
    checkCollection(collection);
    const records: T[] = [];
    for (const item of await this.query(stateItemKey.records(collection))) {
      try {
        records.push(this.parse<T>(item, `record ${collection}/${item.sk?.S ?? '?'}`));
      } catch (error) {
        if (!options.onUnreadable || !(error instanceof MedallionError)) throw error;
        options.onUnreadable(item.sk?.S ?? '?', error);
      }
    }
    return records;
  }

  private async writeLock(lease: LockLease, released: boolean, previousGeneration: number | undefined): Promise<boolean> {
    const written = await this.conditionalPut(
      {
        pk: { S: stateItemKey.lock(lease.name) },
        sk: { S: 'lock' },
        owner: { S: lease.owner },
        generation: { N: String(lease.generation) },
        expiresAtMs: { N: String(lease.expiresAtMs) },
        released: { BOOL: released },
      },
      previousGeneration === undefined ? 'attribute_not_exists(pk)' : 'generation = :previous',
      previousGeneration === undefined ? {} : { ':previous': { N: String(previousGeneration) } },
    );
    // Generations only grow, so finding exactly this state means the write was ours (see swapRoot).
    return written || this.holds(lease, released);
  }

  private async conditionalPut(item: Item, condition: string, values: Item): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: item,
        ConditionExpression: condition,
        ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw stateError(this.location, `writing ${item.pk?.S ?? 'an item'}`, error);
    }
  }

  /** One DynamoDB call; a failure names the table and what was being done (the SDK's error stays the cause). */
  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw stateError(this.location, what, error);
    }
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const { Item: item } = await this.call(`reading ${pk}`, () => this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true })));
    return item;
  }

  private async query(pk: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.call(`reading ${pk}`, () => this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      })));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private parse<T>(item: Item, what: string): T {
    try {
      return JSON.parse(item.body?.S ?? '') as T;
    } catch (error) {
      throw new MedallionError('STATE_CORRUPT', `${what} in ${this.location} is not valid JSON (${(error as Error).message})`, {
        hint: 'it was changed outside medallion; restore the item from a backup (point-in-time recovery)',
      });
    }
  }
}

function checkId(what: string, id: string): void {
  if (id === '' || id.includes('..')) {
    throw new MedallionError('STATE_ID_INVALID', `${what} ${JSON.stringify(id)} is not valid`, { hint: 'use a non-empty name without ".."' });
  }
}

function checkCollection(collection: string): void {
  const segments = collection.split('/');
  if (collection.includes('..') || segments.some((segment) => segment === '' || segment === '.')) {
    throw new MedallionError('STATE_RECORD_COLLECTION_INVALID', `record collection ${JSON.stringify(collection)} is not valid`, {
      hint: 'use non-empty segments joined by "/", like runs/silver.tasks, without ".."',
    });
  }
}

/** A DynamoDB failure as a MedallionError naming the table; retried when the SDK's error is transient (see isTransientError). */
function stateError(location: string, what: string, error: unknown): MedallionError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new MedallionError('STATE_STORE_ERROR', `${location}: ${what}: ${name}: ${message}`, {
    cause: error,
    ...(name === 'ResourceNotFoundException' ? { hint: 'check the state table name (--state, MEDALLION_STATE_TABLE) and the region' } : {}),
  });
}
