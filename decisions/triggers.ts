/**
 * Judging probe readings: measurements in, a verdict out. Pure and deterministic so it can be
 * table-tested and run inside activities or workflows alike. A probe that could not measure
 * ("no data", a timeout of the probe itself) is never a failed measurement: it is counted
 * apart, with its own limit, and makes a window inconclusive rather than failed.
 */

import type { Tick } from './judge';

export type Metric = 'gpuMemoryPct' | 'load' | 'loadPerCore' | 'responseTimeMs' | 'integration' | 'agentUp' | 'query';

export type Reading =
  | { metric: Metric; status: 'measured'; value: number; detail?: string; probe?: string }
  | { metric: Metric; status: 'no-data'; detail: string; probe?: string }
  | { metric: Metric; status: 'not-applicable'; detail: string; probe?: string };

export type TriggerKind =
  | 'gpu-memory'
  | 'system-load'
  | 'response-time'
  | 'degradation'
  | 'integration-failure'
  | 'agent-down'
  | 'prometheus-query';

/** Why a rollback fired: what was measured against which threshold. */
export interface TriggerEvidence {
  kind: TriggerKind;
  measured: number;
  threshold: number;
  unit: string;
  detail: string;
}

export interface TriggerThresholds {
  gpuMemoryPct: number;
  /** The machine's 1-minute load average. */
  load: number;
  /** The same per core; checked only when a plan sets it. */
  loadPerCore?: number;
  /** The plan's PromQL queries (config/schema/plan.ts): a result over `above` fires. */
  queries?: ReadonlyArray<{ name: string; query: string; above: number }>;
  responseTimeMs: number;
  degradationPct: number;
  /** Degradation is ignored below this absolute slow-down; loopback latencies of 1-2 ms are noise. */
  degradationMinDeltaMs: number;
  /** The degradation judge's significance level and the samples it needs (decisions/judge.ts). */
  degradationAlpha: number;
  degradationMinSamples: number;
  escalationSigma: number;
  consecutiveBreaches: number;
  maxConsecutiveProbeErrors: number;
}

export interface Baseline {
  responseP50Ms: number;
  responseP95Ms: number;
  responseStdDevMs: number;
  gpuMemoryPct: number | null;
  load: number;
  /** The baseline's ticks (the agent's response time and its controls' in the same tick), for the degradation judge. */
  ticks?: Tick[];
  /** The unchanged agents probed beside it (decisions/controls.ts). */
  controls?: string[];
}

/** Running counters carried from one sample to the next within a window. */
export interface EvaluationState {
  breaches: Partial<Record<TriggerKind, number>>;
  consecutiveProbeErrors: number;
  probeErrors: number;
  samples: number;
  /** The latest response times (for the status; degradation is decisions/judge.ts over the whole window). */
  recentResponseMs: number[];
}

export const initialEvaluationState = (): EvaluationState => ({
  breaches: {},
  consecutiveProbeErrors: 0,
  probeErrors: 0,
  samples: 0,
  recentResponseMs: [],
});

export type SampleVerdict =
  | { verdict: 'pass'; escalations: TriggerEvidence[] }
  | { verdict: 'fail'; trigger: TriggerEvidence; escalations: TriggerEvidence[] }
  | { verdict: 'inconclusive'; reason: string; escalations: TriggerEvidence[] };

const recentWindow = 5;

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function stdDev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Candidate triggers of one sample, before the consecutive-breach rule is applied. */
function breachesOf(readings: readonly Reading[], t: TriggerThresholds): TriggerEvidence[] {
  const out: TriggerEvidence[] = [];
  for (const r of readings) {
    if (r.status !== 'measured') continue;
    switch (r.metric) {
      case 'agentUp':
        if (r.value === 0) out.push({ kind: 'agent-down', measured: 0, threshold: 1, unit: 'up', detail: r.detail ?? 'agent health endpoint is down' });
        break;
      case 'integration':
        if (r.value === 0) out.push({ kind: 'integration-failure', measured: 0, threshold: 1, unit: 'pass', detail: r.detail ?? 'integration check failed' });
        break;
      case 'gpuMemoryPct':
        if (r.value > t.gpuMemoryPct) out.push({ kind: 'gpu-memory', measured: round(r.value), threshold: t.gpuMemoryPct, unit: '%', detail: `GPU memory ${round(r.value)} % used, over ${t.gpuMemoryPct} %${r.detail ? ` (${r.detail})` : ''}` });
        break;
      case 'load':
        if (r.value > t.load) out.push({ kind: 'system-load', measured: round(r.value, 2), threshold: t.load, unit: 'load', detail: `1-minute load average ${round(r.value, 2)}, over ${t.load}` });
        break;
      case 'query': {
        const q = t.queries?.find((x) => x.name === r.probe);
        if (q && r.value > q.above) out.push({ kind: 'prometheus-query', measured: round(r.value, 4), threshold: q.above, unit: q.name, detail: `query ${q.name} = ${round(r.value, 4)}, over ${q.above} (${r.detail ?? q.query})` });
        break;
      }
      case 'loadPerCore':
        if (t.loadPerCore !== undefined && r.value > t.loadPerCore) {
          out.push({ kind: 'system-load', measured: round(r.value, 2), threshold: t.loadPerCore, unit: 'load per core', detail: `${r.detail ?? '1-minute load average per core'}: ${round(r.value, 2)} per core, over ${t.loadPerCore}` });
        }
        break;
      case 'responseTimeMs':
        // Slower than its baseline but under the threshold is degradation, judged over the
        // whole window against unchanged agents by decisions/judge.ts, not sample by sample.
        if (r.value > t.responseTimeMs) out.push({ kind: 'response-time', measured: Math.round(r.value), threshold: t.responseTimeMs, unit: 'ms', detail: `response time ${Math.round(r.value)} ms, over ${t.responseTimeMs} ms` });
        break;
    }
  }
  return out;
}

/** Phase 2's statistical escalation: far from the baseline, worth a human's look, not a rollback. */
function escalationsOf(readings: readonly Reading[], baseline: Baseline | null, t: TriggerThresholds): TriggerEvidence[] {
  if (!baseline) return [];
  const out: TriggerEvidence[] = [];
  for (const r of readings) {
    if (r.status !== 'measured' || r.metric !== 'responseTimeMs') continue;
    const sd = Math.max(baseline.responseStdDevMs, 1);
    const sigmas = (r.value - baseline.responseP50Ms) / sd;
    if (sigmas > t.escalationSigma && r.value - baseline.responseP50Ms >= t.degradationMinDeltaMs) {
      out.push({ kind: 'degradation', measured: round(sigmas), threshold: t.escalationSigma, unit: 'sigma', detail: `response ${Math.round(r.value)} ms is ${round(sigmas)} standard deviations above the baseline` });
    }
  }
  return out;
}

/** Judges one sample. Returns the new counters and the verdict; never throws. */
export function evaluateSample(
  readings: readonly Reading[],
  baseline: Baseline | null,
  t: TriggerThresholds,
  prev: EvaluationState,
): { state: EvaluationState; result: SampleVerdict } {
  const errors = readings.filter((r) => r.status === 'no-data');
  const measured = readings.filter((r) => r.status === 'measured');
  const response = measured.find((r) => r.metric === 'responseTimeMs');
  const recentResponseMs = response && response.status === 'measured' ? [...prev.recentResponseMs, response.value].slice(-recentWindow) : prev.recentResponseMs;
  const breaches = breachesOf(readings, t);
  const escalations = escalationsOf(readings, baseline, t);
  const breachCounts: Partial<Record<TriggerKind, number>> = {};
  for (const b of breaches) breachCounts[b.kind] = (prev.breaches[b.kind] ?? 0) + 1;
  const consecutiveProbeErrors = errors.length > 0 ? prev.consecutiveProbeErrors + 1 : 0;
  const state: EvaluationState = {
    breaches: breachCounts,
    consecutiveProbeErrors,
    probeErrors: prev.probeErrors + errors.length,
    samples: prev.samples + 1,
    recentResponseMs,
  };
  const fired = breaches.find((b) => (breachCounts[b.kind] ?? 0) >= t.consecutiveBreaches);
  if (fired) return { state, result: { verdict: 'fail', trigger: fired, escalations } };
  if (consecutiveProbeErrors >= t.maxConsecutiveProbeErrors) {
    return {
      state,
      result: {
        verdict: 'inconclusive',
        reason: `${consecutiveProbeErrors} samples in a row had probe errors (${errors.map((e) => `${e.metric}: ${e.detail}`).join('; ')})`,
        escalations,
      },
    };
  }
  return { state, result: { verdict: 'pass', escalations } };
}

/** Summarises baseline samples of response time (ms), GPU memory (%) and load. */
export function computeBaseline(responseMs: readonly number[], gpuPct: readonly number[], loads: readonly number[]): Baseline {
  return {
    responseP50Ms: round(median(responseMs), 2),
    responseP95Ms: round(percentile(responseMs, 95), 2),
    responseStdDevMs: round(stdDev(responseMs), 2),
    gpuMemoryPct: gpuPct.length ? round(median(gpuPct), 1) : null,
    load: round(median(loads), 2),
  };
}
