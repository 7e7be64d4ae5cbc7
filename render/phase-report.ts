import type { PhaseStatus } from '../workflows/phase';
import type { WeekStatus } from '../workflows/week';
import type { AutoPromotionStatus } from '../workflows/week/messages';

/** Where a gate's auto-promotion stands, for a person. */
export function autoPromotionLine(a: AutoPromotionStatus): string {
  switch (a.state) {
    case 'baking':
      return `baking; promotes itself at ${a.promotesAt} unless held (veto window from ${a.vetoFrom})`;
    case 'veto-window':
      return `in its veto window: promotes itself at ${a.promotesAt} unless held`;
    case 'promoted':
      return `promoted "go" by the policy at ${a.at}`;
    case 'vetoed':
      return `vetoed: held by ${a.by} at ${a.at}${a.reason ? ` (${a.reason})` : ''}; a person decides`;
    case 'withheld':
      return `withheld (${a.reason}); a person decides`;
    case 'decided-by-person':
      return `not needed: a person decided at ${a.at}`;
  }
}

/** A phase as a Markdown report: each week's agents per machine, rollbacks and why, the gate and who decided it. */
export function renderPhaseReport(id: string, phase: PhaseStatus, weeks: WeekStatus[]): string {
  const lines = [`# Phase ${phase.phase}: ${phase.title}`, '', `Workflow \`${id}\`: ${phase.state}${phase.outcome ? `, **${phase.outcome}**` : ''}${phase.paused ? ` (paused by ${phase.paused.by})` : ''}.`, ''];
  lines.push('| week | title | outcome |', '| --- | --- | --- |', ...phase.weeks.map((w) => `| ${w.id} | ${w.title} | ${w.outcome} |`), '');
  if (phase.rollback) {
    lines.push(
      `Phase rollback (level 3): ${phase.rollback.undone.length} changes undone${phase.rollback.acceptedAsIs?.length ? `, ${phase.rollback.acceptedAsIs.length} accepted as is (${phase.rollback.acceptedAsIs.join(', ')})` : ''}${phase.rollback.durationMs !== undefined ? ` in ${Math.round(phase.rollback.durationMs / 1000)} s (budget ${phase.rollback.budgetMs / 1000} s)` : ', in progress'}.`,
      '',
    );
  }
  if (phase.applied?.some((c) => c.acceptedAsIs)) lines.push(`Still applied after a person accepted a failed undo: ${phase.applied.filter((c) => c.acceptedAsIs).map((c) => (c.kind === 'migration' ? `${c.agent} (${c.change}, stages ${c.stages.join(', ')})` : `${c.machine}/${c.operation}`)).join('; ')}.`, '');
  for (const w of weeks) {
    lines.push(`## ${w.week}: ${w.title}`, '', `State ${w.state}${w.outcome ? `, outcome **${w.outcome}**` : ''}; batches ${w.batches.done} of ${w.batches.total}.`, '');
    const states = [...new Set(w.agents.map((a) => a.state))];
    if (w.agents.length) {
      lines.push(`| machine | ${states.join(' | ')} |`, `| --- | ${states.map(() => '---').join(' | ')} |`);
      for (const m of [...new Set(w.agents.map((a) => a.machine))]) lines.push(`| ${m} | ${states.map((st) => w.agents.filter((a) => a.machine === m && a.state === st).length).join(' | ')} |`);
      lines.push('');
    }
    for (const a of w.agents.filter((x) => ['rolled-back', 'failed', 'accepted-as-is', 'refused'].includes(x.state))) {
      lines.push(`- ${a.agent} on ${a.machine} ${a.state}${a.trigger ? `: ${a.trigger}` : ''}${a.stagesLeft?.length ? ` (stages ${a.stagesLeft.join(', ')} still applied)` : ''}${a.detail ? ` (${a.detail})` : ''}`);
    }
    if (w.rollback) {
      lines.push(
        `- level-${w.rollback.level ?? 2} rollback: ${w.rollback.reason}; ${w.rollback.undone.length} undone${w.rollback.acceptedAsIs?.length ? `, accepted as is: ${w.rollback.acceptedAsIs.join(', ')}` : ''}${w.rollback.durationMs !== undefined ? ` in ${Math.round(w.rollback.durationMs / 1000)} s` : ''}${w.rollback.unhealthyAfter.length ? `; unhealthy after: ${w.rollback.unhealthyAfter.join(', ')}` : ''}`,
      );
    }
    if (w.deadline?.passed) lines.push(`- the week did not reach its gate by its deadline (${w.deadline.at}; ${w.deadline.action === 'rollback' ? 'rolled back at level 2' : 'paused'}): ${w.deadline.why ?? ''}`);
    if (w.validation) lines.push(`- validation ${w.validation.workflowId}: ${w.validation.verdict}, system uptime ${w.validation.uptimePercent ?? 'n/a'} %`);
    if (w.gate.report) {
      lines.push(`- gate ${w.gate.id} (${w.gate.open ? 'open' : 'closed'}): criteria ${w.gate.report.met ? 'met' : 'NOT met'}`);
      for (const c of w.gate.report.criteria) lines.push(`  - ${c.met ? 'met' : 'NOT met'}: ${c.detail}`);
      for (const d of w.gate.decisions) lines.push(`  - ${d.decision} by ${d.by}${d.byPolicy ? ' (the gate decided by its plan, from the report above)' : ''}${d.verified === 'signature' ? ` (${d.by}'s signature checked)` : d.verified ? ' (unsigned: name only, as the plan allows)' : ''} at ${d.at}${d.reason ? `: ${d.reason}` : ''}`);
      if (w.gate.autoPromotion) lines.push(`  - auto-promotion: ${autoPromotionLine(w.gate.autoPromotion)}`);
      if (w.gate.deadline) lines.push(`  - deadline ${w.gate.deadline.at}${w.gate.deadline.passed ? ': passed before a decision (escalated to level 2)' : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
