/**
 * Judging degradation: is the changed agent slower than it should be, or is its machine just
 * busier than when the baseline was taken? Pure functions, table-tested in
 * test/unit/judge.test.ts and measured on synthetic fleets in bench/judge.ts.
 *
 * The judge compares the agent with a contemporaneous control, as canary analysis does: agents
 * on the same machine that this week did not change, probed in the same ticks. A busy machine
 * slows the agent and its controls alike, so the agent's response time divided by its
 * controls' (on a log scale) stays where it was in the baseline; a change that makes the agent
 * itself slower moves that ratio. A one-sided Mann-Whitney U test decides whether the window's
 * ratios sit above the baseline's, and a change counts as degradation only when the test is
 * significant AND the slow-down it attributes to the agent clears both the plan's percentage
 * (15 % in the seeds, see docs/domain.md) and an absolute floor in milliseconds. Without any
 * control the agent's own baseline is used, with the same test, and the verdict says so.
 */

/** One tick of probing: the agent's response time and its controls' in the same tick (ms). */
export interface Tick {
  agentMs: number;
  controlsMs: readonly number[];
}

export interface JudgeSettings {
  /** The slow-down that counts, in percent of the baseline (the plan's degradationPct). */
  degradationPct: number;
  /** Below this absolute slow-down (ms, at the baseline's level) nothing counts: loopback noise. */
  degradationMinDeltaMs: number;
  /** Significance level of the one-sided test. */
  alpha: number;
  /** Fewer usable ticks than this in the baseline or the window: no verdict on degradation. */
  minSamples: number;
}

export const defaultJudgeSettings: JudgeSettings = { degradationPct: 15, degradationMinDeltaMs: 50, alpha: 0.001, minSamples: 8 };

export type JudgeMethod = 'against-controls' | 'against-own-baseline';

export type DegradationVerdict =
  | {
      verdict: 'degraded' | 'not-degraded';
      method: JudgeMethod;
      /** One-sided p-value of the Mann-Whitney U test (window above baseline). */
      p: number;
      /** The slow-down attributed to the agent, in percent of its baseline median. */
      slowdownPct: number;
      /** The same, in ms at the baseline's level. */
      slowdownMs: number;
      baselineTicks: number;
      windowTicks: number;
      detail: string;
    }
  | { verdict: 'insufficient'; method: JudgeMethod; baselineTicks: number; windowTicks: number; detail: string };

/** The median of a list (0 for an empty one). */
export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Complementary error function (W. H. Press et al., Numerical Recipes, erfcc: Chebyshev
 * fit with fractional error under 1.2e-7 everywhere), enough for p-values near 0.001.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z >= z) for a standard normal Z. */
export function upperNormalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Number of arrangements of n1 and n2 items giving each value of U (the count of pairs where
 * the first sample's item is larger), by the classic recurrence; cached per (n1, n2).
 */
const exactCache = new Map<string, Float64Array>();
function exactUCounts(n1: number, n2: number): Float64Array {
  const key = `${n1},${n2}`;
  const hit = exactCache.get(key);
  if (hit) return hit;
  // table[j][u] for the current i, built up over i = 0..n1 with j = 0..n2.
  let prev: Float64Array[] = Array.from({ length: n2 + 1 }, () => {
    const a = new Float64Array(1);
    a[0] = 1;
    return a;
  });
  for (let i = 1; i <= n1; i++) {
    const cur: Float64Array[] = [];
    for (let j = 0; j <= n2; j++) {
      const a = new Float64Array(i * j + 1);
      // f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u): the largest item belongs to the first sample (beating all j) or to the second.
      const fromFirst = prev[j]!;
      for (let u = j; u < a.length; u++) a[u] = a[u]! + (fromFirst[u - j] ?? 0);
      if (j > 0) {
        const fromSecond = cur[j - 1]!;
        for (let u = 0; u < fromSecond.length; u++) a[u] = a[u]! + fromSecond[u]!;
      }
      cur.push(a);
    }
    prev = cur;
  }
  const counts = prev[n2]!;
  if (exactCache.size > 200) exactCache.clear();
  exactCache.set(key, counts);
  return counts;
}

export interface MannWhitneyResult {
  /** U of the first sample: pairs where it is larger, ties counting a half. */
  u: number;
  /** One-sided p-value for "the first sample tends to be larger". */
  p: number;
  method: 'exact' | 'normal';
}

/**
 * One-sided Mann-Whitney U test: does `larger` tend to exceed `smaller`? Exact distribution
 * when both samples are small and there are no ties; otherwise the normal approximation with
 * tie and continuity corrections.
 */
export function mannWhitneyGreater(larger: readonly number[], smaller: readonly number[]): MannWhitneyResult {
  const n1 = larger.length;
  const n2 = smaller.length;
  if (n1 === 0 || n2 === 0) return { u: 0, p: 1, method: 'exact' };
  const all = [...larger.map((v) => ({ v, first: true })), ...smaller.map((v) => ({ v, first: false }))].sort((a, b) => a.v - b.v);
  let rankSumFirst = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j + 2) / 2;
    const tied = j - i + 1;
    if (tied > 1) tieTerm += tied ** 3 - tied;
    for (let k = i; k <= j; k++) if (all[k]!.first) rankSumFirst += rank;
    i = j + 1;
  }
  const u = rankSumFirst - (n1 * (n1 + 1)) / 2;
  if (tieTerm === 0 && n1 <= 25 && n2 <= 25) {
    const counts = exactUCounts(n1, n2);
    let total = 0;
    let tail = 0;
    for (let k = 0; k < counts.length; k++) {
      total += counts[k]!;
      if (k >= u) tail += counts[k]!;
    }
    return { u, p: tail / total, method: 'exact' };
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, p: u > mean ? 0 : 1, method: 'normal' };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, upperNormalTail(z)), method: 'normal' };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const usable = (ms: number) => Number.isFinite(ms) && ms > 0;

/**
 * The judge. `baseline` ticks were taken before stage 1, `window` ticks during the
 * verification window; each tick has the agent's response time and its controls' in that
 * same tick. Ticks without a usable agent reading are dropped; when every tick of both has at
 * least one control reading, the agent is judged against its controls, otherwise against its
 * own baseline.
 */
export function judgeDegradation(baseline: readonly Tick[], window: readonly Tick[], s: JudgeSettings): DegradationVerdict {
  const b = baseline.filter((t) => usable(t.agentMs));
  const w = window.filter((t) => usable(t.agentMs));
  const controlled = (t: Tick) => t.controlsMs.some(usable);
  const method: JudgeMethod = b.length > 0 && w.length > 0 && b.every(controlled) && w.every(controlled) ? 'against-controls' : 'against-own-baseline';
  if (b.length < s.minSamples || w.length < s.minSamples) {
    return { verdict: 'insufficient', method, baselineTicks: b.length, windowTicks: w.length, detail: `${b.length} baseline and ${w.length} window samples; the judge needs ${s.minSamples} of each` };
  }
  const agentBaselineMs = medianOf(b.map((t) => t.agentMs));
  // Log of the agent's time over its controls' median in the same tick: a busy machine cancels out.
  const score = method === 'against-controls' ? (t: Tick) => Math.log(t.agentMs / medianOf(t.controlsMs.filter(usable))) : (t: Tick) => Math.log(t.agentMs);
  const bScores = b.map(score);
  const wScores = w.map(score);
  const test = mannWhitneyGreater(wScores, bScores);
  const slowdownPct = (Math.exp(medianOf(wScores) - medianOf(bScores)) - 1) * 100;
  const slowdownMs = (agentBaselineMs * slowdownPct) / 100;
  const degraded = test.p < s.alpha && slowdownPct > s.degradationPct && slowdownMs >= s.degradationMinDeltaMs;
  const against = method === 'against-controls' ? `against ${w[0]!.controlsMs.length} unchanged agent(s) on its machine` : 'against its own baseline (no unchanged agent to compare with)';
  const detail =
    `${degraded ? '' : 'not degraded: '}response ${round(slowdownPct)} % (${round(slowdownMs)} ms) slower than its baseline median ${round(agentBaselineMs)} ms ${against}; ` +
    `Mann-Whitney p ${test.p < 1e-6 ? test.p.toExponential(1) : round(test.p, 6)} over ${b.length} baseline and ${w.length} window samples (limits: ${s.degradationPct} %, ${s.degradationMinDeltaMs} ms, p < ${s.alpha})`;
  return { verdict: degraded ? 'degraded' : 'not-degraded', method, p: test.p, slowdownPct: round(slowdownPct, 2), slowdownMs: round(slowdownMs, 2), baselineTicks: b.length, windowTicks: w.length, detail };
}
