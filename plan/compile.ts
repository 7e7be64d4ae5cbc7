import type { Inventory } from '../config/schema/inventory';
import { chooseControls } from '../decisions/controls';
import type { Plan } from '../config/schema/plan';
import type { DeployCalendar } from '../decisions/calendar';
import { unsignablePlan, type Signer } from '../decisions/signatures';
import type { PhaseInput } from '../workflows/phase';
import { ofKind } from './steps';

export { validationFleet, validationInput, type ValidationSettings } from './steps/validate';

/**
 * A plan compiled into the phase workflow's input: each step by its kind (plan/steps/), e.g.
 * a migrate step's agents selected from the inventory now, a validation's fleet listed. What
 * `phasegate plan input` prints and `start` sends.
 */
export function phaseInput(plan: Plan, inventory: Inventory, deployment: { people?: readonly Signer[]; calendar?: DeployCalendar } = {}): PhaseInput {
  const people = deployment.people ?? [];
  const signers = (names: readonly string[], field: string): Signer[] =>
    names.map((n, i) => {
      const p = people.find((x) => x.name === n);
      if (!p) throw new Error(`${field}[${i}]: "${n}" is not among the deployment's people (deployment.json "people"), so there is no key to check their decisions with`);
      return { name: p.name, publicKey: p.publicKey };
    });
  const decisions = plan.decisions;
  // Signed by default: where the plan names nobody, any of the deployment's people may decide,
  // each with their own key; only a plan that says `decisions.unsigned` takes anyone's word.
  const everyone = (field: string): Signer[] => {
    if (people.length === 0) throw new Error(`${field}: ${unsignablePlan()}`);
    return people.map((p) => ({ name: p.name, publicKey: p.publicKey }));
  };
  const stageApprovers = decisions.stageApprovers ? signers(decisions.stageApprovers, 'decisions.stageApprovers') : decisions.unsigned ? undefined : everyone('decisions');
  return {
    version: 1,
    phase: plan.id,
    title: plan.title,
    settings: {
      thresholds: plan.thresholds,
      timings: plan.timings,
      watchLinks: plan.watchLinks,
      history: plan.history,
      ...(deployment.calendar ? { calendar: deployment.calendar } : {}),
      decisions: { unsigned: decisions.unsigned, ...(stageApprovers ? { stageApprovers } : {}) },
    },
    weeks: plan.weeks.map((w, wi) => ({
      id: w.id,
      title: w.title,
      gate: {
        criteria: w.gate.criteria,
        ...(w.gate.autoPromote ? { autoPromote: w.gate.autoPromote } : {}),
        ...(w.gate.deadlineMs !== undefined ? { deadlineMs: w.gate.deadlineMs } : {}),
        ...(w.gate.deciders ? { deciders: signers(w.gate.deciders, `weeks[${wi}].gate.deciders`) } : decisions.unsigned ? {} : { deciders: everyone(`weeks[${wi}].gate`) }),
      },
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
