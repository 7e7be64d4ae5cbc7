import type { Inventory } from '../config/schema/inventory';
import { chooseControls } from '../decisions/controls';
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
    settings: { thresholds: plan.thresholds, timings: plan.timings, watchLinks: plan.watchLinks, history: plan.history },
    weeks: plan.weeks.map((w) => ({
      id: w.id,
      title: w.title,
      gate: { criteria: w.gate.criteria, ...(w.gate.autoPromote ? { autoPromote: w.gate.autoPromote } : {}), ...(w.gate.deadlineMs !== undefined ? { deadlineMs: w.gate.deadlineMs } : {}) },
      steps: withControls(
        w.steps.map((s) => ({
          id: s.id,
          ...(s.title ? { title: s.title } : {}),
          ...ofKind(s, (kind, value, name) => ({ [name]: kind.compile(value, { plan: { id: plan.id }, week: w.id, step: s.id, inventory }) })),
        })),
        inventory,
      ),
    })),
  };
}

type CompiledStep = PhaseInput['weeks'][number]['steps'][number];

/** Names each migrated agent's controls: its machine's agents that no step of the week changes (decisions/controls.ts). */
function withControls(steps: CompiledStep[], inventory: Inventory): CompiledStep[] {
  const changed = new Set(steps.flatMap((s) => s.migrate?.agents.map((a) => a.name) ?? []));
  return steps.map((s) =>
    s.migrate
      ? {
          ...s,
          migrate: {
            ...s.migrate,
            agents: s.migrate.agents.map((a) => {
              const controls = chooseControls(a, inventory.agents, changed);
              return controls.length ? { ...a, controls } : a;
            }),
          },
        }
      : s,
  );
}
