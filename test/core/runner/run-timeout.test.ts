import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunTimeout } from '../../../core/runner/run-timeout.ts';

describe('a run timeout', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stands still while paused and fires once the time it ran adds up', () => {
    const timeout = new RunTimeout(1000);
    vi.advanceTimersByTime(400);
    timeout.pause();
    vi.advanceTimersByTime(10_000);
    expect(timeout.signal.aborted).toBe(false);
    timeout.resume();
    vi.advanceTimersByTime(599);
    expect(timeout.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(timeout.signal.aborted).toBe(true);
    expect((timeout.signal.reason as Error).name).toBe('TimeoutError');
  });

  it('never fires once cleared', () => {
    const timeout = new RunTimeout(1000);
    timeout.clear();
    vi.advanceTimersByTime(5000);
    expect(timeout.signal.aborted).toBe(false);
  });
});
