import { WorkflowNotFoundError } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { validateStepSchema } from '../config/schema/plan';
import { renderValidationMarkdown } from '../render/validation';
import { type ValidationReport } from '../decisions/validation';
import { validationInput } from '../plan/compile';
import { validationStatusQuery, validationWorkflow, type ValidationInput, type ValidationResult } from '../workflows/validation';
import { phaseStatusQuery, type PhaseStatus } from '../workflows/phase';
import { weekStatusQuery, type WeekStatus } from '../workflows/week';
import { connect, OperatorError } from './temporal-client';

/**
 * The report of a phase (its weeks: agents, rollbacks with their triggers, gate reports and
 * decisions), or the validation report of a validation workflow or of a week's validation:
 * the result once it has ended, the report so far while it runs. Markdown, or JSON with --json.
 */
export async function report(id: string, o: { config: PhasegateConfig; json: boolean }): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    let handle = client.workflow.getHandle(id);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new OperatorError(`no workflow "${id}": list validations with \`.tools/bin/temporal workflow list --query 'WorkflowType="validationWorkflow"'\``);
      throw err;
    }
    if (description.type === 'phaseWorkflow') {
      const phase = await handle.query(phaseStatusQuery);
      const weeks: WeekStatus[] = [];
      for (const w of phase.weeks.filter((x) => x.outcome !== 'not-started')) {
        const s = await client.workflow.getHandle(w.workflowId).query(weekStatusQuery).catch(() => null);
        if (s) weeks.push(s);
      }
      return o.json ? JSON.stringify({ phase, weeks }) : renderPhaseReport(id, phase, weeks);
    }
    if (description.type === 'weekWorkflow') {
      const week = await handle.query(weekStatusQuery);
      const step = week.validation?.workflowId ?? (week.currentStep ? `${id}.${week.currentStep}` : null);
      if (!step) throw new OperatorError(`week ${week.week} has not run a validation yet (state ${week.state})`);
      handle = client.workflow.getHandle(step);
      description = await handle.describe().catch(() => {
        throw new OperatorError(`week ${week.week} has not started its validation yet (current step: ${week.currentStep ?? 'none'})`);
      });
    }
    if (description.type !== 'validationWorkflow') throw new OperatorError(`"${id}" is a ${description.type}; report reads a phase, a validation or a week that runs one`);
    let r: ValidationReport;
    if (description.status.name === 'RUNNING') r = await handle.query(validationStatusQuery);
    else if (description.status.name === 'COMPLETED') r = ((await handle.result()) as ValidationResult).report;
    else throw new OperatorError(`validation ${handle.workflowId} ended ${description.status.name.toLowerCase()}, without a report; see its history in the Web UI`);
    return o.json ? JSON.stringify(r) : renderValidationMarkdown(r);
  } finally {
    await close();
  }
}

/** A standalone validation of the whole fleet from the inventory (outside a phase). */
export function standaloneValidationInput(config: PhasegateConfig, o: { hours?: string; windowMinutes?: string; label: string }): ValidationInput {
  const parsed = validateStepSchema.safeParse({
    durationMs: o.hours === undefined ? 168 * 3_600_000 : Math.round(Number(o.hours) * 3_600_000),
    ...(o.windowMinutes !== undefined ? { windowMs: Math.round(Number(o.windowMinutes) * 60_000) } : {}),
  });
  if (!parsed.success) throw new OperatorError(`bad validation settings: ${parsed.error.issues.map((i) => `--${i.path[0] === 'windowMs' ? 'window-minutes' : 'hours'}: ${i.message}`).join('; ')}`);
  return validationInput(parsed.data, config.inventory, o.label);
}

export async function startValidation(config: PhasegateConfig, input: ValidationInput): Promise<string> {
  const { client, close } = await connect(config);
  try {
    const handle = await client.workflow.start(validationWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId: input.label, args: [input] });
    return `validation ${handle.workflowId} started: ${input.durationMs / 3_600_000} h over ${input.fleet.length} agents and hubs; follow it with \`phasegate report ${handle.workflowId}\``;
  } finally {
    await close();
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
    if (w.validation) lines.push(`- validation ${w.validation.workflowId}: ${w.validation.verdict}, system uptime ${w.validation.uptimePercent ?? 'n/a'} %`);
    if (w.gate.report) {
      lines.push(`- gate ${w.gate.id} (${w.gate.open ? 'open' : 'closed'}): criteria ${w.gate.report.met ? 'met' : 'NOT met'}`);
      for (const c of w.gate.report.criteria) lines.push(`  - ${c.met ? 'met' : 'NOT met'}: ${c.detail}`);
      for (const d of w.gate.decisions) lines.push(`  - ${d.decision} by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}
