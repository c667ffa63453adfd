import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, ScanCommand, waitUntilTableExists, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { invoke } from '../../cli/invoke.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { loopbackClientConfig, startDynalite, type LocalServer } from '../support/local-aws.ts';
import { queryLake, runPipeline } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();
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
afterEach(() => vi.unstubAllEnvs());

/** Source tables as the stack defines them: Users by userId, Tasks by userId and taskId. */
async function sourceTables(): Promise<{ users: string; tasks: string }> {
  const suffix = randomUUID().slice(0, 8);
  const names = { users: `Users-${suffix}`, tasks: `Tasks-${suffix}` };
  await client.send(new CreateTableCommand({
    TableName: names.users, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'userId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
  }));
  await client.send(new CreateTableCommand({
    TableName: names.tasks, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'userId', AttributeType: 'S' }, { AttributeName: 'taskId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }, { AttributeName: 'taskId', KeyType: 'RANGE' }],
  }));
  for (const TableName of Object.values(names)) await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName });
  return names;
}

async function scan(table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

describe('medallion generate --to dynamodb', () => {
  it('leaves the source tables holding exactly the current state the same simulation gives in silver', async () => {
    const tables = await sourceTables();
    const options = ['--days', '2', '--users', '12', '--tasks-per-day', '25', '--seed', '21', '--fault-rate', '0', '--format', 'json'];
    for (const [name, value] of Object.entries({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' })) vi.stubEnv(name, value);
    let out = '';
    let err = '';
    const code = await invoke(
      ['--endpoint-url', server.endpoint, 'generate', '--to', 'dynamodb', '--users-table', tables.users, '--tasks-table', tables.tasks, ...options],
      { io: { out: (text: string) => void (out += text), err: (text: string) => void (err += text) }, env: {} },
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out).writes.tasks.puts).toBeGreaterThan(0);

    // The same simulation as change data, through the pipeline: silver's current state is what the tables hold.
    const dir = await tempDir('landing');
    await generateLanding(new LocalStorage(dir), { days: 2, users: 12, tasksPerDay: 25, seed: 21, faultRate: 0 });
    const { lake } = await runPipeline(dir);
    const silverTasks = await queryLake(lake, 'SELECT user_id, task_id, status FROM silver.tasks ORDER BY user_id, task_id');
    const items = (await scan(tables.tasks))
      .map((item) => ({ user_id: item.userId?.S, task_id: item.taskId?.S, status: item.status?.S }))
      .sort((a, b) => `${a.user_id}/${a.task_id}` < `${b.user_id}/${b.task_id}` ? -1 : 1);
    expect(items).toEqual(silverTasks);
    const silverUsers = await queryLake(lake, 'SELECT user_id, plan FROM silver.users ORDER BY user_id');
    const users = (await scan(tables.users)).map((item) => ({ user_id: item.userId?.S, plan: item.plan?.S })).sort((a, b) => (String(a.user_id) < String(b.user_id) ? -1 : 1));
    expect(users).toEqual(silverUsers);
  });

  it('fails with the table named, on one line and exit 1, when a table does not exist', async () => {
    for (const [name, value] of Object.entries({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' })) vi.stubEnv(name, value);
    let err = '';
    const code = await invoke(
      ['--endpoint-url', server.endpoint, 'generate', '--to', 'dynamodb', '--users-table', 'NoSuchUsers', '--tasks-table', 'NoSuchTasks', '--days', '1', '--users', '2', '--tasks-per-day', '2'],
      { io: { out: () => undefined, err: (text: string) => void (err += text) }, env: {} },
    );
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/TRAFFIC_WRITE_FAILED: writing to DynamoDB table NoSuch(Users|Tasks): ResourceNotFoundException/);
  });
});
