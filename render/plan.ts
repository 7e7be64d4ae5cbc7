import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { planPreview } from '../plan/preview';
import { formatDuration } from './durations';

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
      } else if (s.kind === 'operation') lines.push(`    ${s.id}: ${s.operation} on ${s.machine}${s.title ? ` (${s.title})` : ''}`);
      else lines.push(`    ${s.id}: ${s.kind} ${formatDuration(s.durationMs)}`);
    }
    lines.push(`    gate: ${w.gate.join(', ') || 'a human decides'}`);
  }
  lines.push(`longest it can take, gates aside: ${formatDuration(p.longestMs)}`);
  return lines.join('\n');
}
