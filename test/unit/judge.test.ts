import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { catchAtLimitPct, defaultJudgeSettings, judgeDegradation, mannWhitneyGreater, samplesFor99PctAtLimit, upperNormalTail, type Tick } from '../../decisions/judge';
import { loadConfig } from '../../config/load';
import { planSchema } from '../../config/schema/plan';
import { defaultConfigDir } from '../../lib/paths';
import { planPreview } from '../../plan/preview';

describe('one-sided Mann-Whitney U test against known values', () => {
  // Reference p-values from scipy.stats.mannwhitneyu(x, y, alternative="greater") with
  // method "exact" where ours is exact (no ties, both samples of 25 or fewer) and
  // "asymptotic" (continuity-corrected) otherwise.
  const cases: Array<[string, number[], number[], number, number, 'exact' | 'normal']> = [
    ['3 above 3: the one arrangement of 20', [4, 5, 6], [1, 2, 3], 9, 0.05, 'exact'],
    ['4 above 4: one of 70', [5, 6, 7, 8], [1, 2, 3, 4], 16, 0.014285714285714285, 'exact'],
    ['interleaved samples of 8', [1.1, 2.3, 3.5, 4.2, 5.9, 6.1, 7.7, 8.4], [0.5, 1.7, 2.2, 2.9, 3.1, 4.8, 5.0, 6.6], 44, 0.11724941724941723, 'exact'],
    ['30 against 30, shifted by 10 (normal approximation)', range(10, 40), range(0, 30), 700, 0.00011224190297887802, 'normal'],
    ['ties: mid-ranks and the tie correction', [1, 2, 2, 3, 3, 3, 4], [1, 1, 2, 2, 3, 3], 28, 0.16472198626976814, 'normal'],
    ['everything equal: no evidence at all', Array(12).fill(10), Array(12).fill(10), 72, 1, 'normal'],
  ];
  for (const [name, x, y, u, p, method] of cases) {
    it(name, () => {
      const r = mannWhitneyGreater(x, y);
      assert.equal(r.u, u);
      assert.equal(r.method, method);
      assert.ok(Math.abs(r.p - p) <= Math.max(1e-9, p * 1e-5), `p ${r.p}, expected ${p}`);
    });
  }
  it('the wrong direction gives a p near 1', () => assert.ok(mannWhitneyGreater([1, 2, 3], [4, 5, 6]).p > 0.99));
  it('the normal tail at 3.0902 is 0.001', () => assert.ok(Math.abs(upperNormalTail(3.0902) - 0.001) < 1e-6));
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

const plus = (ms: number) => (t: Tick): Tick => ({ agentMs: t.agentMs + ms, controlsMs: t.controlsMs.map((c) => c + ms) });

/** Ticks with a fixed pattern of noise (no randomness: the table must not flake). */
function ticks(n: number, agentMs: number, controlsMs: number[], machineFactor: (i: number) => number = () => 1): Tick[] {
  const wobble = (i: number, k: number) => 1 + 0.08 * Math.sin(i * 1.7 + k * 2.3);
  return Array.from({ length: n }, (_, i) => ({
    agentMs: agentMs * machineFactor(i) * wobble(i, 0),
    controlsMs: controlsMs.map((c, k) => c * machineFactor(i) * wobble(i, k + 1)),
  }));
}

describe('the degradation judge: a busy machine is not a bad change', () => {
  const s = defaultJudgeSettings;
  const controls = [40, 120, 75];
  const baseline = ticks(20, 200, controls);

  const cases: Array<[string, Tick[], Tick[], 'degraded' | 'not-degraded' | 'insufficient', 'against-controls' | 'against-own-baseline']> = [
    ['unchanged agent, quiet machine', baseline, ticks(20, 200, controls), 'not-degraded', 'against-controls'],
    // The case: every agent on the machine 7 times slower during the batch.
    ['unchanged agent, machine 7x slower for everyone', baseline, ticks(20, 200, controls, () => 7), 'not-degraded', 'against-controls'],
    ['machine load rising through the window', baseline, ticks(20, 200, controls, (i) => 1 + i / 4), 'not-degraded', 'against-controls'],
    ['agent 30 % slower, controls unchanged', baseline, ticks(20, 260, controls), 'degraded', 'against-controls'],
    ['agent 30 % slower on a machine 3x slower for everyone', baseline, ticks(20, 260, controls, () => 3), 'degraded', 'against-controls'],
    ['agent of 400 ms 15 % slower: the limit is caught', ticks(20, 400, controls), ticks(20, 460, controls), 'degraded', 'against-controls'],
    ['agent of 200 ms 15 % slower: 30 ms, over a quarter of the 50 ms floor', baseline, ticks(20, 230, controls), 'degraded', 'against-controls'],
    ['agent of 40 ms 15 % slower: 6 ms, under a quarter of the 50 ms floor', ticks(20, 40, controls), ticks(20, 46, controls), 'not-degraded', 'against-controls'],
    ['agent 3 % slower: under a quarter of the 15 % limit', baseline, ticks(20, 206, controls), 'not-degraded', 'against-controls'],
    // A busy CPU adds the same wait to every answer: the ratio of a fast agent to slower controls rises, the difference does not.
    ['a fast agent on a machine adding 150 ms to every answer', ticks(20, 50, [120, 200, 300]), ticks(20, 50, [120, 200, 300], () => 1).map(plus(150)), 'not-degraded', 'against-controls'],
    ['a fast agent twice as slow, the machine adding 150 ms to every answer', ticks(20, 50, [120, 200, 300]), ticks(20, 100, [120, 200, 300]).map(plus(150)), 'degraded', 'against-controls'],
    // The limit of asking both scores: an agent slower than its controls, 40 % slower still, while the
    // machine adds 150 ms to everyone, has a falling ratio. A busy machine errs towards no rollback; the
    // next window, on a quieter machine, judges it again.
    ['a slow agent 40 % slower, the machine adding 150 ms to every answer: not this window', ticks(20, 200, controls), ticks(20, 280, controls).map(plus(150)), 'not-degraded', 'against-controls'],
    ['agent 50 % slower, but 5 ms in all: under the 50 ms floor', ticks(20, 10, controls), ticks(20, 15, controls), 'not-degraded', 'against-controls'],
    ['7 window samples: too few for a verdict', baseline, ticks(7, 400, controls), 'insufficient', 'against-controls'],
    ['no control on the machine: judged against its own baseline', ticks(20, 200, []), ticks(20, 260, []), 'degraded', 'against-own-baseline'],
    // Without controls a busy machine cannot be told from a bad change: the verdict says which judge it was.
    ['no control, machine 7x slower: the own-baseline judge cannot tell', ticks(20, 200, []), ticks(20, 200, [], () => 7), 'degraded', 'against-own-baseline'],
  ];
  for (const [name, b, w, verdict, method] of cases) {
    it(name, () => {
      const v = judgeDegradation(b, w, s);
      assert.equal(v.verdict, verdict, v.detail);
      assert.equal(v.method, method);
    });
  }

  it('a tick whose controls all failed to answer is left out; too few controlled ticks and the judge falls back, and says so', () => {
    const w = ticks(20, 260, controls);
    w[3] = { agentMs: 260, controlsMs: [Number.NaN, 0] };
    const one = judgeDegradation(baseline, w, s);
    assert.equal(one.method, 'against-controls');
    assert.equal(one.windowTicks, 19);
    const mostly = w.map((t, i) => (i < 13 ? { agentMs: t.agentMs, controlsMs: [] } : t));
    const v = judgeDegradation(baseline, mostly, s);
    assert.equal(v.method, 'against-own-baseline');
    assert.equal(v.windowTicks, 20);
    assert.match(v.detail, /against its own baseline/);
  });

  it('the verdict names the slow-down, the test and the limits', () => {
    const v = judgeDegradation(baseline, ticks(20, 260, controls, () => 3), s);
    if (v.verdict !== 'degraded') return assert.fail(v.detail);
    assert.ok(v.slowdownPct > 25 && v.slowdownPct < 35, String(v.slowdownPct));
    assert.ok(v.p < 0.01);
    assert.match(v.detail, /slower than its baseline median .* against 3 unchanged agent\(s\) on its machine; Mann-Whitney p .* \(ratio\) and .* \(difference\) .*under 0.01 that it is over 0.25 of the limits: 15 %, 50 ms\)/);
  });
});

describe('what a verification window of a plan can catch (plan check)', () => {
  for (const [samples, pct] of [
    [4, 0],
    [7, 0],
    [8, 20.2],
    [11, 20.2],
    [60, 79.3],
    [95, 96.5],
    [96, 99.3],
    [301, 100],
  ] as const) {
    it(`${samples} samples: ${pct} % of quiet windows catch a slow-down at the limit`, () => assert.equal(catchAtLimitPct(samples), pct));
  }

  it('plan check names a rapid window too short to catch its limit, and how long one must be', () => {
    const config = loadConfig(defaultConfigDir);
    const base = { version: 1, id: 'p', title: 'p', decisions: { unsigned: true }, weeks: [{ id: 'w1', title: 'w', steps: [{ id: 's', migrate: { change: 'c1', select: { agents: ['ChitchatAgent'] } } }], gate: { criteria: [] } }] };
    const short = planPreview(planSchema.parse({ ...base, timings: { rapidVerificationMs: 10_000, stageVerificationMs: 120_000 } }), config).judge;
    assert.deepEqual(
      short.map((j) => [j.window, j.samples, j.catchAtLimitPct]),
      [
        ['rapid verification', 11, 20.2],
        ['stage verification', 121, 99.3],
      ],
    );
    assert.match(short[0]!.note, new RegExp(`${samplesFor99PctAtLimit} samples \\(95 s at this interval\\) catch 99 %`));
    const tiny = planPreview(planSchema.parse({ ...base, timings: { rapidVerificationMs: 3000 } }), config).judge[0]!;
    assert.equal(tiny.catchAtLimitPct, 0);
    assert.match(tiny.note, /not judged in this window/);
    const other = planPreview(planSchema.parse({ ...base, thresholds: { degradationAlpha: 0.05 } }), config).judge[0]!;
    assert.equal(other.catchAtLimitPct, null);
  });
});
