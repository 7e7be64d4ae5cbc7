/** A small seeded generator (a linear congruential one): the same seed gives the same draws, for schedules, drills and generated fleets. Not for anything secret. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
