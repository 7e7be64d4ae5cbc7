import type { Inventory } from '../config/schema/inventory';
import type { Plan } from '../config/schema/plan';
import type { PhaseInput } from '../workflows/phase';
import { ofKind } from './steps';

export { validationFleet, validationInput, type ValidationSettings } from './steps/validate';

/**
 * A plan compiled into the phase workflow's input: each step by its kind (plan/steps/), e.g.
 * a migrate step's agents selected from the inventory now, a validation's fleet listed. What
 * `phasegate plan input` prints and `start` sends.
 */
export function phaseInput(plan: Plan, inventory: Inventory): PhaseInput {
  return {
    version: 1,
    phase: plan.id,
    title: plan.title,
    settings: { thresholds: plan.thresholds, timings: plan.timings, watchLinks: plan.watchLinks },
    weeks: plan.weeks.map((w) => ({
      id: w.id,
      title: w.title,
      gate: { criteria: w.gate.criteria },
      steps: w.steps.map((s) => ({
        id: s.id,
        ...(s.title ? { title: s.title } : {}),
        ...ofKind(s, (kind, value, name) => ({ [name]: kind.compile(value, { plan: { id: plan.id }, week: w.id, step: s.id, inventory }) })),
      })),
    })),
  };
}
