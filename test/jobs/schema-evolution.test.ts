import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import type { TableManifest } from '../../core/table/index.ts';
import { tasksCdcJob } from '../../jobs/index.ts';
import { cdcSilverJob } from '../../jobs/silver/index.ts';
import { expectFilesHoldRecordedSchemas, queryLake } from '../support/pipeline-check.ts';

const lakes: string[] = [];
afterEach(async () => {
  await Promise.all(lakes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A silver entity over the Tasks changes that declares little and lets new attributes become columns. */
const evolving = cdcSilverJob({
  singular: 'evo_task',
  plural: 'evo_tasks',
  bronzeTable: 'bronze.tasks_cdc',
  schemaContract: 'evolve',
  keys: [
    { attribute: 'userId', column: 'user_id', description: 'Owner.' },
    { attribute: 'taskId', column: 'task_id', description: 'Task.' },
  ],
  rules: [{ attribute: 'title', column: 'title', required: true, kind: { type: 'string' } }],
  columns: [{ name: 'title', type: 'VARCHAR', description: 'Title.' }],
});
const JOBS = [tasksCdcJob, evolving.job];

function change(id: string, name: string, minute: number, taskId: string, image: Record<string, unknown>): string {
  return JSON.stringify({
    eventID: id, eventName: name, tableName: 'Tasks',
    dynamodb: {
      ApproximateCreationDateTime: Date.parse('2025-11-01T10:00:00Z') * 1000 + minute * 60_000_000, ApproximateCreationDateTimePrecision: 'MICROSECOND',
      Keys: { userId: { S: 'u1' }, taskId: { S: taskId } }, NewImage: { userId: { S: 'u1' }, taskId: { S: taskId }, title: { S: `task ${taskId}` }, ...image },
    },
  });
}

const BATCHES: readonly (readonly [string, string])[] = [
  ['landing/tasks/2025/11/01/10/a', change('e1', 'INSERT', 0, 'a', {})],
  ['landing/tasks/2025/11/01/11/b', [
    change('e2', 'INSERT', 60, 'b', { estimateHours: { N: '12345678901234567890.123456789' }, flags: { BOOL: true }, meta: { M: { tier: { S: 'gold' }, n: { N: '1' } } }, avatar: { B: Buffer.from('png').toString('base64') } }),
    change('e3', 'MODIFY', 61, 'a', { flags: { BOOL: false } }),
  ].join('\n')],
  ['landing/tasks/2025/11/01/12/c', [
    change('e4', 'MODIFY', 120, 'b', { flags: { S: 'yes' } }),
    // `Title` becomes title, which the declared attribute title has: it gets title_2, and keeps its value.
    change('e5', 'MODIFY', 121, 'a', { ['odd "name"']: { S: 'x' }, Title: { S: 'shouting' } }),
  ].join('\n')],
];

async function newLake(): Promise<Lake> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-evolve-'));
  lakes.push(dir);
  return openLocalLake(dir, { threads: 2 });
}

const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

describe('schema contract evolve', () => {
  it('adds a new attribute as a nullable column typed by its DynamoDB type, reads it as NULL before, and quarantines a conflicting type', async () => {
    const lake = await newLake();
    await lake.storage.put(BATCHES[0]![0], `${BATCHES[0]![1]}\n`);
    await runJobs(lake, JOBS, enable);
    const columnsOf = async (table: string) => (await lake.state.getDocument<TableManifest>((await lake.state.readRoot()).tables[table]!.manifest)).columns;
    expect((await columnsOf('silver.evo_task_events')).map((column) => column.name)).not.toContain('flags');

    for (const [key, body] of BATCHES.slice(1)) {
      await lake.storage.put(key, `${body}\n`);
      await runJobs(lake, JOBS, enable);
    }
    const added = (await columnsOf('silver.evo_task_events')).filter((column) => column.origin !== undefined);
    expect(added).toEqual([
      { name: 'avatar', type: 'BLOB', origin: 'dynamodb:B:avatar' },
      { name: 'estimate_hours', type: 'VARCHAR', origin: 'dynamodb:N:estimateHours' },
      { name: 'flags', type: 'BOOLEAN', origin: 'dynamodb:BOOL:flags' },
      { name: 'meta', type: 'JSON', origin: 'dynamodb:M:meta' },
      { name: 'title_2', type: 'VARCHAR', origin: 'dynamodb:S:Title' },
      { name: 'odd__name_', type: 'VARCHAR', origin: 'dynamodb:S:odd "name"' },
    ]);
    expect(await queryLake(lake, "SELECT title, title_2 FROM silver.evo_task_events WHERE event_id = 'e5'")).toEqual([{ title: 'task a', title_2: 'shouting' }]);
    expect(await queryLake(lake, 'SELECT event_id, estimate_hours, flags, meta::VARCHAR AS meta, hex(avatar) AS avatar, odd__name_ FROM silver.evo_task_events ORDER BY event_id')).toEqual([
      { event_id: 'e1', estimate_hours: null, flags: null, meta: null, avatar: null, odd__name_: null },
      { event_id: 'e2', estimate_hours: '12345678901234567890.123456789', flags: true, meta: '{"M":{"tier":{"S":"gold"},"n":{"N":"1"}}}', avatar: Buffer.from('png').toString('hex').toUpperCase(), odd__name_: null },
      { event_id: 'e3', estimate_hours: null, flags: false, meta: null, avatar: null, odd__name_: null },
      { event_id: 'e5', estimate_hours: null, flags: null, meta: null, avatar: null, odd__name_: 'x' },
    ]);
    expect(await queryLake(lake, "SELECT reason_code, reason FROM quarantine.records WHERE job = 'silver.evo_tasks'")).toEqual([
      { reason_code: 'wrong_attribute_type', reason: 'attribute flags is {"S":"yes"}, expected type BOOL' },
    ]);
    // The current state and the history carry the new columns too.
    expect(await queryLake(lake, 'SELECT task_id, flags, estimate_hours FROM silver.evo_tasks ORDER BY task_id')).toEqual([
      { task_id: 'a', flags: null, estimate_hours: null },
      { task_id: 'b', flags: true, estimate_hours: '12345678901234567890.123456789' },
    ]);
    expect(await queryLake(lake, 'SELECT count(*) FILTER (WHERE flags IS NOT NULL) AS flagged FROM silver.evo_tasks_history')).toEqual([{ flagged: 2 }]);

    // One run over all of it gives the same tables.
    const full = await newLake();
    for (const [key, body] of BATCHES) await full.storage.put(key, `${body}\n`);
    await runJobs(full, JOBS);
    // Files holding the evolved columns (BLOB, JSON, lists, ...) keep the declared types in their footers.
    expect(await expectFilesHoldRecordedSchemas(full)).toBeGreaterThan(0);
    for (const table of ['silver.evo_task_events', 'silver.evo_tasks', 'silver.evo_tasks_history']) {
      expect(await queryLake(lake, `SELECT * EXCLUDE (_source_object, _record_index) FROM ${table} ORDER BY ALL`), table).toEqual(
        await queryLake(full, `SELECT * EXCLUDE (_source_object, _record_index) FROM ${table} ORDER BY ALL`),
      );
    }
  });
});
