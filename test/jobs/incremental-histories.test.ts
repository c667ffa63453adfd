import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalLake } from '../../core/index.ts';
import { runJobs } from '../../core/runner/index.ts';
import { LocalStorage } from '../../core/storage/index.ts';
import { PIPELINE_JOBS } from '../../jobs/index.ts';
import { useTempDirs } from '../core/test-resources.ts';
import { expectPipelineMatchesOracle, tableContents } from '../support/pipeline-check.ts';
import { mulberry32 } from '../support/seeded-random.ts';

const tempDir = useTempDirs();

/** Draws from mulberry32, so a failing seed can be replayed. */
function random(seed: number): { next(): number; int(max: number): number; chance(p: number): boolean; pick<T>(items: readonly T[]): T } {
  const next = mulberry32(seed);
  return { next, int: (max) => Math.floor(next() * max), chance: (p) => next() < p, pick: (items) => items[Math.floor(next() * items.length)] as never };
}

const DAY_MS = 86_400_000;
const FIRST_DAY = Date.UTC(2025, 9, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const date = (ms: number) => iso(ms).slice(0, 10);

interface Landed {
  readonly batch: number;
  readonly source: 'tasks' | 'users';
  readonly line: string;
}

const DAYS = 40;

/** Mostly in the batch of its day; sometimes a batch or more late; now and then delivered twice. */
function deliver(rnd: ReturnType<typeof random>, landed: Landed[], source: Landed['source'], day: number, batches: number, line: string): void {
  const onTime = Math.floor((day * batches) / DAYS);
  const batch = rnd.chance(0.3) ? Math.min(batches - 1, onTime + 1 + rnd.int(batches)) : onTime;
  landed.push({ batch, source, line });
  if (rnd.chance(0.1)) landed.push({ batch: Math.min(batches - 1, batch + rnd.int(2)), source, line });
}

/**
 * Histories of a few Todo users and tasks over forty days that stress what incremental runs must get
 * right: task keys with no INSERT, deletes and re-creates, a created_at that changes (the key moves
 * partition in silver.tasks), completions, due dates that pass while a task stays open, users changing
 * plan or leaving, events landing batches late (before the first day seen so far, inside a key's
 * history, inside the 7- and 30-day windows of active users), and copies of an event landing again later.
 */
function histories(seed: number, batches: number): Landed[] {
  const rnd = random(seed);
  const landed: Landed[] = [];
  for (let index = 1; index <= 5; index += 1) {
    const userId = `u${index}`;
    let day = rnd.int(5);
    for (let change = 0; change < 1 + rnd.int(4) && day < DAYS; change += 1) {
      const name = change === 0 ? 'INSERT' : index === 5 && rnd.chance(0.5) ? 'REMOVE' : 'MODIFY';
      deliver(rnd, landed, 'users', day, batches, userEvent(`ue-${seed}-${index}-${change}`, name, day, userId, rnd.pick(['free', 'pro', 'team'])));
      if (name === 'REMOVE') break;
      day += rnd.int(15);
    }
  }
  for (let key = 0; key < 24; key += 1) {
    const user = `u${1 + (key % 5)}`;
    const taskId = `t${key}`;
    let day = rnd.int(DAYS);
    let createdDay = day;
    // Some tasks existed before the stream began: their first event may be a delete, with no creation day.
    let exists = rnd.chance(0.15);
    const events = 1 + rnd.int(6);
    for (let index = 0; index < events && day < DAYS; index += 1) {
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
      // A creation that arrives after its key's later events (its delete among them) is what incremental runs get wrong.
      if (name === 'INSERT' && rnd.chance(0.3)) landed.push({ batch: Math.min(batches - 1, Math.floor((day * batches) / DAYS) + 2), source: 'tasks', line });
      else deliver(rnd, landed, 'tasks', day, batches, line);
      day += rnd.int(6);
    }
  }
  return landed;
}

function objectKey(batch: number, source: Landed['source']): string {
  const arrival = new Date(Date.UTC(2025, 11, 20, batch, 0, 0));
  const [d, t] = arrival.toISOString().split('T') as [string, string];
  const [y, m, dd] = d.split('-');
  const hh = t.slice(0, 2);
  return `landing/${source}/${y}/${m}/${dd}/${hh}/medallion-${source}-cdc-1-${y}-${m}-${dd}-${hh}-00-00-${`${batch}`.padStart(8, '0')}-0000-4000-8000-000000000000`;
}

/**
 * Lands each batch (one object per source), runs the pipeline bookmarked after each, and compares every
 * table with one full run over everything, which itself must match the independent computation.
 */
async function expectIncrementalEqualsFull(landed: readonly Landed[]): Promise<Record<string, unknown[]>> {
  const fullDir = await tempDir('full');
  const full = new LocalStorage(fullDir);
  const incrementalDir = await tempDir('incremental');
  const incremental = new LocalStorage(incrementalDir);
  const lake = openLocalLake(incrementalDir, { threads: 2 });
  const clock = Date.now() - 3 * 3_600_000;
  const batches = Math.max(...landed.map((entry) => entry.batch)) + 1;
  for (let batch = 0; batch < batches; batch += 1) {
    for (const source of ['tasks', 'users'] as const) {
      const lines = landed.filter((entry) => entry.batch === batch && entry.source === source).map((entry) => entry.line);
      if (lines.length === 0) continue;
      const body = lines.map((line) => `${line}\n`).join('');
      const key = objectKey(batch, source);
      await full.put(key, body);
      await incremental.put(key, body);
      const landedAt = new Date(clock + batch * 20 * 60_000);
      await utimes(incremental.pathOf(key), landedAt, landedAt);
      await utimes(path.dirname(incremental.pathOf(key)), landedAt, landedAt);
    }
    await runJobs(lake, PIPELINE_JOBS, { settingsFor: () => ({ bookmark: { option: 'job-bookmark-enable' } }) });
  }
  const { lake: fullLake } = await expectPipelineMatchesOracle(fullDir);
  const expected = await tableContents(fullLake);
  expect(await tableContents(lake)).toEqual(expected);
  return expected;
}

/** One Tasks change record, as the simulator's would be. */
function taskEvent(id: string, name: 'INSERT' | 'MODIFY' | 'REMOVE', day: number, taskId: string, status: string, due?: number, user = 'u1'): Landed['line'] {
  const at = FIRST_DAY + day * DAY_MS + 3_600_000;
  return JSON.stringify({
    eventID: id,
    eventName: name,
    tableName: 'Tasks',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      ApproximateCreationDateTime: at * 1000,
      ApproximateCreationDateTimePrecision: 'MICROSECOND',
      Keys: { userId: { S: user }, taskId: { S: taskId } },
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

/** One Users change record. */
function userEvent(id: string, name: 'INSERT' | 'MODIFY' | 'REMOVE', day: number, userId: string, plan: string): string {
  const at = FIRST_DAY + day * DAY_MS + 7_200_000;
  return JSON.stringify({
    eventID: id,
    eventName: name,
    tableName: 'Users',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      ApproximateCreationDateTime: at * 1000,
      ApproximateCreationDateTimePrecision: 'MICROSECOND',
      Keys: { userId: { S: userId } },
      ...(name === 'REMOVE'
        ? {}
        : { NewImage: { userId: { S: userId }, email: { S: `${userId}@example.com` }, name: { S: userId }, plan: { S: plan }, createdAt: { S: iso(FIRST_DAY) } } }),
      SizeBytes: 100,
    },
  });
}

/** Tasks records landing in batches: batch i holds the i-th list. */
const inBatches = (...batches: string[][]): Landed[] =>
  batches.flatMap((lines, batch) => lines.map((line) => ({ batch, source: 'tasks' as const, line })));

describe('incremental runs equal one full run on adversarial task histories', () => {
  it('fills the days between the last computed day and new events, with carried tasks turning overdue', async () => {
    const expected = await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo', 3)],
      [taskEvent('b1', 'INSERT', 6, 't2', 'todo')],
    ));
    expect(expected['gold.daily_task_kpis']).toHaveLength(6);
  });

  it('turns carried tasks overdue on the right day: due the day before the recomputed days, on their first day, already overdue', async () => {
    const expected = await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo', 1), taskEvent('a2', 'INSERT', 1, 't3', 'in_progress', 2), taskEvent('a3', 'INSERT', 1, 't4', 'todo', 0)],
      [taskEvent('b1', 'INSERT', 4, 't2', 'todo')],
    ));
    expect((expected['gold.daily_task_kpis'] as { overdue_tasks_eod: number }[]).map((row) => row.overdue_tasks_eod)).toEqual([1, 2, 3, 3]);
  });

  it("recomputes a key's earlier completions when a new INSERT becomes its earliest", async () => {
    await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'MODIFY', 1, 't1', 'todo'), taskEvent('a2', 'MODIFY', 2, 't1', 'done'), taskEvent('a3', 'INSERT', 3, 't2', 'todo')],
      [taskEvent('b1', 'INSERT', 4, 't1', 'todo'), taskEvent('b2', 'MODIFY', 5, 't1', 'done')],
    ));
  });

  it("carries a key's state into the recomputed days from its last event in event order, ties broken by object and record", async () => {
    // Two events of t1 in the same microsecond: the later record (done) is its state; a new MODIFY to done is no completion.
    const expected = await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo', 5), taskEvent('a2', 'MODIFY', 1, 't1', 'done', 5), taskEvent('a3', 'INSERT', 1, 't2', 'in_progress', 1)],
      [taskEvent('b1', 'MODIFY', 3, 't1', 'done', 5), taskEvent('b2', 'MODIFY', 3, 't2', 'todo', 1)],
    ));
    const rows = expected['gold.daily_task_kpis'] as { tasks_completed: number; open_tasks_eod: number; overdue_tasks_eod: number }[];
    expect(rows.map((row) => [row.tasks_completed, row.open_tasks_eod, row.overdue_tasks_eod])).toEqual([[1, 1, 0], [0, 1, 1], [0, 1, 1]]);
  });

  it('counts active users over 7 and 30 days, reaching back 29 days from the first recomputed day', async () => {
    const users = (batch: number, ...lines: string[]): Landed[] => lines.map((line) => ({ batch, source: 'users' as const, line }));
    const expected = await expectIncrementalEqualsFull([
      ...inBatches(
        [0, 6, 7].map((day) => taskEvent(`a${day}`, 'INSERT', day, `t${day}`, 'todo', undefined, 'u1'))
          .concat([29, 30, 36].map((day) => taskEvent(`b${day}`, 'INSERT', day, `s${day}`, 'todo', undefined, 'u2')))
          .concat([taskEvent('c8', 'INSERT', 8, 'r8', 'done', undefined, 'u4')]),
        // A late event on day 3, inside u1's week.
        [taskEvent('late', 'MODIFY', 3, 't0', 'in_progress', undefined, 'u3')],
        // Recomputes from day 37 on: u4, active only on day 8, still counts in the 30 days ending on day 37.
        [taskEvent('new', 'INSERT', 40, 't40', 'todo', undefined, 'u1')],
      ),
      ...users(0, userEvent('u1a', 'INSERT', 0, 'u1', 'free'), userEvent('u2a', 'INSERT', 0, 'u2', 'free'), userEvent('u4a', 'INSERT', 0, 'u4', 'pro')),
      // A plan change and a user leaving, in batches where those users have no task event.
      ...users(1, userEvent('u2b', 'MODIFY', 38, 'u2', 'team'), userEvent('u4b', 'REMOVE', 39, 'u4', 'pro')),
    ]);
    const rows = expected['gold.active_users'] as { dt: string; dau: number; wau: number; mau: number }[];
    const on = (day: number) => rows.find((row) => row.dt === date(FIRST_DAY + day * DAY_MS));
    expect(on(3)).toMatchObject({ dau: 1, wau: 2, mau: 2 });
    expect(on(9)).toMatchObject({ dau: 0, wau: 3, mau: 3 });
    expect(on(10)).toMatchObject({ dau: 0, wau: 2, mau: 3 });
    expect(on(32)).toMatchObject({ dau: 0, wau: 1, mau: 4 });
    expect(on(37)).toMatchObject({ dau: 0, wau: 1, mau: 2 });
    expect(on(38)).toMatchObject({ dau: 0, wau: 1, mau: 1 });
    expect(rows).toHaveLength(41);
    expect(expected['gold.user_kpis']).toEqual([
      expect.objectContaining({ user_id: 'u1', plan: 'free', tasks_total: 4 }),
      expect.objectContaining({ user_id: 'u2', plan: 'team', tasks_total: 3 }),
    ]);
  });

  it("keeps a delete that arrived before its key's INSERT, while a later run rewrites other keys' versions with no creation day", async () => {
    // A: t1's REMOVE, the first event of t1 any run sees (its version has no created_date yet); C: t2's REMOVE,
    // likewise; B: t1's INSERT, late. One full run gives no current task and a history of INSERT then REMOVE for each.
    const expected = await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'REMOVE', 2, 't1', 'todo')],
      [taskEvent('c1', 'REMOVE', 3, 't2', 'todo')],
      [taskEvent('b1', 'INSERT', 1, 't1', 'todo')],
    ));
    expect(expected['silver.tasks']).toEqual([]);
    const history = expected['silver.tasks_history'] as { task_id: string; _event_name: string }[];
    expect(history.map((row) => [row.task_id, row._event_name])).toEqual([['t1', 'INSERT'], ['t1', 'REMOVE'], ['t2', 'REMOVE']]);
  });

  it('handles keys whose only events are deletes, and deletes of several keys with no creation day in one run and the next', async () => {
    await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'REMOVE', 2, 't1', 'todo'), taskEvent('a2', 'REMOVE', 2, 't3', 'todo')],
      [taskEvent('b1', 'REMOVE', 3, 't2', 'todo'), taskEvent('b2', 'MODIFY', 4, 't3', 'done')],
      [taskEvent('c1', 'INSERT', 1, 't1', 'todo'), taskEvent('c2', 'INSERT', 1, 't2', 'in_progress')],
      [taskEvent('d1', 'REMOVE', 5, 't4', 'todo')],
    ));
  });

  it('quarantines a later copy of an eventID that says something else, whether it lands in the same run or a later one', async () => {
    const expected = await expectIncrementalEqualsFull(inBatches(
      [taskEvent('a1', 'INSERT', 1, 't1', 'todo'), taskEvent('a2', 'INSERT', 1, 't2', 'todo')],
      [taskEvent('a1', 'INSERT', 1, 't1', 'done'), taskEvent('a2', 'INSERT', 1, 't2', 'todo')],
    ));
    const quarantined = expected['quarantine.records'] as { reason_code: string }[];
    expect(quarantined.filter((row) => row.reason_code === 'conflicting_duplicate')).toHaveLength(1);
    expect((expected['silver.tasks'] as { task_id: string; status: string }[]).map((row) => [row.task_id, row.status])).toEqual([['t1', 'todo'], ['t2', 'todo']]);
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: every table equals a full run's after five bookmarked batches`, async () => {
      const expected = await expectIncrementalEqualsFull(histories(seed, 5));
      expect(expected['gold.daily_task_kpis']?.length).toBeGreaterThan(20);
      expect(expected['gold.user_kpis']?.length).toBeGreaterThan(2);
    });
  }
});
