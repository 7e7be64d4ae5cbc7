import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { closestControls } from '../decisions/controls';
import { defaultJudgeSettings, judgeDegradation, mannWhitneyGreater, medianOf, type JudgeSettings, type Tick } from '../decisions/judge';
import { projectRoot } from '../lib/paths';
import { benchMachine, writeBenchJson } from './report';

/**
 * The degradation judge on synthetic machines: how often it rolls back an agent that did not
 * change (the busy machine's false alarm), how often it catches a real 15 % and 30 % slow-down,
 * and what one judgement costs; next to the rule it replaced (median of the latest 5 samples
 * against the baseline median) and to the judge without controls.
 *
 * A machine runs the agent and 3 unchanged controls. Each window draws the agents' base
 * latencies and a contention scenario; every tick multiplies each agent's base by its own
 * jitter and by the machine's factor m, then adds the machine's delay a, the same m and a for
 * every agent in that tick (the machine is shared). The baseline is always taken on a quiet
 * machine and the window under the scenario: the old rule's failure mode is exactly a baseline
 * taken at a quiet hour and a window at a busy one.
 *
 * Every figure comes from a seeded generator (mulberry32, Box-Muller), one stream per table
 * cell, so a run is reproducible and a cell does not change when another's count does.
 *
 * node dist/bench/judge.js [--seed N] [--windows N] [--power-windows N] [--long-windows N] [--staged-migrations N]
 *                           [--alpha X] [--floor-share X] [--candidates N]
 *   --windows            windows per scenario for the false-rollback rows (default 10000)
 *   --power-windows      windows per cell of the detection tables (default 2000)
 *   --long-windows       windows per cell of the long quiet windows, 80..256 ticks (default 1000)
 *   --staged-migrations  staged migrations (3 verification windows each) per cell (default 1000)
 *   --alpha, --floor-share  the judge's settings (defaults: defaultJudgeSettings)
 *   --candidates         candidate controls per machine, of which the judge uses the 3 closest in speed (default 6)
 */

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
};
const seed = arg('--seed', 20261202) >>> 0;
const falseWindows = arg('--windows', 10000);
const powerWindows = arg('--power-windows', 2000);
const longWindows = arg('--long-windows', 1000);
const stagedMigrations = arg('--staged-migrations', 1000);
const settings: JudgeSettings = {
  ...defaultJudgeSettings,
  ...(process.argv.includes('--alpha') ? { alpha: arg('--alpha', defaultJudgeSettings.alpha) } : {}),
  ...(process.argv.includes('--floor-share') ? { floorShare: arg('--floor-share', defaultJudgeSettings.floorShare) } : {}),
};
/** Candidate controls on the machine; the judge uses the maxControls closest in speed to the agent (decisions/controls.ts). */
const candidates = Math.round(arg('--candidates', 6));

// ---------------------------------------------------------------------------------------
// Random numbers

interface Rng {
  uniform(): number;
  normal(): number;
}

/** mulberry32: tiny, fast, and good enough for Monte Carlo at these counts; Box-Muller for normals. */
function rngFor(cell: number): Rng {
  // Each cell gets its own stream: the seed mixed with the cell's number by a golden-ratio step.
  let state = (seed ^ Math.imul(cell + 1, 0x9e3779b1)) >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  const normal = () => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    // 1 - u keeps the logarithm away from 0.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
  return { uniform, normal };
}

const logUniform = (rng: Rng, lo: number, hi: number) => Math.exp(Math.log(lo) + rng.uniform() * (Math.log(hi) - Math.log(lo)));

// ---------------------------------------------------------------------------------------
// The machine

type Scenario = 'quiet' | 'multiplicative' | 'additive' | 'mixed';
const scenarios: readonly Scenario[] = ['quiet', 'multiplicative', 'additive', 'mixed'];

const jitterSigma = 0.1;
const outlierShare = 0.02;
const outlierFactor = 3;
/** Tick-to-tick spread of the machine's factor around its window level: contention comes and goes. */
const contentionSigma = 0.3;

interface Contention {
  /** Whether the machine slows every answer by a factor, and its window level (1 when not). */
  multiplicative: boolean;
  level: number;
  /** Window-level mean of the added delay in ms (0 when the scenario has none). */
  addMeanMs: number;
}

function drawContention(rng: Rng, scenario: Scenario): Contention {
  const mult = scenario === 'multiplicative' || scenario === 'mixed';
  const add = scenario === 'additive' || scenario === 'mixed';
  return { multiplicative: mult, level: mult ? logUniform(rng, 1, 8) : 1, addMeanMs: add ? logUniform(rng, 5, 300) : 0 };
}

const quiet: Contention = { multiplicative: false, level: 1, addMeanMs: 0 };

/** Each agent's own noise: lognormal, and now and then an answer three times as slow (a GC pause, a retry). */
const jitter = (rng: Rng) => Math.exp(jitterSigma * rng.normal()) * (rng.uniform() < outlierShare ? outlierFactor : 1);

interface Machine {
  agentBaseMs: number;
  controlBasesMs: number[];
}

/**
 * The machine as the worker sees it: the agent and its candidate controls, of which the judge
 * gets the three closest in speed (the worker chooses them from its baseline medians; here
 * the true speeds, which a 20-tick baseline estimates to within a few per cent).
 */
function machineOf(agentBaseMs: number, candidateBasesMs: number[]): Machine {
  const chosen = closestControls(agentBaseMs, candidateBasesMs.map((medianMs, i) => ({ name: String(i), medianMs })));
  return { agentBaseMs, controlBasesMs: chosen.map((i) => candidateBasesMs[Number(i)]!) };
}

function ticks(rng: Rng, machine: Machine, n: number, c: Contention, agentFactor: number): Tick[] {
  const out: Tick[] = [];
  for (let i = 0; i < n; i++) {
    // One factor and one added delay per tick, the same for every agent: the machine is shared.
    const m = c.multiplicative ? c.level * Math.exp(contentionSigma * rng.normal()) : 1;
    const a = c.addMeanMs > 0 ? -c.addMeanMs * Math.log(1 - rng.uniform()) : 0;
    out.push({
      agentMs: machine.agentBaseMs * agentFactor * jitter(rng) * m + a,
      controlsMs: machine.controlBasesMs.map((base) => base * jitter(rng) * m + a),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The three rules

/**
 * The rule the judge replaced, as it ran during a verification window: after every sample from
 * the 3rd on, the median of the latest 5 agent samples against the baseline median; a rollback
 * on the first sample where it is more than degradationPct AND at least degradationMinDeltaMs
 * over. It never looks at the other agents on the machine.
 */
function oldRuleFires(baseline: readonly Tick[], window: readonly Tick[], s: JudgeSettings): boolean {
  const p50 = medianOf(baseline.map((t) => t.agentMs));
  const agent = window.map((t) => t.agentMs);
  for (let i = 2; i < agent.length; i++) {
    const current = medianOf(agent.slice(Math.max(0, i - 4), i + 1));
    const delta = current - p50;
    const pct = p50 > 0 ? (delta / p50) * 100 : 0;
    if (delta >= s.degradationMinDeltaMs && pct > s.degradationPct) return true;
  }
  return false;
}

const withoutControls = (ts: readonly Tick[]): Tick[] => ts.map((t) => ({ agentMs: t.agentMs, controlsMs: [] }));

interface Verdicts {
  controls: boolean;
  own: boolean;
  old: boolean;
}

/**
 * The three verdicts on one window. `withOwn` false skips the judge without controls (it then
 * counts as not rolled back): on a busy window against a quiet baseline it rolls back whether or
 * not anything changed (the false-rollback rows show it), so its detection figures there say
 * nothing, and it is half the cost of a detection cell.
 */
function judgeAll(baseline: readonly Tick[], window: readonly Tick[], withOwn = true): Verdicts {
  const v = judgeDegradation(baseline, window, settings);
  if (v.method !== 'against-controls' || v.verdict === 'insufficient') throw new Error(`unexpected verdict: ${v.detail}`);
  let own = false;
  if (withOwn) {
    const o = judgeDegradation(withoutControls(baseline), withoutControls(window), settings);
    if (o.method !== 'against-own-baseline' || o.verdict === 'insufficient') throw new Error(`unexpected verdict: ${o.detail}`);
    own = o.verdict === 'degraded';
  }
  return { controls: v.verdict === 'degraded', own, old: oldRuleFires(baseline, window, settings) };
}

// ---------------------------------------------------------------------------------------
// Statistics of the figures

/**
 * One-sided 95 % upper bound of a rate after k events in n trials (Clopper-Pearson: the p at
 * which k or fewer events have 5 % probability). At k = 0 it is 1 - 0.05^(1/n), the rule of
 * three's 3/n to two digits.
 */
function upper95(k: number, n: number): number {
  if (k >= n) return 1;
  const lgamma = (x: number): number => {
    // Lanczos approximation (g = 7, 9 terms), good to ~1e-13 for x > 0.
    const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
    const xx = x - 1;
    let a = g[0]!;
    const t = xx + 7.5;
    for (let i = 1; i < 9; i++) a += g[i]! / (xx + i);
    return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
  };
  const cdf = (p: number) => {
    let sum = 0;
    for (let i = 0; i <= k; i++) sum += Math.exp(lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p));
    return sum;
  };
  let lo = k / n;
  let hi = 1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > 0.05) lo = mid;
    else hi = mid;
  }
  return hi;
}

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)} %`;

// ---------------------------------------------------------------------------------------
// 1. False rollbacks: nothing changed

interface FalseRow {
  scenario: Scenario;
  windows: number;
  rollbacks: Record<keyof Verdicts, number>;
}

function falseRollbacks(): FalseRow[] {
  const rows: FalseRow[] = [];
  scenarios.forEach((scenario, si) => {
    const rng = rngFor(1000 + si);
    const count = { controls: 0, own: 0, old: 0 };
    for (let w = 0; w < falseWindows; w++) {
      // Any agent from a 20 ms health check to an 800 ms model call, next to any six candidate controls.
      const machine = machineOf(logUniform(rng, 20, 800), Array.from({ length: candidates }, () => logUniform(rng, 20, 800)));
      const baseline = ticks(rng, machine, 20, quiet, 1);
      const window = ticks(rng, machine, 30, drawContention(rng, scenario), 1);
      const v = judgeAll(baseline, window);
      if (v.controls) count.controls++;
      if (v.own) count.own++;
      if (v.old) count.old++;
    }
    rows.push({ scenario, windows: falseWindows, rollbacks: count });
  });
  return rows;
}

// ---------------------------------------------------------------------------------------
// 2. Detection: the agent alone is slower by 15 % or 30 %

const windowSizes = [8, 12, 16, 24, 32, 48, 64];
const slowdowns = [1.15, 1.3];

interface PowerCell {
  scenario: Scenario;
  slowdownPct: number;
  n: number;
  baselineTicks: number;
  windows: number;
  caught: Record<keyof Verdicts, number>;
}

/** Per-window detail of one cell, to show where the judge misses under an added delay. */
interface MissDetail {
  agentOverControls: number;
  addMeanMs: number;
  caught: boolean;
}

function detectionCell(cellId: number, scenario: Scenario, factor: number, n: number, windows: number, withOwn: boolean, detail?: MissDetail[]): PowerCell {
  const rng = rngFor(cellId);
  // A baseline no shorter than the window: with 20 baseline ticks the test's power is capped by the baseline, however long the window.
  const baselineTicks = Math.max(n, 20);
  const caught = { controls: 0, own: 0, old: 0 };
  for (let w = 0; w < windows; w++) {
    // Agents slow enough that 15 % of them is over the 50 ms floor (400 ms: 60 ms).
    const machine = machineOf(logUniform(rng, 400, 2000), Array.from({ length: candidates }, () => logUniform(rng, 20, 800)));
    const baseline = ticks(rng, machine, baselineTicks, quiet, 1);
    const contention = drawContention(rng, scenario);
    const window = ticks(rng, machine, n, contention, factor);
    const v = judgeAll(baseline, window, withOwn);
    if (v.controls) caught.controls++;
    if (v.own) caught.own++;
    if (v.old) caught.old++;
    detail?.push({ agentOverControls: machine.agentBaseMs / medianOf(machine.controlBasesMs), addMeanMs: contention.addMeanMs, caught: v.controls });
  }
  return { scenario, slowdownPct: Math.round((factor - 1) * 100), n, baselineTicks, windows, caught };
}

function detection(): { cells: PowerCell[]; additiveDetail: MissDetail[] } {
  const cells: PowerCell[] = [];
  const additiveDetail: MissDetail[] = [];
  let cell = 0;
  for (const factor of slowdowns) {
    for (const scenario of scenarios) {
      for (const n of windowSizes) {
        const detail = scenario === 'additive' && factor === 1.3 && n === 64 ? additiveDetail : undefined;
        cells.push(detectionCell(2000 + cell++, scenario, factor, n, powerWindows, scenario === 'quiet', detail));
      }
    }
  }
  return { cells, additiveDetail };
}

/** Beyond the table: how long a quiet window (and as long a baseline) the judge needs to catch the 15 % limit itself. */
const longWindowSizes = [80, 96, 128, 192, 256];
const longDetection = () => longWindowSizes.map((n) => detectionCell(2500 + n, 'quiet', 1.15, n, longWindows, false));

// ---------------------------------------------------------------------------------------
// 2b. Detection by a staged migration: three verification windows against one baseline

const stagedSizes = [16, 32, 48, 64, 96];
const stagedScenarios: readonly Scenario[] = ['quiet', 'multiplicative'];
/** Verification windows of a staged migration: one after each of its three stages (docs/domain.md). */
const stagedWindows = 3;

interface StagedCell {
  scenario: Scenario;
  slowdownPct: number;
  n: number;
  baselineTicks: number;
  migrations: number;
  /** Migrations where at least one verification window was judged degraded (the migration rolls back). */
  caught: number;
  /** Windows judged degraded, of migrations x 3. */
  windowsCaught: number;
  /** Migrations whose agent is faster than the median of its controls (bases), and of those caught. */
  agentFaster: number;
  agentFasterCaught: number;
}

/**
 * A staged migration whose change slows the agent from stage 1 on: one quiet baseline of
 * max(n, 20) ticks, then three windows of n ticks, each under its own draw of the scenario (the
 * stages run minutes apart) and each judged against that same baseline. All three are judged,
 * so the per-window rate of the same draws comes out too; the migration catches the slow-down
 * when any of them is degraded (the real one stops at the first).
 */
function stagedCell(cellId: number, scenario: Scenario, factor: number, n: number, migrations: number): StagedCell {
  const rng = rngFor(cellId);
  const baselineTicks = Math.max(n, 20);
  let caught = 0;
  let windowsCaught = 0;
  let agentFaster = 0;
  let agentFasterCaught = 0;
  for (let m = 0; m < migrations; m++) {
    const machine = machineOf(logUniform(rng, 400, 2000), Array.from({ length: candidates }, () => logUniform(rng, 20, 800)));
    const baseline = ticks(rng, machine, baselineTicks, quiet, 1);
    let any = false;
    for (let stage = 0; stage < stagedWindows; stage++) {
      const window = ticks(rng, machine, n, drawContention(rng, scenario), factor);
      const v = judgeDegradation(baseline, window, settings);
      if (v.method !== 'against-controls' || v.verdict === 'insufficient') throw new Error(`unexpected verdict: ${v.detail}`);
      if (v.verdict === 'degraded') {
        any = true;
        windowsCaught++;
      }
    }
    if (any) caught++;
    if (machine.agentBaseMs < medianOf(machine.controlBasesMs)) {
      agentFaster++;
      if (any) agentFasterCaught++;
    }
  }
  return { scenario, slowdownPct: Math.round((factor - 1) * 100), n, baselineTicks, migrations, caught, windowsCaught, agentFaster, agentFasterCaught };
}

const stagedDetection = () => stagedScenarios.flatMap((scenario, si) => stagedSizes.map((n, i) => stagedCell(2900 + 10 * si + i, scenario, 1.15, n, stagedMigrations)));

// ---------------------------------------------------------------------------------------
// 3. Cost of one judgement

interface Cost {
  windowTicks: number;
  baselineTicks: number;
  reps: number;
  medianUs: number;
  p95Us: number;
  /** The two Mann-Whitney tests alone, on the same scores: the part of the judgement that decides. */
  testsMedianUs: number;
}

function timeUs(reps: number, fn: () => unknown): number[] {
  // Warm the JIT (and the exact-distribution cache) first; fewer rounds for the costly sizes.
  for (let i = 0; i < Math.min(reps, 50); i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) * 1000);
  }
  return times.sort((a, b) => a - b);
}

function runtime(windowTicks: number, baselineTicks: number, reps: number): Cost {
  const rng = rngFor(3000 + windowTicks + baselineTicks);
  const machine: Machine = { agentBaseMs: 200, controlBasesMs: [40, 120, 75] };
  const baseline = ticks(rng, machine, baselineTicks, quiet, 1);
  const window = ticks(rng, machine, windowTicks, drawContention(rng, 'mixed'), 1);
  const times = timeUs(reps, () => judgeDegradation(baseline, window, settings));
  // The scores as the judge computes them (log ratio and difference to the controls' median, less floorShare of the limits in the window).
  const cm = (t: Tick) => medianOf(t.controlsMs);
  const relFloor = Math.log(1 + (settings.degradationPct * settings.floorShare) / 100);
  const tests = timeUs(reps, () => {
    mannWhitneyGreater(window.map((t) => Math.log(t.agentMs / cm(t)) - relFloor), baseline.map((t) => Math.log(t.agentMs / cm(t))));
    mannWhitneyGreater(window.map((t) => t.agentMs - cm(t) - settings.degradationMinDeltaMs * settings.floorShare), baseline.map((t) => t.agentMs - cm(t)));
  });
  const at = (xs: number[], q: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]! * 10) / 10;
  return { windowTicks, baselineTicks, reps, medianUs: at(times, 0.5), p95Us: at(times, 0.95), testsMedianUs: at(tests, 0.5) };
}

// ---------------------------------------------------------------------------------------

function main(): void {
  const started = performance.now();
  const judgeSource = readFileSync(path.join(projectRoot, 'decisions', 'judge.ts'));
  const judgeSha = createHash('sha256').update(judgeSource).digest('hex').slice(0, 12);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`seed ${seed}; settings ${JSON.stringify(settings)}; decisions/judge.ts sha256 ${judgeSha}`);

  const t1 = performance.now();
  const falseRows = falseRollbacks();
  const falseS = (performance.now() - t1) / 1000;
  const total = { windows: 0, controls: 0, own: 0, old: 0 };
  for (const r of falseRows) {
    total.windows += r.windows;
    total.controls += r.rollbacks.controls;
    total.own += r.rollbacks.own;
    total.old += r.rollbacks.old;
  }
  const falseCell = (k: number, n: number) => `${k} / ${n} = ${pct(k / n, 3)} (<= ${pct(upper95(k, n), 3)})`;
  out('');
  out(`### False rollbacks, nothing changed (baseline 20 ticks quiet, window 30 ticks; ${falseS.toFixed(1)} s)`);
  out('');
  out('| window scenario | judge, against controls | judge, own baseline | old rule (median of 5 vs baseline p50) |');
  out('| --- | --- | --- | --- |');
  for (const r of falseRows) out(`| ${r.scenario} | ${falseCell(r.rollbacks.controls, r.windows)} | ${falseCell(r.rollbacks.own, r.windows)} | ${falseCell(r.rollbacks.old, r.windows)} |`);
  out(`| all | ${falseCell(total.controls, total.windows)} | ${falseCell(total.own, total.windows)} | ${falseCell(total.old, total.windows)} |`);

  const t2 = performance.now();
  const { cells, additiveDetail } = detection();
  const long = longDetection();
  const powerS = (performance.now() - t2) / 1000;
  const smallest: Record<string, number | null> = {};
  for (const slow of slowdowns.map((f) => Math.round((f - 1) * 100))) {
    out('');
    out(`### Caught: the agent alone ${slow} % slower (agent 400..2000 ms; ${powerWindows} windows per cell; baseline max(n, 20) quiet ticks)`);
    out('');
    out(`| window scenario | judge | ${windowSizes.map((n) => `n ${n}`).join(' | ')} | smallest n at 99 % |`);
    out(`| --- | --- | ${windowSizes.map(() => '---').join(' | ')} | --- |`);
    for (const scenario of scenarios) {
      for (const who of ['controls', 'own', 'old'] as const) {
        if (who === 'own' && scenario !== 'quiet') continue;
        const row = cells.filter((c) => c.scenario === scenario && c.slowdownPct === slow);
        const first = row.find((c) => c.caught[who] / c.windows >= 0.99);
        if (who === 'controls') smallest[`${scenario}/${slow}`] = first?.n ?? null;
        const label = { controls: 'against controls', own: 'own baseline', old: 'old rule' }[who];
        out(`| ${scenario} | ${label} | ${row.map((c) => pct(c.caught[who] / c.windows, 1)).join(' | ')} | ${first ? first.n : `none up to ${windowSizes[windowSizes.length - 1]}`} |`);
      }
    }
  }

  out('');
  out(`### Caught: 15 % slower on a quiet machine, longer windows (baseline as long; ${longWindows} windows per cell)`);
  out('');
  out(`| judge | ${long.map((c) => `n ${c.n}`).join(' | ')} |`);
  out(`| --- | ${long.map(() => '---').join(' | ')} |`);
  out(`| against controls | ${long.map((c) => pct(c.caught.controls / c.windows, 1)).join(' | ')} |`);
  out(`| old rule | ${long.map((c) => pct(c.caught.old / c.windows, 1)).join(' | ')} |`);

  // Where the judge misses under an added delay: by how much slower than its controls the agent
  // is, and by how much delay the machine adds (30 % slow-down, n 64, additive scenario: a cell
  // that the quiet and multiplicative scenarios catch in full, so what is missed here is the delay's doing).
  const ratioBands: Array<[string, number, number]> = [
    ['agent <= 2x its controls', 0, 2],
    ['2x..6x', 2, 6],
    ['> 6x', 6, Infinity],
  ];
  const addBands: Array<[string, number, number]> = [
    ['added 5..20 ms', 0, 20],
    ['20..80 ms', 20, 80],
    ['80..300 ms', 80, Infinity],
  ];
  const detailTable = addBands.map(([addLabel, alo, ahi]) => ({
    added: addLabel,
    cells: ratioBands.map(([ratioLabel, rlo, rhi]) => {
      const inBand = additiveDetail.filter((d) => d.addMeanMs >= alo && d.addMeanMs < ahi && d.agentOverControls >= rlo && d.agentOverControls < rhi);
      return { ratio: ratioLabel, windows: inBand.length, caught: inBand.filter((d) => d.caught).length };
    }),
  }));
  out('');
  out('### Judge against controls, 30 % slower, n 64, additive scenario: caught by band');
  out('');
  out(`| mean added delay | ${ratioBands.map(([l]) => l).join(' | ')} |`);
  out(`| --- | ${ratioBands.map(() => '---').join(' | ')} |`);
  for (const r of detailTable) out(`| ${r.added} | ${r.cells.map((c) => (c.windows ? `${pct(c.caught / c.windows, 0)} (${c.windows})` : '-')).join(' | ')} |`);

  const t4 = performance.now();
  const staged = stagedDetection();
  const stagedS = (performance.now() - t4) / 1000;
  const smallestStaged: Record<string, number | null> = {};
  out('');
  out(`### Caught by a staged migration: the agent alone 15 % slower from stage 1 on (${stagedMigrations} migrations per cell; ${stagedWindows} windows of n ticks, each under its own draw of the scenario, against one quiet baseline of max(n, 20) ticks; ${stagedS.toFixed(1)} s)`);
  out('');
  out(`| window scenario | judge against controls, caught | ${stagedSizes.map((n) => `n ${n}`).join(' | ')} | smallest n at 99 % |`);
  out(`| --- | --- | ${stagedSizes.map(() => '---').join(' | ')} | --- |`);
  for (const scenario of stagedScenarios) {
    const row = staged.filter((c) => c.scenario === scenario);
    const first = row.find((c) => c.caught / c.migrations >= 0.99);
    smallestStaged[`${scenario}/15`] = first?.n ?? null;
    const perWindow = row.map((c) => c.windowsCaught / (c.migrations * stagedWindows));
    out(`| ${scenario} | migration rolled back | ${row.map((c) => pct(c.caught / c.migrations, 1)).join(' | ')} | ${first ? first.n : `none up to ${stagedSizes[stagedSizes.length - 1]}`} |`);
    out(`| ${scenario} | per window, same draws | ${perWindow.map((p) => pct(p, 1)).join(' | ')} | |`);
    out(`| ${scenario} | 1 - (1 - per window)^${stagedWindows}, were the windows independent | ${perWindow.map((p) => pct(1 - (1 - p) ** stagedWindows, 1)).join(' | ')} | |`);
    out(`| ${scenario} | migrations whose agent is faster than its controls (how many) | ${row.map((c) => (c.agentFaster ? `${pct(c.agentFasterCaught / c.agentFaster, 0)} (${c.agentFaster})` : '-')).join(' | ')} | |`);
  }

  const t3 = performance.now();
  const costs = [runtime(30, 20, 2000), runtime(600, 20, 300), runtime(600, 600, 5)];
  const costS = (performance.now() - t3) / 1000;
  out('');
  out(`### Cost of one judgement (one core, ${costS.toFixed(1)} s)`);
  out('');
  out('| window ticks | baseline ticks | judgement, median | p95 | of which the two tests (median) | reps |');
  out('| --- | --- | --- | --- | --- | --- |');
  for (const c of costs) out(`| ${c.windowTicks} | ${c.baselineTicks} | ${c.medianUs} us | ${c.p95Us} us | ${c.testsMedianUs} us | ${c.reps} |`);

  const durationS = Math.round((performance.now() - started) / 100) / 10;
  out('');
  out(`false-rollback rows ${falseS.toFixed(1)} s, detection tables ${powerS.toFixed(1)} s, staged migrations ${stagedS.toFixed(1)} s, cost ${costS.toFixed(1)} s; ${durationS} s in all`);
  const report = {
    benchmark: 'judge',
    at: new Date().toISOString(),
    machine: benchMachine(),
    seed,
    settings,
    judgeSourceSha256: judgeSha,
    model: { jitterSigma, outlierShare, outlierFactor, contentionSigma, candidateControls: candidates, controls: 3, multiplicativeLevel: '1..8 log-uniform', additiveMeanMs: '5..300 log-uniform', falseAgentMs: '20..800', powerAgentMs: '400..2000', controlMs: '20..800' },
    falseRollbacks: { rows: falseRows, total: { ...total, upper95: { controls: upper95(total.controls, total.windows), own: upper95(total.own, total.windows), old: upper95(total.old, total.windows) } } },
    detection: { cells, longQuietSlow15: long, smallestNAt99PctAgainstControls: smallest, additiveDetailN64Slow30: detailTable },
    stagedDetection: { windowsPerMigration: stagedWindows, cells: staged, smallestNAt99Pct: smallestStaged },
    costs,
    timingsS: { falseRollbacks: falseS, detection: powerS, staged: stagedS, cost: costS },
    durationS,
  };
  out(JSON.stringify(report));
  out(`written to ${writeBenchJson('judge', report)}`);
}

main();
