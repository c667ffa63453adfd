import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalLake, type Lake } from '../../core/index.ts';
import { readObjectRecords } from '../../core/landing/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { generateLanding } from '../../simulator/index.ts';
import { queryLake } from '../support/pipeline-check.ts';

const lakes: string[] = [];
afterEach(async () => {
  await Promise.all(lakes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function newLake(): Promise<Lake> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'medallion-history-'));
  lakes.push(dir);
  return openLocalLake(dir, { threads: 2 });
}

const enable = { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' as const } }) };

function task(id: string, name: string, iso: string, status?: string): string {
  const image = status === undefined ? undefined : {
    userId: { S: 'u1' }, taskId: { S: 'k' }, title: { S: 'a task' }, status: { S: status },
    createdAt: { S: '2025-11-01T10:00:00Z' }, updatedAt: { S: iso },
  };
  return JSON.stringify({
    eventID: id, eventName: name, tableName: 'Tasks',
    dynamodb: { ApproximateCreationDateTime: Date.parse(iso) * 1000, ApproximateCreationDateTimePrecision: 'MICROSECOND', Keys: { userId: { S: 'u1' }, taskId: { S: 'k' } }, ...(image ? { NewImage: image } : {}) },
  });
}

const HISTORY = `SELECT _event_id, status, is_deleted, is_current, strftime(valid_from, '%d %H:%M') AS valid_from, strftime(valid_to, '%d %H:%M') AS valid_to
                 FROM silver.tasks_history ORDER BY valid_from, _event_id`;

describe('silver history (SCD2)', () => {
  it('splits the right interval when an event arrives late, keeps deleted versions, and follows bookmarked runs', async () => {
    const lake = await newLake();
    await lake.storage.put('landing/tasks/2025/11/01/12/a', `${task('e1', 'INSERT', '2025-11-01T10:00:00Z', 'todo')}\n${task('e3', 'MODIFY', '2025-11-01T12:00:00Z', 'done')}\n`);
    await runJobs(lake, PIPELINE_JOBS, enable);
    expect(await queryLake(lake, HISTORY)).toEqual([
      { _event_id: 'e1', status: 'todo', is_deleted: false, is_current: false, valid_from: '01 10:00', valid_to: '01 12:00' },
      { _event_id: 'e3', status: 'done', is_deleted: false, is_current: true, valid_from: '01 12:00', valid_to: null },
    ]);

    // A change made at 11:00 arrives after the 12:00 one: it splits [10:00, 12:00).
    await lake.storage.put('landing/tasks/2025/11/02/00/b', `${task('e2', 'MODIFY', '2025-11-01T11:00:00Z', 'in_progress')}\n`);
    await runJobs(lake, PIPELINE_JOBS, enable);
    expect(await queryLake(lake, HISTORY)).toEqual([
      { _event_id: 'e1', status: 'todo', is_deleted: false, is_current: false, valid_from: '01 10:00', valid_to: '01 11:00' },
      { _event_id: 'e2', status: 'in_progress', is_deleted: false, is_current: false, valid_from: '01 11:00', valid_to: '01 12:00' },
      { _event_id: 'e3', status: 'done', is_deleted: false, is_current: true, valid_from: '01 12:00', valid_to: null },
    ]);

    // Deleted, then created again the next day.
    await lake.storage.put('landing/tasks/2025/11/02/01/c', `${task('e4', 'REMOVE', '2025-11-01T13:00:00Z')}\n${task('e5', 'INSERT', '2025-11-02T09:00:00Z', 'todo')}\n`);
    await runJobs(lake, PIPELINE_JOBS, enable);
    expect((await queryLake(lake, HISTORY)).slice(2)).toEqual([
      { _event_id: 'e3', status: 'done', is_deleted: false, is_current: false, valid_from: '01 12:00', valid_to: '01 13:00' },
      { _event_id: 'e4', status: null, is_deleted: true, is_current: false, valid_from: '01 13:00', valid_to: '02 09:00' },
      { _event_id: 'e5', status: 'todo', is_deleted: false, is_current: true, valid_from: '02 09:00', valid_to: null },
    ]);
    // One current version per key, and it is the current state.
    expect(await queryLake(lake, 'SELECT count(*) AS n FROM silver.tasks_history WHERE is_current')).toEqual([{ n: 1 }]);
    expect(await queryLake(lake, 'SELECT _event_id FROM silver.tasks')).toEqual([{ _event_id: 'e5' }]);
  });

  /** The same landing records, shuffled across new objects in a random order (a seeded shuffle). */
  async function shuffledObjects(source: Lake, seed: number): Promise<{ key: string; body: Buffer }[]> {
    let state = seed;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const objects: { key: string; body: Buffer }[] = [];
    for (const prefix of ['landing/tasks/', 'landing/users/']) {
      const records: Buffer[] = [];
      for await (const object of source.storage.list(prefix)) {
        for await (const record of readObjectRecords(await source.storage.get(object.key))) {
          if (!record.errorCode && !record.raw.includes(0x0a)) records.push(record.raw);
        }
      }
      for (let index = records.length - 1; index > 0; index -= 1) {
        const other = Math.floor(random() * (index + 1));
        [records[index], records[other]] = [records[other] as Buffer, records[index] as Buffer];
      }
      let start = 0;
      for (let object = 0; start < records.length; object += 1) {
        const size = 1 + Math.floor(random() * 60);
        const hour = String(object % 24).padStart(2, '0');
        objects.push({ key: `${prefix}2025/11/20/${hour}/shuffled-${String(object).padStart(4, '0')}`, body: Buffer.concat(records.slice(start, start + size).flatMap((raw) => [raw, Buffer.from('\n')])) });
        start += size;
      }
    }
    return objects;
  }

  /** Silver as analysts see it, without where each row arrived (object and position differ by construction). */
  async function silverState(lake: Lake) {
    return {
      tasks: await queryLake(lake, 'SELECT * EXCLUDE (_source_object, _record_index) FROM silver.tasks ORDER BY ALL'),
      users: await queryLake(lake, 'SELECT * EXCLUDE (_source_object, _record_index) FROM silver.users ORDER BY ALL'),
      tasksHistory: await queryLake(lake, 'SELECT * EXCLUDE (_source_object, _record_index) FROM silver.tasks_history ORDER BY ALL'),
      usersHistory: await queryLake(lake, 'SELECT * EXCLUDE (_source_object, _record_index) FROM silver.users_history ORDER BY ALL'),
    };
  }

  it('is the same, with the same current state, whatever order the same events arrive in (several shuffles)', async () => {
    const original = await newLake();
    await generateLanding(original.storage, { seed: 13, days: 3, users: 25, tasksPerDay: 40, faultRate: 0.03, start: '2025-11-01' });
    await runJobs(original, PIPELINE_JOBS);
    const expected = await silverState(original);
    expect(expected.tasksHistory.length).toBeGreaterThan(expected.tasks.length);
    for (const seed of [1, 2, 3]) {
      const objects = await shuffledObjects(original, seed);
      const shuffled = await newLake();
      // In three batches, with bookmarks: an event's earlier changes often arrive in a later batch.
      for (let wave = 0; wave < 3; wave += 1) {
        for (const object of objects.filter((_, index) => index % 3 === wave)) await shuffled.storage.put(object.key, object.body);
        await runJobs(shuffled, PIPELINE_JOBS, enable);
      }
      expect(await silverState(shuffled), `shuffle ${seed}`).toEqual(expected);
    }
  }, 120_000);
});
