import { describe, expect, it } from 'vitest';
import { detectAnomaly, type AnomalyOptions, type AnomalyVerdict } from '../../../core/quality/anomaly.ts';
import { ConfigError } from '../../../core/errors.ts';
import { mulberry32 } from '../../support/seeded-random.ts';

type Shape = 'flat' | 'linear' | 'exponential' | 'weekly' | 'weekly+growth' | 'weekly+linear';
const SHAPES: readonly Shape[] = ['flat', 'linear', 'exponential', 'weekly', 'weekly+growth', 'weekly+linear'];
const SEEDS = [1, 2, 3, 4, 5, 6, 7];

/** Day `day` is a weekend when (day + weekendOffset) % 7 is 5 or 6; day 45 is a weekend for offsets 2 and 3. */
function isWeekend(day: number, weekendOffset: number): boolean {
  return (day + weekendOffset) % 7 >= 5;
}

/** Daily row counts around 10,000 with ±5% multiplicative uniform noise. */
function makeSeries({ shape, days, seed, weekendOffset = seed % 7 }: { shape: Shape; days: number; seed: number; weekendOffset?: number }): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: days }, (_, day) => {
    const trend = shape === 'linear' || shape === 'weekly+linear' ? 1 + 0.02 * day : shape === 'exponential' || shape === 'weekly+growth' ? 1.01 ** day : 1;
    const season = shape.startsWith('weekly') && isWeekend(day, weekendOffset) ? 0.4 : 1;
    const noise = 1 + 0.1 * (random() - 0.5);
    return 10_000 * trend * season * noise;
  });
}

/** Evaluates every day against the days before it, as a daily run would. */
function walk(series: readonly number[], options?: AnomalyOptions): AnomalyVerdict[] {
  return series.map((value, day) => detectAnomaly(series.slice(0, day), value, options));
}

function flaggedDays(verdicts: readonly AnomalyVerdict[]): string[] {
  return verdicts.flatMap((v, day) => (v.anomalous ? [`day ${day}: ${v.reason}`] : []));
}

describe('detectAnomaly: normal days', () => {
  for (const shape of SHAPES) {
    it(`never flags 60 days of ${shape} with ±5% noise (seeds ${SEEDS.join(', ')})`, () => {
      for (const seed of SEEDS) {
        const verdicts = walk(makeSeries({ shape, days: 60, seed }));
        expect(flaggedDays(verdicts), `seed ${seed}`).toEqual([]);
        expect(verdicts.slice(0, 10).every((v) => v.warmingUp && v.expected === undefined)).toBe(true);
        expect(verdicts.slice(10).every((v) => !v.warmingUp && v.low! <= v.expected! && v.expected! <= v.high!)).toBe(true);
      }
    });
  }

  it('does not flag days 10 to 20 of a weekly, growing series while it cannot yet tell the season from noise', () => {
    for (const seed of SEEDS) {
      for (const weekendOffset of [0, 1, 2, 3, 4, 5, 6]) {
        const series = makeSeries({ shape: 'weekly+growth', days: 21, seed, weekendOffset });
        const verdicts = walk(series).slice(10);
        expect(flaggedDays(verdicts), `seed ${seed}, offset ${weekendOffset}`).toEqual([]);
        expect(verdicts[0]!.reason).toContain('band widened until 2 full seasons of 7 are seen');
        expect(verdicts[10]!.reason).toContain('weekly seasonal model');
      }
    }
  });

  it('keeps the band tight enough to matter: within a factor of 1.4 of the forecast once two seasons are seen', () => {
    for (const shape of SHAPES) {
      for (const seed of SEEDS) {
        const series = makeSeries({ shape, days: 46, seed });
        const verdict = detectAnomaly(series.slice(0, 45), series[45]!);
        expect(verdict.low! / verdict.expected!, `${shape} seed ${seed}`).toBeGreaterThan(1 / 1.4);
        expect(verdict.high! / verdict.expected!, `${shape} seed ${seed}`).toBeLessThan(1.4);
      }
    }
  });

  it('picks the weekly model for a weekly series and the trend model for a series without one', () => {
    const weekly = makeSeries({ shape: 'weekly+growth', days: 46, seed: 3 });
    const flat = makeSeries({ shape: 'exponential', days: 46, seed: 3 });
    expect(detectAnomaly(weekly.slice(0, 45), weekly[45]!).reason).toContain('weekly seasonal model');
    expect(detectAnomaly(flat.slice(0, 45), flat[45]!).reason).toMatch(/, trend model\)$/);
  });

  it('follows the season length it is given', () => {
    const random = mulberry32(11);
    const series = Array.from({ length: 60 }, (_, day) => [1000, 3000, 2000, 500][day % 4]! * (1 + 0.1 * (random() - 0.5)));
    expect(flaggedDays(walk(series, { period: 4 }))).toEqual([]);
    expect(detectAnomaly(series.slice(0, 59), series[59]!, { period: 4 }).reason).toContain('seasonal model with period 4');
  });
});

describe('detectAnomaly: anomalies', () => {
  for (const shape of SHAPES) {
    it(`flags a day at 30% of the usual on day 45 of ${shape}, on a weekday and on a weekend`, () => {
      for (const seed of SEEDS) {
        for (const weekendOffset of [0, 2]) {
          expect(isWeekend(45, weekendOffset)).toBe(weekendOffset === 2);
          const series = makeSeries({ shape, days: 46, seed, weekendOffset });
          const verdict = detectAnomaly(series.slice(0, 45), series[45]! * 0.3);
          expect(verdict.anomalous, `seed ${seed}, offset ${weekendOffset}: ${verdict.reason}`).toBe(true);
          expect(verdict.reason).toContain(' is below the expected range ');
          // The same day unchanged passes: the flag is about the drop, not the day.
          expect(detectAnomaly(series.slice(0, 45), series[45]!).anomalous).toBe(false);
        }
      }
    });

    it(`flags a 3x spike on day 45 of ${shape}`, () => {
      for (const seed of SEEDS) {
        const series = makeSeries({ shape, days: 46, seed });
        const verdict = detectAnomaly(series.slice(0, 45), series[45]! * 3);
        expect(verdict.anomalous, `seed ${seed}: ${verdict.reason}`).toBe(true);
        expect(verdict.reason).toContain(' is above the expected range ');
      }
    });
  }

  it('flags a weekday that drops to the weekend level of a weekly series', () => {
    const series = makeSeries({ shape: 'weekly', days: 46, seed: 5, weekendOffset: 0 });
    expect(isWeekend(45, 0)).toBe(false);
    expect(detectAnomaly(series.slice(0, 45), 4000).anomalous).toBe(true);
  });

  it('still flags a drop after an earlier outage is in the history', () => {
    const series = makeSeries({ shape: 'weekly+growth', days: 46, seed: 2 });
    series[30] = series[30]! * 0.1;
    expect(flaggedDays(walk(series).slice(31))).toEqual([]);
    expect(detectAnomaly(series.slice(0, 45), series[45]! * 0.3).anomalous).toBe(true);
  });

  it('flags a value that is not a finite number once warmed up', () => {
    const series = makeSeries({ shape: 'flat', days: 20, seed: 1 });
    const verdict = detectAnomaly(series, Number.NaN);
    expect(verdict).toMatchObject({ anomalous: true, warmingUp: false });
    expect(verdict.reason).toMatch(/^NaN is not a finite number; the expected range /);
  });
});

describe('detectAnomaly: constant series', () => {
  const history = Array.from({ length: 30 }, () => 1000);

  it('accepts the same value and small changes, with a band of about the 2% floor', () => {
    const same = detectAnomaly(history, 1000);
    expect(same.anomalous).toBe(false);
    expect(same.expected).toBeCloseTo(1000, 6);
    expect(detectAnomaly(history, 1050).anomalous).toBe(false);
    const { low, high } = detectAnomaly(history, 1000);
    expect(low).toBeGreaterThan(900);
    expect(high).toBeLessThan(1100);
  });

  it('flags a big change either way', () => {
    expect(detectAnomaly(history, 700).anomalous).toBe(true);
    expect(detectAnomaly(history, 1300).anomalous).toBe(true);
    expect(detectAnomaly(history, 0).anomalous).toBe(true);
  });

  it('works on the values themselves when there are zeros: zero stays normal, anything else is flagged', () => {
    const zeros = Array.from({ length: 20 }, () => 0);
    expect(detectAnomaly(zeros, 0)).toMatchObject({ anomalous: false, expected: 0, low: 0, high: 0 });
    expect(detectAnomaly(zeros, 5).anomalous).toBe(true);
  });
});

describe('detectAnomaly: warm-up', () => {
  it('never flags with fewer than 10 earlier values, and says so', () => {
    for (let count = 0; count < 10; count++) {
      const verdict = detectAnomaly(Array.from({ length: count }, () => 1000), 1_000_000);
      expect(verdict).toEqual({ anomalous: false, warmingUp: true, reason: `warming up: ${count} of 10 earlier values` });
    }
    expect(detectAnomaly(Array.from({ length: 10 }, () => 1000), 1_000_000)).toMatchObject({ anomalous: true, warmingUp: false });
  });

  it('honours a custom warm-up', () => {
    const history = Array.from({ length: 5 }, () => 1000);
    expect(detectAnomaly(history, 1_000_000, { warmUp: 6 })).toMatchObject({ warmingUp: true, reason: 'warming up: 5 of 6 earlier values' });
    expect(detectAnomaly(history, 1_000_000, { warmUp: 5 })).toMatchObject({ warmingUp: false, anomalous: true });
  });

  it('refuses options it cannot use, all problems in one error', () => {
    let error: unknown;
    try {
      detectAnomaly([], 1, { warmUp: 1, deviations: 0, period: 2.5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ANOMALY_OPTIONS_INVALID');
    expect((error as ConfigError).message).toMatch(/warmUp must be .*got 1; deviations must be .*got 0; period must be .*got 2.5/);
  });
});

describe('detectAnomaly: non-finite history values', () => {
  it('does not count them towards the warm-up', () => {
    const history = [1000, Number.NaN, 1000, Number.POSITIVE_INFINITY, 1000, 1000, Number.NEGATIVE_INFINITY, 1000, 1000, 1000, 1000, 1000];
    expect(detectAnomaly(history, 1_000_000)).toMatchObject({ warmingUp: true, reason: 'warming up: 9 of 10 earlier values' });
  });

  it('skips them but keeps the weekday of the values after them', () => {
    const series = makeSeries({ shape: 'weekly+growth', days: 46, seed: 4 });
    const holes = series.map((v, day) => (day % 9 === 4 ? Number.NaN : v));
    const verdicts = walk(holes.slice(0, 45)).filter((_, day) => !Number.isNaN(holes[day]));
    expect(flaggedDays(verdicts)).toEqual([]);
    const finite = holes.slice(0, 45).filter(Number.isFinite).length;
    const normal = detectAnomaly(holes.slice(0, 45), series[45]!);
    expect(normal.anomalous).toBe(false);
    expect(normal.reason).toContain(`from ${finite} earlier values, weekly seasonal model`);
    expect(detectAnomaly(holes.slice(0, 45), series[45]! * 0.3).anomalous).toBe(true);
  });
});

describe('detectAnomaly: reason', () => {
  it('names the value, the band and the forecast, matching the numbers returned', () => {
    const series = makeSeries({ shape: 'weekly+growth', days: 46, seed: 1, weekendOffset: 0 });
    const verdict = detectAnomaly(series.slice(0, 45), 3000);
    const match = /^3000 is below the expected range ([\d.]+) to ([\d.]+) \(forecast ([\d.]+) from 45 earlier values, weekly seasonal model\)$/.exec(verdict.reason);
    expect(match, verdict.reason).not.toBeNull();
    expect(Number(match![1])).toBeCloseTo(verdict.low!, 1);
    expect(Number(match![2])).toBeCloseTo(verdict.high!, 1);
    expect(Number(match![3])).toBeCloseTo(verdict.expected!, 1);
  });

  it('says "within" for a normal value and "above" for a spike', () => {
    const history = Array.from({ length: 30 }, () => 1000);
    expect(detectAnomaly(history, 1000).reason).toMatch(/^1000 is within the expected range 9\d\d\.\d to 10\d\d\.\d \(forecast 1000\.0 from 30 earlier values, trend model\)$/);
    expect(detectAnomaly(history, 2500).reason).toMatch(/^2500 is above the expected range /);
  });
});
