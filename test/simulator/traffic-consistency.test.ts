import { beforeAll, describe, expect, it } from 'vitest';
import { classifyLanding, keyArrivalMs, runInMemory, type GoodRecord, type LandingRun } from './landing-reader.ts';

type Attribute = { S?: string; N?: string; SS?: string[]; NULL?: boolean };
type Image = Record<string, Attribute>;
interface Event extends GoodRecord {
  readonly source: 'tasks' | 'users';
  readonly objectKey: string;
}

const CLEAN = { days: 4, users: 1000, tasksPerDay: 600, seed: 3, faultRate: 0 } as const;

describe('simulated traffic on clean data', () => {
  let run: LandingRun;
  let events: Event[];
  let byItem: Map<string, Event[]>;
  beforeAll(async () => {
    run = await runInMemory(CLEAN);
    events = classifyLanding(run.objects).flatMap((record) =>
      'good' in record.verdict ? [{ ...record.verdict.good, source: record.source, objectKey: record.key }] : [],
    );
    byItem = new Map();
    for (const event of events) {
      const itemKey = `${event.source}:${JSON.stringify(event.keys)}`;
      (byItem.get(itemKey) ?? byItem.set(itemKey, []).get(itemKey))?.push(event);
    }
    for (const history of byItem.values()) history.sort((a, b) => a.eventTimeUs - b.eventTimeUs);
  });

  const iso = (eventTimeUs: number): string => new Date(eventTimeUs / 1000).toISOString();

  it('keeps every key consistent: INSERT first, OldImage is the previous NewImage, nothing after REMOVE', () => {
    expect(byItem.size).toBeGreaterThan(CLEAN.users);
    for (const [itemKey, history] of byItem) {
      history.forEach((event, index) => {
        const previous = history[index - 1];
        if (previous) expect(event.eventTimeUs, itemKey).toBeGreaterThan(previous.eventTimeUs);
        if (index === 0) {
          expect(event.eventName, itemKey).toBe('INSERT');
          expect(event.oldImage).toBeUndefined();
        } else {
          expect(event.eventName, itemKey).not.toBe('INSERT');
          expect(JSON.stringify(event.oldImage), itemKey).toBe(JSON.stringify(previous?.newImage));
        }
        if (event.eventName === 'REMOVE') {
          expect(event.newImage).toBeUndefined();
          expect(index, `${itemKey} has events after its REMOVE`).toBe(history.length - 1);
        }
        const image = (event.newImage ?? event.oldImage) as Image;
        for (const [name, value] of Object.entries(event.keys)) expect(image[name], itemKey).toEqual(value);
      });
    }
  });

  it('stamps tasks with the event time: createdAt at the INSERT, updatedAt at every change', () => {
    for (const history of byItem.values()) {
      const first = history[0];
      if (!first || first.source !== 'tasks') continue;
      for (const event of history) {
        const image = event.newImage as Image | undefined;
        if (!image) continue;
        expect(image.createdAt?.S).toBe(iso(first.eventTimeUs));
        expect(image.updatedAt?.S).toBe(iso(event.eventTimeUs));
      }
    }
  });

  it('moves tasks through believable states', () => {
    const transitions = new Set<string>();
    let nullCompletions = 0;
    let removedCompletions = 0;
    let overdueOpen = 0;
    for (const history of byItem.values()) {
      if (history[0]?.source !== 'tasks') continue;
      let previousStatus: string | undefined;
      for (const event of history) {
        const image = event.newImage as Image | undefined;
        if (!image) {
          transitions.add(`${previousStatus}->removed`);
          continue;
        }
        const status = image.status?.S ?? '';
        expect(['todo', 'in_progress', 'done']).toContain(status);
        if (event.eventName === 'INSERT') expect(status).toBe('todo');
        if (previousStatus !== undefined && previousStatus !== status) transitions.add(`${previousStatus}->${status}`);
        if (status === 'done') {
          expect(image.completedAt?.S).toBeDefined();
          if (previousStatus !== 'done') expect(image.completedAt?.S).toBe(iso(event.eventTimeUs));
        } else if (image.completedAt !== undefined) {
          expect(image.completedAt).toEqual({ NULL: true });
        }
        if (previousStatus === 'done' && status !== 'done') {
          if (image.completedAt === undefined) removedCompletions++;
          else nullCompletions++;
        }
        if (image.priority) expect(image.priority.N).toMatch(/^[1-4]$/);
        if (image.tags) expect(image.tags.SS?.length).toBeGreaterThan(0);
        const due = image.dueDate?.S;
        if (due !== undefined) {
          expect(new Date(`${due}T00:00:00Z`).toISOString().slice(0, 10)).toBe(due);
          if (status !== 'done' && due < iso(event.eventTimeUs).slice(0, 10)) overdueOpen++;
        }
        previousStatus = status;
      }
    }
    for (const transition of ['todo->in_progress', 'todo->done', 'in_progress->done', 'done->todo', 'done->in_progress']) {
      expect(transitions, transition).toContain(transition);
    }
    for (const status of ['todo', 'in_progress', 'done']) expect(transitions).toContain(`${status}->removed`);
    expect(nullCompletions).toBeGreaterThan(0);
    expect(removedCompletions).toBeGreaterThan(0);
    expect(overdueOpen).toBeGreaterThan(0);
    expect(events.some((event) => event.record.userIdentity !== null)).toBe(true);
  });

  it('creates tasks only for users who already signed up, and lets users change plan or leave', () => {
    const signedUpAtUs = new Map<string, number>();
    for (const event of events) {
      if (event.source === 'users' && event.eventName === 'INSERT') signedUpAtUs.set((event.keys.userId as Attribute).S ?? '', event.eventTimeUs);
    }
    expect(signedUpAtUs.size).toBe(CLEAN.users);
    for (const event of events) {
      if (event.source !== 'tasks' || event.eventName !== 'INSERT') continue;
      const owner = (event.keys.userId as Attribute).S ?? '';
      expect(signedUpAtUs.get(owner), owner).toBeLessThan(event.eventTimeUs);
    }
    const userChanges = events.filter((event) => event.source === 'users' && event.eventName !== 'INSERT');
    expect(userChanges.some((event) => event.eventName === 'MODIFY')).toBe(true);
    expect(userChanges.some((event) => event.eventName === 'REMOVE')).toBe(true);
    for (const event of userChanges.filter((change) => change.eventName === 'MODIFY')) {
      expect((event.newImage as Image).plan?.S).not.toBe((event.oldImage as Image).plan?.S);
    }
  });

  it('lands records seconds to a minute after they happen, in objects named after their first arrival', () => {
    for (const event of events) {
      const eventMs = event.eventTimeUs / 1000;
      const keyMs = keyArrivalMs(event.objectKey);
      expect(eventMs).toBeGreaterThanOrEqual(keyMs - 61_000);
      expect(eventMs).toBeLessThan(keyMs + 300_000);
    }
  });

  it('follows a daily rhythm and about tasksPerDay creations a day', () => {
    const byHour = new Uint32Array(24);
    // Task events only: most users sign up in the first hours of the period, whatever the time of day.
    for (const event of events) {
      const hour = new Date(event.eventTimeUs / 1000).getUTCHours();
      if (event.source === 'tasks') byHour[hour] = (byHour[hour] ?? 0) + 1;
    }
    const working = (byHour[9] ?? 0) + (byHour[10] ?? 0) + (byHour[14] ?? 0) + (byHour[15] ?? 0);
    const night = (byHour[1] ?? 0) + (byHour[2] ?? 0) + (byHour[3] ?? 0) + (byHour[4] ?? 0);
    expect(working).toBeGreaterThan(4 * night);
    const inserts = run.summary.eventsPerSource.tasks.INSERT;
    // 2025-11-01 is a Saturday: two quiet weekend days, two busy weekdays.
    expect(inserts).toBeGreaterThan(CLEAN.days * CLEAN.tasksPerDay * 0.85);
    expect(inserts).toBeLessThan(CLEAN.days * CLEAN.tasksPerDay * 1.1);
  });
});
