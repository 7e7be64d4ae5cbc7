import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { catchAtLimitPct, defaultJudgeSettings, samplesFor99PctAtLimit } from '../decisions/judge';
import { phaseInput } from './compile';
import { longestWeekMs } from './estimate';
import { ofKind, type stepKinds, type StepKindName } from './steps';

/** A step as previewed: its id and kind, and what its kind shows (plan/steps/<kind>.ts preview). */
export type PreviewStep = { [K in StepKindName]: { id: string; kind: K; title?: string } & ReturnType<(typeof stepKinds)[K]['preview']> }[StepKindName];

/** What `plan check` shows: weeks, each step by its kind (a migration's batches with every agent's score, band and strategy). */
export interface PlanPreview {
  plan: string;
  title: string;
  /** Longest the phase can take, gates aside. */
  longestMs: number;
  weeks: Array<{
    id: string;
    title: string;
    longestMs: number;
    steps: PreviewStep[];
    gate: string[];
  }>;
  /** Each kind of verification window: its samples and how often such a window catches a slow-down at the plan's limit (decisions/judge.ts). */
  judge: Array<{ window: string; ms: number; samples: number; catchAtLimitPct: number | null; note: string }>;
}

export function planPreview(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'> & { deployment?: Pick<PhasegateConfig['deployment'], 'people' | 'calendar'> }): PlanPreview {
  const input = phaseInput(plan, config.inventory, config.deployment ?? {});
  const weeks: PlanPreview['weeks'] = input.weeks.map((w) => ({
    id: w.id,
    title: w.title,
    longestMs: longestWeekMs(w, plan, config),
    steps: w.steps.map((s) => ofKind(s, (kind, value, name) => ({ id: s.id, kind: name, ...(s.title ? { title: s.title } : {}), ...kind.preview(value) }) as PreviewStep)),
    gate: w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '') + ('machines' in c && c.machines ? ` on ${c.machines.join(', ')}` : '')),
  }));
  return { plan: plan.id, title: plan.title, longestMs: weeks.reduce((a, w) => a + w.longestMs, 0), weeks, judge: judgePreview(plan) };
}

/**
 * What each verification window can tell: usable samples (its length over the sample interval,
 * one more for the first) and the measured share of such windows that catch an agent exactly as
 * slow as the limit. The figures were measured at the judge's default alpha and minimum
 * samples; with others, they are not shown (bench/judge.ts measures any settings).
 */
function judgePreview(plan: Plan): PlanPreview['judge'] {
  const t = plan.thresholds;
  const defaults = t.degradationAlpha === defaultJudgeSettings.alpha && t.degradationMinSamples === defaultJudgeSettings.minSamples;
  const windows = [
    { window: 'rapid verification', ms: plan.timings.rapidVerificationMs },
    { window: 'stage verification', ms: plan.timings.stageVerificationMs },
  ];
  return windows.map(({ window, ms }) => {
    const samples = Math.floor(ms / t.sampleIntervalMs) + 1;
    if (!defaults) return { window, ms, samples, catchAtLimitPct: null, note: `judge settings other than the defaults: measure with bench/judge.ts` };
    const pct = catchAtLimitPct(samples, t.degradationMinSamples);
    const note =
      samples < t.degradationMinSamples
        ? `fewer than ${t.degradationMinSamples} samples: slow-downs are not judged in this window, only the fixed limits`
        : pct >= 99
          ? `catches a ${t.degradationPct} % slow-down in ${pct} % of quiet windows`
          : `catches a ${t.degradationPct} % slow-down in about ${pct} % of quiet windows; ${samplesFor99PctAtLimit} samples (${Math.ceil(((samplesFor99PctAtLimit - 1) * t.sampleIntervalMs) / 1000)} s at this interval) catch 99 %`;
    return { window, ms, samples, catchAtLimitPct: pct, note };
  });
}
