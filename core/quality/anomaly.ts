import { ConfigError } from '../errors.ts';

export interface AnomalyOptions {
  /** History points needed before anything is flagged (default 10, at least 3). */
  readonly warmUp?: number;
  /** How many spreads a value may be from its forecast (default 4). */
  readonly deviations?: number;
  /** Season length in points (default 7: daily runs, weekly pattern). */
  readonly period?: number;
}

export interface AnomalyVerdict {
  readonly anomalous: boolean;
  readonly warmingUp: boolean;
  /** The forecast for this point and the accepted band [low, high]; absent while warming up. */
  readonly expected?: number;
  readonly low?: number;
  readonly high?: number;
  /** One sentence for a person, e.g. "3000 is below the expected range 8412.3 to 11876.0 (forecast 10144.2 from 42 earlier values, weekly seasonal model)" or "warming up: 4 of 10 earlier values". */
  readonly reason: string;
}

const DEFAULT_WARM_UP = 10;
const DEFAULT_DEVIATIONS = 4;
const DEFAULT_PERIOD = 7;
/** The model looks at the newest 8 seasons (at least 28 points): long enough for a stable median, short enough to follow a changing level. */
const WINDOW_SEASONS = 8;
const MIN_WINDOW_POINTS = 28;
/** The seasonal model must predict held-out points at least 20% better than the trend model; by chance alone it often does a little better. */
const SEASONAL_GAIN = 0.8;
/** A spread never falls below 2% of the level, so a perfectly regular series does not flag tiny changes. */
const RELATIVE_SPREAD_FLOOR = 0.02;
/** Median absolute deviation × 1.4826 estimates a normal distribution's standard deviation. */
const MAD_TO_SIGMA = 1.4826;
/** A median of n normal values is as noisy as a mean of n / 1.57 of them: its standard error is 1.2533 σ / √n. */
const MEDIAN_EFFICIENCY = 1.2533;
/** median |a − b| × 1.0483 estimates σ for normal a and b: |a − b| has median 0.6745 × √2 σ. */
const SHAMOS_TO_SIGMA = 1.0483;

interface Point {
  /** Position in the original history, so a skipped non-finite value keeps the weekday phase of the rest. */
  readonly t: number;
  /** The value on the model scale: its logarithm when every value is positive. */
  readonly z: number;
}

interface Fit {
  readonly forecast: number;
  /** Leave-one-out errors on the history: each point against the median of the others in its group. */
  readonly residuals: readonly number[];
  /** Standard deviation of a new point around the forecast. */
  readonly spread: number;
  /** Points minus fitted parameters (one level per group and the slope): how far to trust `spread`. */
  readonly degreesOfFreedom: number;
}

/**
 * Decides whether a metric's newest value (a table's row count for today's run, say) leaves the range its
 * history predicts: the detector behind DQDL's `DetectAnomalies` rule.
 *
 * The model is a robust seasonal-naive forecast with a trend, fitted to the newest 8 seasons (at least 28
 * points) so that it follows a level that moves:
 * - Scale: when every earlier value is positive it works on logarithms, so 1%/day growth is a straight
 *   line and "weekends at 40% of weekdays" or "±5% noise" are constant offsets at any level; with zeros or
 *   negatives it works on the values themselves.
 * - Trend: the median slope between each point and the point half the window later (Theil–Sen with a
 *   single lag, O(n)); the seasonal model pairs points of the same phase only, so the season cancels out.
 * - Level: the median de-trended value, per phase (weekday) for the seasonal model; the forecast is the
 *   level of the new point's phase, carried forward along the trend.
 * - Choice: the seasonal model exists once every phase has been seen twice, and is used when its
 *   leave-one-out error (each point against the median of the others in its group) is at least 20% below
 *   the trend model's. Leave-one-out errors are out of sample, so 7 weekday levels get no free advantage
 *   over one.
 * - Spread: noise σ from the median pairwise difference within groups (Shamos' estimator, robust against
 *   earlier outliers), plus the error of the level (a median of c values) and of the slope extrapolated to
 *   the new point; widened by Student's t for the degrees of freedom left, and never below 2% of the level
 *   so a perfectly regular series does not flag tiny changes. The band is forecast ± `deviations` spreads.
 * - Before two full seasons a weekly pattern cannot be told from noise, so the band also covers every
 *   leave-one-out error already seen: a weekend that looks like the earlier weekends passes. The price is
 *   a band too wide to catch much in those days.
 *
 * Defaults: `warmUp` 10, so the first verdict has seen each weekday at least once and has a slope from 5
 * pairs; `deviations` 4: with normal noise of 3% it flagged about one normal day in 4,000 in simulation
 * (3.5: one in 1,000, as the spread is itself estimated), while a day at 30% or 300% of the usual is 1.1 or
 * more away on the log scale, dozens of spreads for ±5% noise and 55 at the 2% floor; `period` 7 for daily
 * runs with a weekly pattern.
 *
 * Non-finite history values are skipped but keep their position, so later values keep their weekday. A
 * non-finite `value` is anomalous once the warm-up is over.
 *
 * @example
 * const verdict = detectAnomaly(rowCountsOfEarlierRuns, 3000);
 * // { anomalous: true, warmingUp: false, expected: 10144.2, low: 8412.3, high: 11876.0,
 * //   reason: '3000 is below the expected range 8412.3 to 11876.0 (forecast 10144.2 from 42 earlier values, weekly seasonal model)' }
 */
export function detectAnomaly(history: readonly number[], value: number, options: AnomalyOptions = {}): AnomalyVerdict {
  const { warmUp, deviations, period } = resolveOptions(options);
  const observed = history.flatMap((y, t) => (Number.isFinite(y) ? [{ t, y }] : []));
  if (observed.length < warmUp) {
    return { anomalous: false, warmingUp: true, reason: `warming up: ${observed.length} of ${warmUp} earlier values` };
  }

  const recent = observed.slice(-Math.max(WINDOW_SEASONS * period, MIN_WINDOW_POINTS));
  const logScale = recent.every((p) => p.y > 0);
  const points: Point[] = recent.map((p) => ({ t: p.t, z: logScale ? Math.log(p.y) : p.y }));
  const at = history.length;

  const trend = fitTrend(points, at);
  const seasonal = period > 1 ? fitSeasonal(points, at, period) : undefined;
  const useSeasonal = seasonal !== undefined && meanAbsolute(seasonal.residuals) < SEASONAL_GAIN * meanAbsolute(trend.residuals);
  const fit = useSeasonal ? seasonal : trend;

  const floor = logScale ? Math.log1p(RELATIVE_SPREAD_FLOOR) : RELATIVE_SPREAD_FLOOR * median(points.map((p) => Math.abs(p.z)));
  const spread = Math.max(floor, fit.spread * studentFactor(deviations, fit.degreesOfFreedom));
  // Without two full seasons a weekly pattern looks like outliers to the trend model; accept what was seen.
  const widen = period > 1 && seasonal === undefined;
  const lowZ = fit.forecast + (widen ? Math.min(0, ...fit.residuals) : 0) - deviations * spread;
  const highZ = fit.forecast + (widen ? Math.max(0, ...fit.residuals) : 0) + deviations * spread;

  const fromModel = (z: number) => (logScale ? Math.exp(z) : z);
  const expected = fromModel(fit.forecast);
  const low = fromModel(lowZ);
  const high = fromModel(highZ);
  const model = useSeasonal
    ? period === 7 ? 'weekly seasonal model' : `seasonal model with period ${period}`
    : widen ? `trend model, band widened until 2 full seasons of ${period} are seen` : 'trend model';
  const range = `the expected range ${format(low)} to ${format(high)} (forecast ${format(expected)} from ${observed.length} earlier values, ${model})`;

  if (!Number.isFinite(value)) {
    return { anomalous: true, warmingUp: false, expected, low, high, reason: `${format(value)} is not a finite number; ${range}` };
  }
  const position = value < low ? 'below' : value > high ? 'above' : 'within';
  return { anomalous: position !== 'within', warmingUp: false, expected, low, high, reason: `${format(value)} is ${position} ${range}` };
}

function resolveOptions(options: AnomalyOptions): Required<AnomalyOptions> {
  const warmUp = options.warmUp ?? DEFAULT_WARM_UP;
  const deviations = options.deviations ?? DEFAULT_DEVIATIONS;
  const period = options.period ?? DEFAULT_PERIOD;
  const problems = [
    ...(Number.isInteger(warmUp) && warmUp >= 3 ? [] : [`warmUp must be an integer of at least 3 (a trend and a spread need 3 points), got ${warmUp}`]),
    ...(Number.isFinite(deviations) && deviations > 0 ? [] : [`deviations must be a positive number, got ${deviations}`]),
    ...(Number.isInteger(period) && period >= 1 ? [] : [`period must be a positive integer, got ${period}`]),
  ];
  if (problems.length > 0) {
    throw new ConfigError('ANOMALY_OPTIONS_INVALID', `DetectAnomalies options: ${problems.join('; ')}`, {
      hint: 'leave an option out for its default: warmUp 10, deviations 4, period 7',
    });
  }
  return { warmUp, deviations, period };
}

/** Straight line: median half-window slope, median de-trended level. */
function fitTrend(points: readonly Point[], at: number): Fit {
  return fitLevels([points], at, halfWindowSlopes(points));
}

/** Line plus one level per phase; undefined until every phase has been seen twice. */
function fitSeasonal(points: readonly Point[], at: number, period: number): Fit | undefined {
  const phases: Point[][] = Array.from({ length: period }, () => []);
  for (const p of points) phases[p.t % period]!.push(p);
  if (phases.some((phase) => phase.length < 2)) return undefined;
  // Pairs within a phase are whole seasons apart, so the season cancels out of every slope.
  return fitLevels(phases, at, phases.flatMap(halfWindowSlopes));
}

/**
 * One median level per group of de-trended points; the forecast uses the group of `at` (groups are
 * phases, or one group for the trend model). The spread adds up three errors: the noise around a level,
 * the level's own error (a median of c values has variance π σ² / 2c), and the slope's error carried from
 * the group's mean position to `at`.
 */
function fitLevels(groups: readonly (readonly Point[])[], at: number, slopes: readonly number[]): Fit {
  const slope = median(slopes);
  const detrendedGroups = groups.map((group) => group.map((p) => p.z - slope * p.t));
  const residuals = detrendedGroups.flatMap((detrended) => {
    const others = leaveOneOutMedians(detrended);
    return detrended.map((d, i) => d - others[i]!);
  });
  const own = groups[at % groups.length]!;
  const forecast = median(detrendedGroups[at % groups.length]!) + slope * at;

  const noise = pairwiseSigma(detrendedGroups);
  const levelVariance = (noise * noise * Math.PI) / (2 * own.length);
  const distance = at - own.reduce((sum, p) => sum + p.t, 0) / own.length;
  const slopeError = slopes.length < 2 ? 0 : (MEDIAN_EFFICIENCY * MAD_TO_SIGMA * median(slopes.map((s) => Math.abs(s - slope)))) / Math.sqrt(slopes.length);
  const spread = Math.sqrt(noise * noise + levelVariance + (slopeError * distance) ** 2);
  const points = groups.reduce((sum, group) => sum + group.length, 0);
  return { forecast, residuals, spread, degreesOfFreedom: Math.max(1, points - groups.length - 1) };
}

/**
 * σ from the median of |a − b| over all pairs in the same group, × 1.0483 (Shamos' estimator): robust like
 * the MAD, but without the zeros a median leaves when it is fitted to the same few values it is measured on.
 */
function pairwiseSigma(groups: readonly (readonly number[])[]): number {
  const differences: number[] = [];
  for (const group of groups) {
    for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) differences.push(Math.abs(group[i]! - group[j]!));
  }
  return SHAMOS_TO_SIGMA * median(differences);
}

/** Slopes from each point to the point half the list later: every slope spans half the window, so noise barely moves it. */
function halfWindowSlopes(points: readonly Point[]): number[] {
  const lag = Math.floor(points.length / 2);
  const slopes: number[] = [];
  for (let i = 0; i + lag < points.length && lag > 0; i++) {
    const from = points[i]!;
    const to = points[i + lag]!;
    slopes.push((to.z - from.z) / (to.t - from.t));
  }
  return slopes;
}

/** For each value, the median of all the others: O(n log n) by reading around its rank in one sorted copy. */
function leaveOneOutMedians(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const sorted = order.map((i) => values[i]!);
  const rank: number[] = [];
  order.forEach((index, position) => (rank[index] = position));
  const remaining = values.length - 1;
  return values.map((_, i) => {
    const skip = rank[i]!;
    const nth = (k: number) => sorted[k < skip ? k : k + 1]!;
    return remaining % 2 === 1 ? nth((remaining - 1) / 2) : (nth(remaining / 2 - 1) + nth(remaining / 2)) / 2;
  });
}

/**
 * How much wider a band of `deviations` has to be when σ is estimated from few points: the ratio of
 * Student's t quantile to the normal one, from the Cornish–Fisher expansion (for 4 deviations: 2.2 at 6
 * degrees of freedom, 1.1 at 48).
 */
function studentFactor(deviations: number, degreesOfFreedom: number): number {
  const z2 = deviations * deviations;
  return 1 + (z2 + 1) / (4 * degreesOfFreedom) + (5 * z2 * z2 + 16 * z2 + 3) / (96 * degreesOfFreedom ** 2);
}

function meanAbsolute(values: readonly number[]): number {
  return values.reduce((sum, r) => sum + Math.abs(r), 0) / values.length;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function format(value: number): string {
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : String(Number(value.toPrecision(4)));
}
