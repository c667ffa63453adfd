import { describe, expect, it } from 'vitest';
import { EngineTurns } from '../../../core/runner/engine-turns.ts';

describe('engine turns', () => {
  it('are given one at a time, in the order asked for', async () => {
    const turns = new EngineTurns();
    const order: string[] = [];
    const endA = await turns.take();
    const b = turns.take().then((end) => (order.push('b'), end));
    const c = turns.take().then((end) => (order.push('c'), end));
    await Promise.resolve();
    expect(order).toEqual([]);
    endA();
    const endB = await b;
    expect(order).toEqual(['b']);
    endA(); // ending a turn twice gives nothing away
    await Promise.resolve();
    expect(order).toEqual(['b']);
    endB();
    (await c)();
    expect(order).toEqual(['b', 'c']);
    // Nobody waits: the next turn is given at once.
    (await turns.take())();
  });

  it('stop waiting when the signal aborts, and the turn goes to the next in line', async () => {
    const turns = new EngineTurns();
    const end = await turns.take();
    const stop = new AbortController();
    const stopped = turns.take(stop.signal);
    const next = turns.take();
    stop.abort(new Error('stopped'));
    await expect(stopped).rejects.toThrow('stopped');
    end();
    (await next)();
    await expect(turns.take(stop.signal)).rejects.toThrow('stopped');
  });
});
