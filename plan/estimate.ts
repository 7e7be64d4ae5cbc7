import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import type { PhaseInput } from '../workflows/phase';
import { ofKind } from './steps';

/**
 * How long a week can take, gates aside: each step's longest by its kind (plan/steps/): a
 * migration's windows and every catalogue action running to its timeout (the worst case) with
 * its batches and per-machine lanes, an operation's timeout, an observation or validation's
 * duration.
 */
export function longestWeekMs(week: PhaseInput['weeks'][number], plan: Plan, config: Pick<PhasegateConfig, 'catalogues'>): number {
  return week.steps.reduce((total, s) => total + ofKind(s, (kind, value) => kind.longestMs(value, { thresholds: plan.thresholds, timings: plan.timings, catalogues: config.catalogues })), 0);
}
