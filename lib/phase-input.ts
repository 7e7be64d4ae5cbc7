import type { Inventory } from '../config/schema/inventory';
import type { Plan } from '../config/schema/plan';
import { selectAgents } from '../config/select';
import type { PhasegateConfig } from '../config/load';
import { planBatches } from '../decisions/batches';
import { assessRisk } from '../decisions/risk';
import type { PhaseInput } from '../workflows/phase';
import { validationInput } from './validation-input';

/** Turns a validated plan into the phase workflow's input: each migrate step's agents selected now. */
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
        ...(s.action ? { action: s.action } : {}),
        ...(s.observe ? { observe: s.observe } : {}),
        ...(s.validate ? { validate: validationInput(s.validate, inventory, `${plan.id}/${w.id}/${s.id}`, { phase: plan.id, week: w.id }) } : {}),
        ...(s.migrate
          ? {
              migrate: {
                change: s.migrate.change,
                agents: selectAgents(inventory, s.migrate.select).map((a) => ({
                  name: a.name,
                  machine: a.machine,
                  risk: a.risk,
                  ...(a.source?.sizeKb !== undefined ? { source: { sizeKb: a.source.sizeKb } } : {}),
                  ...(a.riskOverride ? { riskOverride: a.riskOverride } : {}),
                })),
                pilots: s.migrate.pilots,
                batchSize: s.migrate.batchSize,
                maxConcurrentPerMachine: s.migrate.maxConcurrentPerMachine,
                failureBudget: s.migrate.failureBudget,
              },
            }
          : {}),
      })),
    })),
  };
}

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
    if (s.action) total += config.catalogues[s.action.machine]?.operations[s.action.operation]?.run.timeoutMs ?? 0;
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

export function formatDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const min = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return h ? `${h} h ${min} min` : min ? `${min} min ${sec} s` : `${sec} s`;
}

/** A human-readable preview of a plan: weeks, batches with each agent's band and strategy. */
export function previewPlan(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): string {
  const inventory = config.inventory;
  const lines = [`${plan.id}: ${plan.title}`];
  const input = phaseInput(plan, inventory);
  let longest = 0;
  for (const w of input.weeks) {
    const weekMs = longestWeekMs(w, plan, config);
    longest += weekMs;
    lines.push(`  ${w.id}: ${w.title} (at most ${formatDuration(weekMs)} before its gate)`);
    for (const s of w.steps) {
      if (s.migrate) {
        const m = s.migrate;
        const batches = planBatches(m.agents, m.pilots, m.batchSize);
        lines.push(`    ${s.id}: migrate "${m.change}" on ${m.agents.length} agents in ${batches.length} batches (pilots ${m.pilots}, batches of ${m.batchSize}, ${m.maxConcurrentPerMachine} at once per machine)`);
        batches.forEach((batch, bi) => {
          lines.push(`      batch ${bi + 1}${bi === 0 && m.pilots > 0 ? ' (pilots)' : ''}:`);
          for (const a of batch) {
            const r = assessRisk(a);
            lines.push(`        ${a.name.padEnd(30)} ${a.machine.padEnd(7)} score ${String(r.score).padStart(4)}  ${r.band.padEnd(8)} ${r.strategy}`);
          }
        });
      } else if (s.action) lines.push(`    ${s.id}: ${s.action.operation} on ${s.action.machine}${s.title ? ` (${s.title})` : ''}`);
      else if (s.observe) lines.push(`    ${s.id}: observe ${formatDuration(s.observe.durationMs)}`);
      else if (s.validate) lines.push(`    ${s.id}: validate ${formatDuration(s.validate.durationMs)}`);
    }
    lines.push(`    gate: ${w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '') + ('machines' in c && c.machines ? ` on ${c.machines.join(', ')}` : '')).join(', ') || 'a human decides'}`);
  }
  lines.push(`longest it can take, gates aside: ${formatDuration(longest)}`);
  return lines.join('\n');
}
