import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  ConditionalCheckFailedException, CreateTableCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, ResourceInUseException,
  TransactionCanceledException, TransactWriteItemsCommand, waitUntilTableExists, type AttributeValue, type DynamoDBClient, type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { MedallionError, NotFoundError } from '../errors.ts';
import { commitFenced, isCurrentLease, lockLost } from './lock-lease.ts';
import { EMPTY_ROOT, sameCommit, type LakeRoot, type ListRecordsOptions, type LockLease, type LockState, type StateStore } from './state-store.ts';
import { checkRoot } from './state-documents.ts';
import { sequenceKey, stateItemKey } from './state-keys.ts';
import { checkRootClaims, claimChanges, claimedPointer, followsClaims, RootClaimsError, type ClaimChange, type PointerClaim } from './root-claims.ts';

const rootKey = stateItemKey.root;

/** Tries of a swap that DynamoDB cancelled for a conflicting write in flight (our own heartbeat, say). */
const SWAP_TRIES = 8;

/** The waits before each new read of a root that does not hold what its claims say, before it is called forged. */
const CLAIM_RECHECK_MS: readonly number[] = [50, 200, 800];

export interface DynamoDbStateStoreOptions {
  /**
   * The waits before reading again a root that does not hold what its claims say (default 50, 200 and 800 ms):
   * a root read the moment its commit lands may be seen before its claims. A root still at odds after them is
   * STATE_CORRUPT.
   */
  readonly claimRecheckMs?: readonly number[];
}

/** Roots whose check a store remembers (a vacuum reads every root of its retention once: about ten a night); a few KB each. */
const VERIFIED_ROOTS_KEPT = 1_000;

/** DynamoDB's limit on the items of one transaction. */
const MAX_TRANSACTION_ITEMS = 100;


/** Bytes of compressed document per item: well under DynamoDB's 400 KB item limit. */
const DOCUMENT_PART_BYTES = 300 * 1024;

type Item = Record<string, AttributeValue>;

/** A root checked against the claims: as read, and the pointers claimed at or before its sequence. */
interface CheckedRoot {
  readonly body: string;
  readonly root: LakeRoot;
  readonly claimed: ReadonlySet<string>;
}

/** How a conditional root put ended: it went in, the sequence was taken, or the lock no longer fenced it. */
type SwapOutcome = 'written' | 'lost' | 'fenced';

/**
 * State in one DynamoDB table with a string partition key `pk` and a string sort key `sk`:
 * - roots: one item per committed root (`root#<seq>`, `root`), created by a put conditioned on the item not
 *   existing, which makes the swap atomic and exclusive; the item (`root`, `HEAD`) is a hint to the newest,
 *   moved forward after each commit (readers walk past a hint that lags, and take only its sequence). The put
 *   is a transaction with the claims of the pointers the commit moves (`claim#table#<table>`,
 *   `claim#bookmark#<job>`, sort key the sequence) and their index entries (`claims`, `claims#<seq>`; root-claims.ts), and for
 *   a fenced swap a condition check on the lock item (its owner, not released), with an idempotency token drawn
 *   from the commit's identity. Every root read is checked against the claims. A swap whose answer was lost is
 *   decided by reading its sequence's item back (`sameCommit`);
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
  /** The roots checked against the claims, by sequence (see `checked`). */
  private readonly verified = new Map<number, CheckedRoot>();

  private readonly claimRecheckMs: readonly number[];

  constructor(client: DynamoDBClient, table: string, options: DynamoDbStateStoreOptions = {}) {
    this.client = client;
    this.table = table;
    this.location = `dynamodb://${table}`;
    this.claimRecheckMs = options.claimRecheckMs ?? CLAIM_RECHECK_MS;
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
    // Only its sequence is taken from it: the root is read from its own item (and checked against the claims),
    // since any committing role may put the hint.
    let current = head ? await this.headRoot(head) : EMPTY_ROOT;
    for (let next = await this.rootAt(current.seq + 1); next; next = await this.rootAt(current.seq + 1)) current = next;
    return current;
  }

  /**
   * The root HEAD names: that sequence's own item. In a lake committed before roots had items (and so before
   * claims), HEAD's copy; in any other, a hint without its root item is only a place to walk on from, when the
   * root after it has its item (HEAD lags behind a commit), and otherwise STATE_CORRUPT.
   */
  private async headRoot(head: Item): Promise<LakeRoot> {
    const seq = Number(head.seq?.N ?? 0);
    const own = Number.isSafeInteger(seq) && seq > 0 ? await this.rootAt(seq) : undefined;
    if (own) return own;
    const where = `the root hint (${stateItemKey.head}, HEAD) in ${this.location}`;
    const copy = checkRoot(this.parse<unknown>(head, 'the root hint'), where);
    if (copy.seq === seq && !(await this.claimsExist())) return copy;
    const after = copy.seq === seq ? await this.rootAt(seq + 1) : undefined;
    if (after) return after;
    throw new MedallionError('STATE_CORRUPT', `${where} names root ${seq}, which has no item of its own${copy.seq === seq ? '' : ` (and holds root ${copy.seq})`}: the hint was put outside the commit protocol`, {
      hint: 'put the hint back on the newest root: see runbooks/disaster-recovery.md, "A root that does not match its claims"',
    });
  }

  /** Whether any commit of this lake claimed a pointer (a lake committed since claims exist). */
  private async claimsExist(): Promise<boolean> {
    const { Items: items = [] } = await this.call(`reading ${stateItemKey.claimIndex}`, () => this.client.send(new QueryCommand({
      TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: stateItemKey.claimIndex } }, Limit: 1, ConsistentRead: true,
    })));
    return items.length > 0;
  }

  async swapRoot(next: LakeRoot, fence?: LockLease): Promise<boolean> {
    if (next.seq < 1) throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: sequences start at 1`);
    const previous = await this.previousRoot(next.seq);
    if (previous === 'taken') return false;
    if (!previous) throw new MedallionError('STATE_ROOT_GAP', `cannot commit root ${next.seq}: root ${next.seq - 1} does not exist`);
    const body = JSON.stringify(next);
    let outcome: SwapOutcome = 'lost';
    let failure: unknown;
    try {
      outcome = await this.commitRoot(next, body, claimChanges(previous, next), fence);
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
   * The root a commit at `seq` follows: its own item, or (lakes committed before roots had items) HEAD's copy;
   * 'taken' when another commit holds `seq` (HEAD at or past it, its root item, or in such a lake a claiming commit
   * after HEAD's root); undefined when there is none.
   */
  private async previousRoot(seq: number): Promise<LakeRoot | 'taken' | undefined> {
    if (seq === 1) return EMPTY_ROOT;
    const own = await this.rootAt(seq - 1);
    if (own) return own;
    const head = await this.get(stateItemKey.head, 'HEAD');
    const headSeq = Number(head?.seq?.N ?? 0);
    // Another commit is past it (in a lake whose older roots have no items of their own).
    if (headSeq >= seq || (await this.get(rootKey(seq), 'root'))) return 'taken';
    if (!head || headSeq < seq - 1) return undefined;
    // Once a commit has claimed, every root from it on has its own item: the hint's root, without one, is older
    // than the first claiming commit, which took this sequence (its root not in view yet).
    if (await this.claimsExist()) return 'taken';
    const copy = checkRoot(this.parse<unknown>(head, 'the root hint'), `the root hint (${stateItemKey.head}, HEAD) in ${this.location}`);
    return copy.seq === headSeq ? copy : undefined;
  }

  /**
   * Puts a root item, if its sequence is free, together with the claims of the pointers it moves and their index
   * entries (root-claims.ts), in one transaction; with `fence`, only while `fence.owner` holds the lock, so no
   * takeover falls between the check and the put. The token, drawn from the commit's identity, makes a repeated
   * request (the SDK's retry of a lost answer) a no-op that answers success; a cancellation says which
   * condition failed.
   */
  private async commitRoot(next: LakeRoot, body: string, claims: readonly ClaimChange[], fence: LockLease | undefined): Promise<SwapOutcome> {
    const items: TransactWriteItem[] = [
      ...rootCommitItems(this.table, next, body, claims),
      ...(fence
        ? [{
            ConditionCheck: {
              TableName: this.table,
              Key: { pk: { S: stateItemKey.lock(fence.name) }, sk: { S: 'lock' } },
              ConditionExpression: '#owner = :owner AND #released = :no',
              ExpressionAttributeNames: { '#owner': 'owner', '#released': 'released' },
              ExpressionAttributeValues: { ':owner': { S: fence.owner }, ':no': { BOOL: false } },
            },
          } satisfies TransactWriteItem]
        : []),
    ];
    const what = `committing ${rootKey(next.seq)}${fence ? ` fenced by lock ${fence.name}` : ''}`;
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new MedallionError('STATE_COMMIT_TOO_WIDE', `${this.location}: ${what}: it moves ${claims.length} pointers, and one transaction holds at most ${MAX_TRANSACTION_ITEMS} items (the root, three per pointer, the lock's check)`, {
        hint: 'commit fewer tables and bookmarks at once',
      });
    }
    for (let attempt = 1; ; attempt += 1) {
      // One token per attempt: the SDK's retries of an attempt whose answer was lost repeat it, and an attempt
      // follows only one that was cancelled, so nothing of it was written.
      const token = next.commitId === undefined ? undefined : createHash('sha256').update(`${next.commitId}@${next.seq}#${attempt}`).digest('hex').slice(0, 36);
      try {
        await this.client.send(new TransactWriteItemsCommand({ ...(token === undefined ? {} : { ClientRequestToken: token }), TransactItems: items }));
        return 'written';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw stateError(this.location, what, error);
        const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code);
        if (fence && codes[items.length - 1] === 'ConditionalCheckFailed') return 'fenced';
        if (codes[0] === 'ConditionalCheckFailed') return 'lost';
        // A write to an item in flight (the run's own heartbeat renewing the lock, another commit's index entry): try again shortly.
        if (attempt >= SWAP_TRIES) throw stateError(this.location, what, error);
        await sleep(20 * 2 ** attempt * Math.random());
      }
    }
  }

  async readRootAt(seq: number): Promise<LakeRoot | undefined> {
    if (seq === 0) return EMPTY_ROOT;
    return this.rootAt(seq);
  }

  /** The committed root at `seq`, if there is one, checked against the claims. */
  private async rootAt(seq: number): Promise<LakeRoot | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const item = await this.get(rootKey(seq), 'root');
      if (!item) return undefined;
      const where = `root ${seq} in ${this.location}`;
      const root = checkRoot(this.parse<unknown>(item, `root ${seq}`), where);
      // The claims are checked at the sequence the body says: it must be the item's own.
      if (root.seq !== seq) {
        throw new MedallionError('STATE_CORRUPT', `${where} holds root ${root.seq}: the item was put outside the commit protocol`, {
          hint: 'see runbooks/disaster-recovery.md, "A root that does not match its claims"',
        });
      }
      try {
        return await this.checked(root, where);
      } catch (error) {
        // A root read the moment its transaction lands may be seen before its claims: reads other than
        // TransactGetItems are only read-committed across a transaction's items. Look again before calling it forged.
        const wait = this.claimRecheckMs[attempt - 1];
        if (!(error instanceof RootClaimsError) || wait === undefined) throw error;
        await sleep(wait);
      }
    }
  }

  /**
   * `root`, once every pointer a commit claimed is where the newest claim at or before its sequence set it
   * (root-claims.ts). A root read again as it was checked is not checked again: the claims at or before a
   * committed root's sequence were all in place when it was (they go in with it), and a root item rewritten
   * since reads differently.
   */
  private async checked(root: LakeRoot, where: string): Promise<LakeRoot> {
    const body = JSON.stringify(root);
    if (this.verified.get(root.seq)?.body === body) return root;
    // Checked from the claims of its own commit when the root before it was checked (a query of that commit's
    // index and a read per pointer it moved), else from every claimed pointer's newest claim (a query per
    // pointer); any difference is reported by the second, which names it.
    const before = this.verified.get(root.seq - 1);
    const [index, at] = await Promise.all([this.sortKeys(stateItemKey.claimIndex), before ? this.sortKeys(stateItemKey.claimsAt(root.seq)) : []]);
    const claimed = (before && (await this.followingClaims(root, before, index, at))) || (await checkRootClaims(root, index, (key, seq) => this.newestClaim(key, seq), where));
    // The one checked first goes first (a Map keeps insertion order); the newest, which the next root is checked from, stays.
    if (this.verified.size >= VERIFIED_ROOTS_KEPT) this.verified.delete(this.verified.keys().next().value as number);
    this.verified.set(root.seq, { body, root, claimed });
    return root;
  }

  /**
   * The keys claimed at or before `root`'s sequence when it follows the claims of its own commit (`keys`, from the
   * index `claims#<seq>`) on top of `before` (`followsClaims`), else undefined. `index` is every claimed key.
   */
  private async followingClaims(root: LakeRoot, before: CheckedRoot, index: readonly string[], keys: readonly string[]): Promise<ReadonlySet<string> | undefined> {
    const claims = await Promise.all(keys.map(async (key) => ({ key, item: await this.get(key, sequenceKey(root.seq)) })));
    const at = new Map(claims.flatMap(({ key, item }) => (item ? [[key, claimOf(item).target] as const] : [])));
    const claimed = new Set([...before.claimed, ...at.keys()]);
    // An index entry without its claim, or a claimed pointer this reader has not seen claimed: a claim not in view
    // yet (reads see a transaction's items only read-committed), or an entry put around the store. Either way,
    // the check from every claim decides.
    if (at.size < keys.length || index.some((key) => claimedPointer(key) && !claimed.has(key))) return undefined;
    return followsClaims(root, before.root, before.claimed, at) ? claimed : undefined;
  }

  /** The sort keys of the items under partition key `pk` (an index's entries). */
  private async sortKeys(pk: string): Promise<string[]> {
    return (await this.query(pk)).map((item) => item.sk?.S ?? '');
  }

  /** The newest claim of pointer `key` at or before root `seq`. */
  private async newestClaim(key: string, seq: number): Promise<PointerClaim | undefined> {
    const { Items: [item] = [] } = await this.call(`reading ${key}`, () => this.client.send(new QueryCommand({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk <= :sk',
      ExpressionAttributeValues: { ':pk': { S: key }, ':sk': { S: sequenceKey(seq) } },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    })));
    if (!item) return undefined;
    return claimOf(item);
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

/**
 * The items a commit of `next` puts besides the lock's check: the root (only if its sequence is free), a claim per
 * pointer it moves, and each claim's entries in the two indexes (root-claims.ts).
 */
function rootCommitItems(table: string, next: LakeRoot, body: string, claims: readonly ClaimChange[]): TransactWriteItem[] {
  const sk = { S: sequenceKey(next.seq) };
  const identity: Item = {
    seq: { N: String(next.seq) },
    ...(next.runId === null ? {} : { runId: { S: next.runId } }),
    ...(next.commitId === undefined ? {} : { commitId: { S: next.commitId } }),
  };
  return [
    { Put: { TableName: table, Item: { pk: { S: rootKey(next.seq) }, sk: { S: 'root' }, seq: { N: String(next.seq) }, body: { S: body } }, ConditionExpression: 'attribute_not_exists(pk)' } },
    ...claims.map((claim): TransactWriteItem => ({
      Put: { TableName: table, Item: { pk: { S: claim.key }, sk, ...identity, ...(claim.target === null ? { removed: { BOOL: true } } : { target: { S: claim.target } }) } },
    })),
    ...claims.flatMap((claim): TransactWriteItem[] => [stateItemKey.claimIndex, stateItemKey.claimsAt(next.seq)].map((index) => ({
      Put: { TableName: table, Item: { pk: { S: index }, sk: { S: claim.key } } },
    }))),
  ];
}

/** The partition keys of the items a DynamoDB commit of `next` on top of `previous` puts (besides the hint and the lock's check): what its role must be granted. */
export function rootCommitKeys(previous: LakeRoot, next: LakeRoot): string[] {
  return rootCommitItems('', next, '', claimChanges(previous, next)).map((item) => item.Put?.Item?.pk?.S ?? '');
}

/** A claim item as a claim. */
function claimOf(item: Item): PointerClaim {
  return {
    seq: Number(item.seq?.N ?? 0),
    target: item.removed?.BOOL ? null : item.target?.S ?? null,
    runId: item.runId?.S ?? null,
    ...(item.commitId?.S === undefined ? {} : { commitId: item.commitId.S }),
  };
}
