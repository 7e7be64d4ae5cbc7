import { WorkflowNotFoundError } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { validateStepSchema } from '../config/schema/plan';
import { renderPhaseReport } from '../render/phase-report';
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
