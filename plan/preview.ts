import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { planBatches } from '../decisions/batches';
import { assessRisk } from '../decisions/risk';
import { phaseInput } from './compile';
import { longestWeekMs } from './estimate';

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
      | { id: string; kind: 'operation'; machine: string; operation: string; title?: string }
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
      if (s.operation) return { id: s.id, kind: 'operation', machine: s.operation.machine, operation: s.operation.name, ...(s.title ? { title: s.title } : {}) };
      return { id: s.id, kind: s.observe ? 'observe' : 'validate', durationMs: s.observe?.durationMs ?? s.validate?.durationMs ?? 0 };
    }),
    gate: w.gate.criteria.map((c) => c.kind + ('count' in c ? ` ${c.count}` : '') + ('percent' in c ? ` ${c.percent} %` : '') + ('machines' in c && c.machines ? ` on ${c.machines.join(', ')}` : '')),
  }));
  return { plan: plan.id, title: plan.title, longestMs: weeks.reduce((a, w) => a + w.longestMs, 0), weeks };
}

