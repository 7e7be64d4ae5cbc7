import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { planPreview } from '../plan/preview';
import { formatDuration } from './durations';

/** A human-readable preview of a plan: weeks, each step's summary, a migration's batches with each agent's band and strategy. */
export function previewPlan(plan: Plan, config: Pick<PhasegateConfig, 'inventory' | 'catalogues'> & { deployment?: Pick<PhasegateConfig['deployment'], 'people'> }): string {
  const p = planPreview(plan, config);
  const lines = [`${p.plan}: ${p.title}`];
  for (const w of p.weeks) {
    lines.push(`  ${w.id}: ${w.title} (at most ${formatDuration(w.longestMs)} before its gate)`);
    const weekMs = plan.timings.deadlines?.weekMs;
    if (weekMs !== undefined && w.longestMs > weekMs) lines.push(`    NOTE: its deadline (${formatDuration(weekMs)}) is shorter than the longest it can take: a week that is merely slow will be called stuck`);
    for (const s of w.steps) {
      lines.push(`    ${s.id}: ${s.summary}${s.title ? ` (${s.title})` : ''}`);
      if (s.kind !== 'migrate') continue;
      s.batches.forEach((batch, bi) => {
        lines.push(`      batch ${bi + 1}${bi === 0 && s.pilots > 0 ? ' (pilots)' : ''}:`);
        for (const a of batch) lines.push(`        ${a.agent.padEnd(30)} ${a.machine.padEnd(7)} score ${String(a.score).padStart(4)}  ${a.band.padEnd(8)} ${a.strategy}`);
      });
    }
    const deciders = plan.weeks.find((pw) => pw.id === w.id)?.gate.deciders;
    lines.push(`    gate: ${w.gate.join(', ') || 'a human decides'}`);
    lines.push(`    decided by: ${decidedBy(deciders, plan.decisions.unsigned, config.deployment?.people)}`);
  }
  lines.push(`longest it can take, gates aside: ${formatDuration(p.longestMs)}`);
  lines.push(`critical-band stages approved by: ${decidedBy(plan.decisions.stageApprovers, plan.decisions.unsigned, config.deployment?.people)}`);
  const d = plan.timings.deadlines;
  if (d) {
    const parts = [d.stepMs !== undefined && `a step ${formatDuration(d.stepMs)} past its planned time`, d.stageMs !== undefined && `a stage ${formatDuration(d.stageMs)} past its planned time`, d.weekMs !== undefined && `a week ${formatDuration(d.weekMs)} before its gate`].filter(Boolean);
    lines.push(`deadlines: ${parts.join('; ')}; then ${d.onPassed === 'rollback' ? 'roll back' : 'pause'} (docs/plans.md)`);
  } else lines.push('deadlines: none (stuck work is not called out; see docs/plans.md)');
  lines.push('degradation judge (against unchanged agents on the same machine):');
  for (const j of p.judge) lines.push(`  ${j.window} of ${formatDuration(j.ms)}, ${j.samples} samples: ${j.note}`);
  return lines.join('\n');
}

/** Who may decide, as plan/compile.ts resolves it: the names the plan gives, else every person of the deployment (signed), else anyone (a plan that takes unsigned decisions). */
function decidedBy(named: readonly string[] | undefined, unsigned: boolean, people: ReadonlyArray<{ name: string }> | undefined): string {
  if (named) return `${named.join(', ')} (${unsigned ? 'names only: unsigned decisions allowed' : 'signed decisions only'})`;
  if (unsigned) return 'anyone who can reach Temporal (unsigned decisions allowed and no deciders named: a local demo)';
  return `any of the deployment's people, signed (${people?.length ? people.map((p) => p.name).join(', ') : 'deployment.json lists nobody yet'})`;
}
