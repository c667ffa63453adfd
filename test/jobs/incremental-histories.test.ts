import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage, openLocalLake, runJobs } from '../../core/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { tableContents } from '../support/pipeline-check.ts';

const tempDir = useTempDirs();

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function random(seed: number): { next(): number; int(max: number): number; chance(p: number): boolean; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (max) => Math.floor(next() * max), chance: (p) => next() < p, pick: (items) => items[Math.floor(next() * items.length)] as never };
}

const DAY_MS = 86_400_000;
const FIRST_DAY = Date.UTC(2025, 9, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const date = (ms: number) => iso(ms).slice(0, 10);

interface Landed {
  readonly batch: number;
  readonly line: string;
}

/**
 * Histories of a few Todo tasks over ten days that stress what incremental runs must get right: keys
 * with no INSERT, deletes and re-creates, a created_at that changes (the key moves partition in
 * silver.tasks), completions, due dates that pass while a task stays open, events landing batches
 * late (before the first day seen so far, inside a key's history), and copies of an event landing
 * again later.
 */
function histories(seed: number, batches: number): Landed[] {
  const rnd = random(seed);
  const landed: Landed[] = [];
  for (let key = 0; key < 16; key += 1) {
    const user = `u${1 + (key % 3)}`;
    const taskId = `t${key}`;
    let day = rnd.int(10);
    let createdDay = day;
    let exists = false;
    const events = 1 + rnd.int(6);
    for (let index = 0; index < events && day < 10; index += 1) {
      const at = FIRST_DAY + day * DAY_MS + rnd.int(DAY_MS);
      const remove: boolean = exists && rnd.chance(0.2);
      const name = remove ? 'REMOVE' : !exists && rnd.chance(0.85) ? 'INSERT' : 'MODIFY';
      if (name === 'INSERT') createdDay = day;
      if (rnd.chance(0.1)) createdDay = Math.max(0, createdDay - 1 - rnd.int(3));
      const image = remove
        ? undefined
        : {
            title: { S: `task ${key}` },
            status: { S: rnd.pick(['todo', 'todo', 'in_progress', 'done']) },
            createdAt: { S: iso(FIRST_DAY + createdDay * DAY_MS) },
            updatedAt: { S: iso(at) },
            ...(rnd.chance(0.7) ? { dueDate: { S: date(FIRST_DAY + (day - 2 + rnd.int(8)) * DAY_MS) } } : {}),
          };
      exists = !remove;
      const line = JSON.stringify({
        eventID: `e-${seed}-${key}-${index}`,
        eventName: name,
        tableName: 'Tasks',
        eventSource: 'aws:dynamodb',
        dynamodb: {
          ApproximateCreationDateTime: at * 1000,
          ApproximateCreationDateTimePrecision: 'MICROSECOND',
          Keys: { userId: { S: user }, taskId: { S: taskId } },
          ...(image ? { NewImage: image } : {}),
          SizeBytes: 100,
        },
      });
      // Mostly in the batch of its day; sometimes a batch or more late; now and then delivered twice.
      const onTime = Math.floor((day * batches) / 10);
      const batch = rnd.chance(0.3) ? Math.min(batches - 1, onTime + 1 + rnd.int(batches)) : onTime;
      landed.push({ batch, line });
      if (rnd.chance(0.1)) landed.push({ batch: Math.min(batches - 1, batch + rnd.int(2)), line });
      day += rnd.int(3);
    }
  }
  return landed;
}

function objectKey(batch: number): string {
  const arrival = new Date(Date.UTC(2025, 9, 20, batch, 0, 0));
  const [d, t] = arrival.toISOString().split('T') as [string, string];
  const [y, m, dd] = d.split('-');
  const hh = t.slice(0, 2);
  return `landing/tasks/${y}/${m}/${dd}/${hh}/medallion-tasks-cdc-1-${y}-${m}-${dd}-${hh}-00-00-${`${batch}`.padStart(8, '0')}-0000-4000-8000-000000000000`;
}

/** Lands each batch as one object, runs the pipeline bookmarked after each, and compares with one full run. */
async function expectIncrementalEqualsFull(batches: readonly (readonly string[])[]): Promise<Record<string, unknown[]>> {
  const fullDir = await tempDir('full');
  const full = new LocalStorage(fullDir);
  const incrementalDir = await tempDir('incremental');
  const incremental = new LocalStorage(incrementalDir);
  const lake = openLocalLake(incrementalDir, { threads: 2 });
  const clock = Date.now() - 3 * 3_600_000;
  for (const [batch, lines] of batches.entries()) {
    if (lines.length === 0) continue;
    const body = lines.map((line) => `${line}\n`).join('');
    const key = objectKey(batch);
    await full.put(key, body);
    await incremental.put(key, body);
    const landedAt = new Date(clock + batch * 20 * 60_000);
    await utimes(incremental.pathOf(key), landedAt, landedAt);
    await utimes(path.dirname(incremental.pathOf(key)), landedAt, landedAt);
    await runJobs(lake, PIPELINE_JOBS, { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }) });
  }
  const fullLake = openLocalLake(fullDir, { threads: 2 });
  await runJobs(fullLake, PIPELINE_JOBS);
  const expected = await tableContents(fullLake);
  expect(await tableContents(lake)).toEqual(expected);
  return expected;
}

/** One Tasks change record, as the simulator's would be. */
function taskEvent(id: string, name: 'INSERT' | 'MODIFY' | 'REMOVE', day: number, taskId: string, status: string, due?: number): string {
  const at = FIRST_DAY + day * DAY_MS + 3_600_000;
  return JSON.stringify({
    eventID: id,
    eventName: name,
    tableName: 'Tasks',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      ApproximateCreationDateTime: at * 1000,
      ApproximateCreationDateTimePrecision: 'MICROSECOND',
      Keys: { userId: { S: 'u1' }, taskId: { S: taskId } },
      ...(name === 'REMOVE'
        ? {}
        : {
            NewImage: {
              title: { S: taskId },
              status: { S: status },
              createdAt: { S: iso(FIRST_DAY) },
              updatedAt: { S: iso(at) },
              ...(due === undefined ? {} : { dueDate: { S: date(FIRST_DAY + due * DAY_MS) } }),
            },
          }),
      SizeBytes: 100,
    },
  });
}

describe('incremental runs equal one full run on adversarial task histories', () => {
  it('fills the days between the last computed day and new events, with carried tasks turning overdue', async () => {
    const expected = await expectIncrementalEqualsFull([
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo', 3)],
      [taskEvent('b1', 'INSERT', 6, 't2', 'todo')],
    ]);
    expect(expected['gold.daily_task_kpis']).toHaveLength(6);
  });

  it('turns carried tasks overdue on the right day: due the day before the recomputed days, on their first day, already overdue', async () => {
    const expected = await expectIncrementalEqualsFull([
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo', 1), taskEvent('a2', 'INSERT', 1, 't3', 'in_progress', 2), taskEvent('a3', 'INSERT', 1, 't4', 'todo', 0)],
      [taskEvent('b1', 'INSERT', 4, 't2', 'todo')],
    ]);
    expect((expected['gold.daily_task_kpis'] as { overdue_tasks_eod: number }[]).map((row) => row.overdue_tasks_eod)).toEqual([1, 2, 3, 3]);
  });

  it("recomputes a key's earlier completions when a new INSERT becomes its earliest", async () => {
    await expectIncrementalEqualsFull([
      [taskEvent('a1', 'MODIFY', 1, 't1', 'todo'), taskEvent('a2', 'MODIFY', 2, 't1', 'done'), taskEvent('a3', 'INSERT', 3, 't2', 'todo')],
      [taskEvent('b1', 'INSERT', 4, 't1', 'todo'), taskEvent('b2', 'MODIFY', 5, 't1', 'done')],
    ]);
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: every table equals a full run's after five bookmarked batches`, async () => {
      const batches = 5;
      const landed = histories(seed, batches);
      const expected = await expectIncrementalEqualsFull(
        Array.from({ length: batches }, (_, batch) => landed.filter((entry) => entry.batch === batch).map((entry) => entry.line)),
      );
      expect(expected['gold.daily_task_kpis']?.length).toBeGreaterThan(5);
    });
  }
});
