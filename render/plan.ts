import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { planPreview } from '../plan/preview';
import { formatDuration } from './durations';

/** A human-readable preview of a plan: weeks, each step's summary, a migration's batches with each agent's band and strategy. */
export function previewPlan(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'>): string {
  const p = planPreview(plan, config);
  const lines = [`${p.plan}: ${p.title}`];
  for (const w of p.weeks) {
    lines.push(`  ${w.id}: ${w.title} (at most ${formatDuration(w.longestMs)} before its gate)`);
    for (const s of w.steps) {
      lines.push(`    ${s.id}: ${s.summary}${s.title ? ` (${s.title})` : ''}`);
      if (s.kind !== 'migrate') continue;
      s.batches.forEach((batch, bi) => {
        lines.push(`      batch ${bi + 1}${bi === 0 && s.pilots > 0 ? ' (pilots)' : ''}:`);
        for (const a of batch) lines.push(`        ${a.agent.padEnd(30)} ${a.machine.padEnd(7)} score ${String(a.score).padStart(4)}  ${a.band.padEnd(8)} ${a.strategy}`);
      });
    }
    lines.push(`    gate: ${w.gate.join(', ') || 'a human decides'}`);
  }
  lines.push(`longest it can take, gates aside: ${formatDuration(p.longestMs)}`);
  lines.push('degradation judge (against unchanged agents on the same machine):');
  for (const j of p.judge) lines.push(`  ${j.window} of ${formatDuration(j.ms)}, ${j.samples} samples: ${j.note}`);
  return lines.join('\n');
}
