import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { streamIo } from '../../cli/index.ts';

describe('the CLI output', () => {
  it('waits for a slow reader without gathering listeners, however long the output (no MaxListenersExceeded)', async () => {
    let received = 0;
    // A pipe to a reader that takes its time: every write beyond a few bytes waits for 'drain'.
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        setImmediate(done);
      },
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const io = streamIo(slow, new Writable({ write: (_chunk, _encoding, done) => done() }));
      const baseline = { error: slow.listenerCount('error'), drain: slow.listenerCount('drain') };
      for (let index = 0; index < 200; index += 1) {
        await io.out(`row ${index} ${'x'.repeat(40)}\n`);
        expect(slow.listenerCount('error')).toBe(baseline.error);
        expect(slow.listenerCount('drain')).toBe(baseline.drain);
      }
      await nextTurn();
    } finally {
      process.off('warning', onWarning);
    }
    expect(received).toBeGreaterThan(200 * 40);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
