import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
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
}

export function planPreview(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): PlanPreview {
  const input = phaseInput(plan, config.inventory);
  const weeks: PlanPreview['weeks'] = input.weeks.map((w) => ({
    id: w.id,
    title: w.title,
    longestMs: longestWeekMs(w, plan, config),
    steps: w.steps.map((s) => ofKind(s, (kind, value, name) => ({ id: s.id, kind: name, ...(s.title ? { title: s.title } : {}), ...kind.preview(value) }) as PreviewStep)),
    gate: w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '') + ('machines' in c && c.machines ? ` on ${c.machines.join(', ')}` : '')),
  }));
  return { plan: plan.id, title: plan.title, longestMs: weeks.reduce((a, w) => a + w.longestMs, 0), weeks };
}
