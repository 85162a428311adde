/** A small deterministic generator (mulberry32), so generated cases repeat run after run. */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    /** An integer in [min, max]. */
    int,
    /** A bigint in [0, 2^bits). */
    bigint(bits: number): bigint {
      let value = 0n;
      for (let bit = 0; bit < bits; bit += 16) value = (value << 16n) | BigInt(int(0, 0xffff));
      return value & ((1n << BigInt(bits)) - 1n);
    },
    pick<T>(items: readonly T[]): T {
      return items[int(0, items.length - 1)]!;
    },
  };
}
