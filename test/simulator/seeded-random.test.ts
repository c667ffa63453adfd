import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../simulator/seeded-random.ts';

describe('SeededRandom', () => {
  it('repeats its sequence for the same seed and stream, and differs otherwise', () => {
    const draw = (seed: number, stream: string): number[] => {
      const random = new SeededRandom(seed, stream);
      return Array.from({ length: 8 }, () => random.nextUint32());
    };
    expect(draw(42, 'traffic')).toEqual(draw(42, 'traffic'));
    expect(draw(42, 'traffic')).not.toEqual(draw(43, 'traffic'));
    expect(draw(42, 'traffic')).not.toEqual(draw(42, 'faults'));
    expect(draw(2 ** 40 + 1, 'traffic')).not.toEqual(draw(1, 'traffic'));
  });

  it('pins its output, so a change to the generator is a deliberate one', () => {
    const random = new SeededRandom(42, 'traffic');
    expect(random.uuid()).toMatchInlineSnapshot(`"3d5b6712-3657-4fc4-b8ea-a15da4bf0be1"`);
  });

  it('draws uniformly enough', () => {
    const random = new SeededRandom(1, 'uniformity');
    const buckets = new Uint32Array(10);
    for (let draw = 0; draw < 100_000; draw++) {
      const bucket = Math.floor(random.next() * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    for (let draw = 0; draw < 1000; draw++) {
      const value = random.int(1, 4);
      expect(value >= 1 && value <= 4 && Number.isInteger(value)).toBe(true);
    }
  });

  it('makes version 4 UUIDs', () => {
    const random = new SeededRandom(5, 'ids');
    const ids = new Set(Array.from({ length: 10_000 }, () => random.uuid()));
    expect(ids.size).toBe(10_000);
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
