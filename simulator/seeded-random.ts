/**
 * A seeded pseudo-random generator (sfc32). Pure 32-bit integer arithmetic, so a seed gives the same
 * numbers on every platform and Node version, which `Math.random` cannot promise.
 *
 * Each concern draws from its own named stream (`new SeededRandom(seed, 'traffic')`), so injecting
 * faults or changing object layout never shifts the numbers the traffic itself is made of.
 *
 * @example
 * const random = new SeededRandom(42, 'traffic');
 * random.int(1, 4); // the same value for seed 42 every time
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, streamName: string) {
    const high = Math.floor(seed / 2 ** 32);
    let state = mix32(hashString(streamName) ^ mix32(seed >>> 0) ^ mix32((high + 0x9e3779b9) | 0));
    const nextSeedWord = (): number => {
      state = (state + 0x9e3779b9) | 0;
      return mix32(state);
    };
    this.a = nextSeedWord();
    this.b = nextSeedWord();
    this.c = nextSeedWord();
    this.d = nextSeedWord();
    // sfc32's first outputs are correlated with its seed words; its authors discard a dozen.
    for (let round = 0; round < 12; round++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [minInclusive, maxInclusive]. */
  int(minInclusive: number, maxInclusive: number): number {
    return minInclusive + Math.floor(this.next() * (maxInclusive - minInclusive + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  /** Index drawn in proportion to `weights` (which need not sum to 1). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const weight of weights) total += weight;
    let remaining = this.next() * total;
    for (let index = 0; index < weights.length; index++) {
      remaining -= weights[index] ?? 0;
      if (remaining < 0) return index;
    }
    return weights.length - 1;
  }

  /** Log-uniform in [min, max): as many draws between 1 and 10 minutes as between 10 and 100. */
  logUniform(min: number, max: number): number {
    return min * Math.exp(this.next() * Math.log(max / min));
  }

  /** A random (version 4, RFC 4122 variant) UUID, deterministic for the stream. */
  uuid(): string {
    const hex = (word: number): string => (word >>> 0).toString(16).padStart(8, '0');
    const text =
      hex(this.nextUint32()) +
      hex((this.nextUint32() & 0xffff0fff) | 0x00004000) +
      hex((this.nextUint32() & 0x3fffffff) | 0x80000000) +
      hex(this.nextUint32());
    return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  }
}

/** MurmurHash3's finalizer: spreads every input bit over every output bit. */
function mix32(value: number): number {
  let x = value | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a over UTF-16 code units. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
