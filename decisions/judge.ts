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
 * ratios sit above the baseline's by more than a share (floorShare) of the plan's percentage
 * (15 % in the seeds, see docs/domain.md), and a second one does the same for the difference in
 * milliseconds (see judgeDegradation for why both). bench/judge.ts measures how often it rolls
 * back an unchanged agent and how often it catches a slowed one; bench/RESULTS.md has the figures. Without any control the agent's own baseline is used,
 * with the same tests, and the verdict says so.
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
  /**
   * What share of the limits (percentage and milliseconds) the tests must be confident the
   * slow-down exceeds. Below 1 because the limit is the slow-down that must be caught: a bar at
   * the limit itself catches a slow-down of exactly the limit only half the time.
   */
  floorShare: number;
}

export const defaultJudgeSettings: JudgeSettings = { degradationPct: 15, degradationMinDeltaMs: 50, alpha: 0.01, minSamples: 8, floorShare: 0.25 };

export type JudgeMethod = 'against-controls' | 'against-own-baseline';

export type DegradationVerdict =
  | {
      verdict: 'degraded' | 'not-degraded';
      method: JudgeMethod;
      /** The larger of the two one-sided Mann-Whitney p-values (ratio and difference: window above baseline plus floorShare of the limits). */
      p: number;
      /** The slow-down attributed to the agent, in percent of its baseline median. */
      slowdownPct: number;
      /** The same, in ms at the baseline's level. */
      slowdownMs: number;
      baselineTicks: number;
      windowTicks: number;
      /** Medians of the agent's and the controls' response times, baseline and window (ms): what an operator compares by eye. */
      medians: { baselineAgentMs: number; windowAgentMs: number; baselineControlsMs: number | null; windowControlsMs: number | null };
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
const controlledMedian = (t: Tick) => medianOf(t.controlsMs.filter(usable));

/** How far `later` sits above `earlier`: the difference of their medians (cheap at any window length). */
export function shiftEstimate(later: readonly number[], earlier: readonly number[]): number {
  return medianOf(later) - medianOf(earlier);
}

/**
 * The judge. `baseline` ticks were taken before stage 1, `window` ticks during the
 * verification; each tick has the agent's response time and its controls' in that same tick.
 * Ticks without a usable agent reading are dropped. When at least `minSamples` ticks of each
 * have a control reading, the agent is judged against its controls on those ticks; otherwise
 * against its own baseline, and the verdict says so.
 *
 * Two scores per tick, each tested on its own: the log of the agent's time over its controls'
 * median (a machine that slows everyone by a factor cancels out) and the agent's time minus
 * that median (a machine that adds the same delay to every answer, as a busy CPU does to a
 * queue of requests, cancels out). A busy machine is a mix of the two, so the agent counts as
 * degraded only when both tests say so (the price: an agent much slower than its controls, on a
 * machine that adds a wait to every answer, shows a falling ratio and is not rolled back in that
 * window; controls close in speed to the agent, see decisions/controls.ts, keep this rare). Each
 * test asks whether the window sits above the baseline by more than floorShare of the limit (of
 * the plan's percentage and of its millisecond floor): the limit is the slow-down that must be
 * caught, so the bar for confidence sits below it, and slow-downs well under that bar are (all
 * but) never rolled back.
 */
export function judgeDegradation(baseline: readonly Tick[], window: readonly Tick[], s: JudgeSettings): DegradationVerdict {
  const b0 = baseline.filter((t) => usable(t.agentMs));
  const w0 = window.filter((t) => usable(t.agentMs));
  const controlled = (t: Tick) => t.controlsMs.some(usable);
  const bc = b0.filter(controlled);
  const wc = w0.filter(controlled);
  // Enough controlled ticks (or every tick controlled, when there are too few for any verdict).
  const enough = (controlledTicks: number, all: number) => controlledTicks > 0 && controlledTicks >= Math.min(s.minSamples, all);
  const method: JudgeMethod = enough(bc.length, b0.length) && enough(wc.length, w0.length) ? 'against-controls' : 'against-own-baseline';
  const [b, w] = method === 'against-controls' ? [bc, wc] : [b0, w0];
  if (b.length < s.minSamples || w.length < s.minSamples) {
    return { verdict: 'insufficient', method, baselineTicks: b.length, windowTicks: w.length, detail: `degradation not judged: ${b.length} baseline and ${w.length} window samples; the judge needs ${s.minSamples} of each` };
  }
  const reference = method === 'against-controls' ? controlledMedian : () => 1;
  const offset = method === 'against-controls' ? controlledMedian : () => 0;
  const ratio = (t: Tick) => Math.log(t.agentMs / reference(t));
  const diff = (t: Tick) => t.agentMs - offset(t);
  const relFloor = Math.log(1 + (s.degradationPct * s.floorShare) / 100);
  const absFloor = s.degradationMinDeltaMs * s.floorShare;
  const ratioTest = mannWhitneyGreater(w.map((t) => ratio(t) - relFloor), b.map(ratio));
  const diffTest = mannWhitneyGreater(w.map((t) => diff(t) - absFloor), b.map(diff));
  const p = Math.max(ratioTest.p, diffTest.p);
  const agentBaselineMs = medianOf(b.map((t) => t.agentMs));
  const slowdownPct = (Math.exp(shiftEstimate(w.map(ratio), b.map(ratio))) - 1) * 100;
  const slowdownMs = shiftEstimate(w.map(diff), b.map(diff));
  const degraded = p < s.alpha;
  const against = method === 'against-controls' ? `against ${medianOf(w.map((t) => t.controlsMs.filter(usable).length))} unchanged agent(s) on its machine` : 'against its own baseline (no unchanged agent to compare with)';
  const fmt = (x: number) => (x < 1e-6 ? x.toExponential(1) : String(round(x, 6)));
  const detail =
    `${degraded ? '' : 'not degraded: '}response ${round(slowdownPct)} % (${round(slowdownMs)} ms) slower than its baseline median ${round(agentBaselineMs)} ms ${against}; ` +
    `Mann-Whitney p ${fmt(ratioTest.p)} (ratio) and ${fmt(diffTest.p)} (difference) over ${b.length} baseline and ${w.length} window samples ` +
    `(rolls back when both are under ${s.alpha} that it is over ${s.floorShare} of the limits: ${s.degradationPct} %, ${s.degradationMinDeltaMs} ms)`;
  const controlsMedian = (ts: Tick[]) => (method === 'against-controls' ? round(medianOf(ts.map(controlledMedian)), 2) : null);
  const medians = { baselineAgentMs: round(agentBaselineMs, 2), windowAgentMs: round(medianOf(w.map((t) => t.agentMs)), 2), baselineControlsMs: controlsMedian(b), windowControlsMs: controlsMedian(w) };
  return { verdict: degraded ? 'degraded' : 'not-degraded', method, p, slowdownPct: round(slowdownPct, 2), slowdownMs: round(slowdownMs, 2), baselineTicks: b.length, windowTicks: w.length, medians, detail };
}

/**
 * How often the judge, against controls on a quiet machine at its default settings, caught an
 * agent exactly as slow as the limit (15 %) in one window, by usable samples in the window:
 * measured by bench/judge.ts (figures in bench/RESULTS.md, 2,000 windows a row up to 64 samples,
 * 1,000 beyond). A busy machine lowers it (the same file); `plan check` shows the row for each
 * verification window of a plan so that a window too short to catch its own limit is seen
 * before the phase starts.
 */
const measuredCatchAtLimit: ReadonlyArray<readonly [samples: number, pct: number]> = [
  [8, 20.2],
  [12, 28.2],
  [16, 34.9],
  [24, 46.6],
  [32, 59.4],
  [48, 79.3],
  [64, 91.6],
  [80, 96.5],
  [96, 99.3],
  [128, 100],
];

/** The measured share of windows of this many samples that catch a slow-down at the limit (the largest row not above it); 0 under minSamples. */
export function catchAtLimitPct(samples: number, minSamples = defaultJudgeSettings.minSamples): number {
  if (samples < minSamples) return 0;
  let pct = 0;
  for (const [n, p] of measuredCatchAtLimit) if (samples >= n) pct = p;
  return pct;
}

/** Samples per window at the default settings for which the measured catch rate reaches 99 %. */
export const samplesFor99PctAtLimit = measuredCatchAtLimit.find(([, p]) => p >= 99)![0];
