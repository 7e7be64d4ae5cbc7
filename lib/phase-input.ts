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
                whenAgentBusy: s.migrate.whenAgentBusy,
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

/** What `plan check` shows: weeks, the batches of each migration with every agent's score, band and strategy. */
export interface PlanPreview {
  plan: string;
  title: string;
  /** Longest the phase can take, gates aside. */
  longestMs: number;
  weeks: Array<{
    id: string;
    title: string;
    longestMs: number;
    steps: Array<
      | { id: string; kind: 'migrate'; change: string; pilots: number; batchSize: number; maxConcurrentPerMachine: number; batches: Array<Array<{ agent: string; machine: string; score: number; band: string; strategy: string }>> }
      | { id: string; kind: 'action'; machine: string; operation: string; title?: string }
      | { id: string; kind: 'observe' | 'validate'; durationMs: number }
    >;
    gate: string[];
  }>;
}

export function planPreview(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): PlanPreview {
  const input = phaseInput(plan, config.inventory);
  const weeks: PlanPreview['weeks'] = input.weeks.map((w) => ({
    id: w.id,
    title: w.title,
    longestMs: longestWeekMs(w, plan, config),
    steps: w.steps.map((s): PlanPreview['weeks'][number]['steps'][number] => {
      if (s.migrate) {
        const m = s.migrate;
        return {
          id: s.id,
          kind: 'migrate',
          change: m.change,
          pilots: m.pilots,
          batchSize: m.batchSize,
          maxConcurrentPerMachine: m.maxConcurrentPerMachine,
          batches: planBatches(m.agents, m.pilots, m.batchSize).map((batch) =>
            batch.map((a) => {
              const r = assessRisk(a);
              return { agent: a.name, machine: a.machine, score: r.score, band: r.band, strategy: r.strategy };
            }),
          ),
        };
      }
      if (s.action) return { id: s.id, kind: 'action', machine: s.action.machine, operation: s.action.operation, ...(s.title ? { title: s.title } : {}) };
      return { id: s.id, kind: s.observe ? 'observe' : 'validate', durationMs: s.observe?.durationMs ?? s.validate?.durationMs ?? 0 };
    }),
    gate: w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '') + ('machines' in c && c.machines ? ` on ${c.machines.join(', ')}` : '')),
  }));
  return { plan: plan.id, title: plan.title, longestMs: weeks.reduce((a, w) => a + w.longestMs, 0), weeks };
}

/** A human-readable preview of a plan: weeks, batches with each agent's band and strategy. */
export function previewPlan(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): string {
  const p = planPreview(plan, config);
  const lines = [`${p.plan}: ${p.title}`];
  for (const w of p.weeks) {
    lines.push(`  ${w.id}: ${w.title} (at most ${formatDuration(w.longestMs)} before its gate)`);
    for (const s of w.steps) {
      if (s.kind === 'migrate') {
        const agents = s.batches.reduce((n, b) => n + b.length, 0);
        lines.push(`    ${s.id}: migrate "${s.change}" on ${agents} agents in ${s.batches.length} batches (pilots ${s.pilots}, batches of ${s.batchSize}, ${s.maxConcurrentPerMachine} at once per machine)`);
        s.batches.forEach((batch, bi) => {
          lines.push(`      batch ${bi + 1}${bi === 0 && s.pilots > 0 ? ' (pilots)' : ''}:`);
          for (const a of batch) lines.push(`        ${a.agent.padEnd(30)} ${a.machine.padEnd(7)} score ${String(a.score).padStart(4)}  ${a.band.padEnd(8)} ${a.strategy}`);
        });
      } else if (s.kind === 'action') lines.push(`    ${s.id}: ${s.operation} on ${s.machine}${s.title ? ` (${s.title})` : ''}`);
      else lines.push(`    ${s.id}: ${s.kind} ${formatDuration(s.durationMs)}`);
    }
    lines.push(`    gate: ${w.gate.join(', ') || 'a human decides'}`);
  }
  lines.push(`longest it can take, gates aside: ${formatDuration(p.longestMs)}`);
  return lines.join('\n');
}
