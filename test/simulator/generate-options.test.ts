import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { estimateEventCount, generateLanding, GenerateOptionsSchema, parseGenerateOptions, tasksPerDayForEvents } from '../../simulator/index.ts';
import { runInMemory } from './landing-reader.ts';

describe('GenerateOptionsSchema', () => {
  it('fills every option with its default', () => {
    expect(GenerateOptionsSchema.parse({})).toEqual({
      seed: 42,
      start: '2025-11-01',
      days: 7,
      users: 200,
      tasksPerDay: 300,
      faultRate: 0.01,
      idSpace: 0,
      keyPrefix: 'landing/',
    });
  });

  it('reports every invalid option in one ConfigError', async () => {
    const bad = { seed: 1.5, start: '2025-13-01', days: 0, users: -1, tasksPerDay: 1.2, faultRate: 2, keyPrefix: 'landing' };
    let caught: unknown;
    try {
      parseGenerateOptions(bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('SIMULATOR_OPTIONS_INVALID');
    for (const name of Object.keys(bad)) expect(error.message).toContain(name);
    await expect(generateLanding({ put: async () => undefined }, { days: 0 })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('event volume', () => {
  it('estimates the number of events a run writes', async () => {
    for (const options of [
      { days: 2, users: 100, tasksPerDay: 1500, seed: 1 },
      { days: 5, users: 100, tasksPerDay: 300, seed: 2, start: '2025-11-03' },
    ]) {
      const { summary } = await runInMemory(options);
      const events = Object.values(summary.eventsPerSource).reduce((sum, byName) => sum + byName.INSERT + byName.MODIFY + byName.REMOVE, 0);
      expect(Math.abs(estimateEventCount(options) / events - 1)).toBeLessThan(0.05);
    }
  });

  it('solves tasksPerDay for a target number of events', () => {
    const tasksPerDay = tasksPerDayForEvents(1_000_000, { days: 30, users: 20_000 });
    expect(Math.abs(estimateEventCount({ days: 30, users: 20_000, tasksPerDay }) / 1_000_000 - 1)).toBeLessThan(0.001);
    expect(tasksPerDayForEvents(0, { users: 10 })).toBe(0);
  });

  it('writes user sign-ups and nothing else when no tasks are created', async () => {
    const { summary } = await runInMemory({ days: 1, users: 5, tasksPerDay: 0, faultRate: 0 });
    expect(summary.eventsPerSource.tasks).toEqual({ INSERT: 0, MODIFY: 0, REMOVE: 0 });
    expect(summary.eventsPerSource.users.INSERT).toBe(5);
    expect(summary.objectsPerSource.tasks).toBe(0);
  });
});
