import type { Inventory } from '../config/schema/inventory';
import type { Plan } from '../config/schema/plan';
import { selectAgents } from '../config/select';
import { assessRisk } from '../decisions/risk';
import type { PhaseInput } from '../workflows/phase';

/** Turns a validated plan into the phase workflow's input: each migrate step's agents selected now. */
export function phaseInput(plan: Plan, inventory: Inventory): PhaseInput {
  return {
    version: 1,
    phase: plan.id,
    title: plan.title,
    settings: { thresholds: plan.thresholds, timings: plan.timings },
    weeks: plan.weeks.map((w) => ({
      id: w.id,
      title: w.title,
      gate: { criteria: w.gate.criteria },
      steps: w.steps.map((s) => ({
        id: s.id,
        ...(s.title ? { title: s.title } : {}),
        ...(s.observe ? { observe: s.observe } : {}),
        ...(s.validate ? { validate: s.validate } : {}),
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

/** A human-readable preview of a plan: weeks, batches with each agent's band and strategy. */
export function previewPlan(plan: Plan, inventory: Inventory): string {
  const lines = [`${plan.id}: ${plan.title}`];
  const input = phaseInput(plan, inventory);
  for (const w of input.weeks) {
    lines.push(`  ${w.id}: ${w.title}`);
    for (const s of w.steps) {
      if (s.migrate) {
        const m = s.migrate;
        lines.push(`    ${s.id}: migrate "${m.change}" on ${m.agents.length} agents (pilots ${m.pilots}, batches of ${m.batchSize}, ${m.maxConcurrentPerMachine} at once per machine)`);
        for (const a of m.agents) {
          const r = assessRisk(a);
          lines.push(`      ${a.name.padEnd(30)} ${a.machine.padEnd(7)} score ${String(r.score).padStart(4)}  ${r.band.padEnd(8)} ${r.strategy}`);
        }
      } else if (s.observe) lines.push(`    ${s.id}: observe ${s.observe.durationMs / 1000} s`);
      else if (s.validate) lines.push(`    ${s.id}: validate ${s.validate.durationMs / 3_600_000} h`);
    }
    lines.push(`    gate: ${w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '')).join(', ') || 'a human decides'}`);
  }
  return lines.join('\n');
}
