import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { planBatches } from '../decisions/batches';
import { assessRisk } from '../decisions/risk';
import type { PhaseInput } from '../workflows/phase';

/**
 * How long a week can take, gates aside: each migration's verification and observation
 * windows, plus every catalogue action running to its timeout (the worst case), with the
 * plan's batches and per-machine lanes; observe and validate steps add their durations.
 */
export function longestWeekMs(week: PhaseInput['weeks'][number], plan: Plan, config: Pick<PhasegateConfig, 'catalogues'>): number {
  const t = plan.timings;
  let total = 0;
  for (const s of week.steps) {
    if (s.observe) total += s.observe.durationMs;
    if (s.validate) total += s.validate.durationMs;
    if (s.operation) total += config.catalogues[s.operation.machine]?.operations[s.operation.name]?.run.timeoutMs ?? 0;
    if (!s.migrate) continue;
    const m = s.migrate;
    const perAgent = (a: (typeof m.agents)[number]) => {
      const actions = config.catalogues[a.machine]!.actions;
      const stageActions = actions.backup.timeoutMs + actions['apply-stage'].timeoutMs + actions['verify-marker'].timeoutMs;
      const strategy = assessRisk(a).strategy;
      const windows = strategy === 'rapid' ? t.rapidVerificationMs : 3 * t.stageVerificationMs + (strategy === 'staged' ? 0 : t.observationMs);
      return t.baselineSamples * plan.thresholds.sampleIntervalMs + 3 * stageActions + windows;
    };
    for (const batch of planBatches(m.agents, m.pilots, m.batchSize)) {
      const byMachine = new Map<string, number[]>();
      for (const a of batch) byMachine.set(a.machine, [...(byMachine.get(a.machine) ?? []), perAgent(a)]);
      // Lanes run side by side; each lane's agents run one after another.
      total += Math.max(...[...byMachine.values()].map((d) => Math.ceil(d.length / m.maxConcurrentPerMachine) * Math.max(...d)));
    }
  }
  return total;
}

