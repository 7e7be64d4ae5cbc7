import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { PhasegateConfig } from '../config/load';
import type { Plan } from '../config/schema/plan';
import { phaseInput } from '../plan/compile';
import { temporalTarget } from '../lib/temporal';
import { phaseWorkflow } from '../workflows/phase';
import { connect, OperatorError } from './temporal-client';

/** A phase's workflow id: the plan and the minute it started, e.g. phase.phase1.20261122T1030. */
export function phaseWorkflowIdFor(planId: string, at: Date): string {
  return `phase.${planId}.${at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
}

export interface StartedPhase {
  workflowId: string;
  runId: string;
  plan: string;
  weeks: string[];
  agents: number;
  uiUrl: string | null;
}

/** Starts a validated plan as a phase workflow on the configured Temporal. */
export async function startPhase(config: PhasegateConfig, plan: Plan, o: { id?: string }): Promise<StartedPhase> {
  const input = phaseInput(plan, config.inventory, config.deployment);
  const workflowId = o.id ?? phaseWorkflowIdFor(plan.id, new Date());
  const { client, close } = await connect(config);
  try {
    // A phase id names one run: a second start of it is refused, running or not (its children's
    // ids and its history would read as one phase).
    const earlier = await client.workflow
      .getHandle(workflowId)
      .describe()
      .catch(() => null);
    if (earlier) {
      throw new OperatorError(
        `phase id "${workflowId}" is already taken by a ${earlier.status.name.toLowerCase()} ${earlier.type} (started ${earlier.startTime.toISOString()}); ${earlier.status.name === 'RUNNING' ? `follow it with \`phasegate status ${workflowId}\`, or ` : ''}start with another --id (or none: the CLI names each run by its start time)`,
      );
    }
    const handle = await client.workflow
      .start(phaseWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE })
      .catch((err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new OperatorError(`phase id "${workflowId}" was taken a moment ago; start with another --id`);
        throw err;
      });
    const target = temporalTarget(config.deployment);
    const agents = new Set(input.weeks.flatMap((w) => w.steps.flatMap((s) => s.migrate?.agents.map((a) => a.name) ?? [])));
    return {
      workflowId,
      runId: handle.firstExecutionRunId,
      plan: plan.id,
      weeks: input.weeks.map((w) => w.id),
      agents: agents.size,
      uiUrl: target.uiUrl ? `${target.uiUrl}/namespaces/${target.namespace}/workflows/${workflowId}` : null,
    };
  } finally {
    await close();
  }
}

/** What to do next, as commands to copy. */
export function describeStarted(s: StartedPhase): string {
  return [
    `phase ${s.plan} started as ${s.workflowId}: ${s.weeks.length} week(s), ${s.agents} agent(s)`,
    ...(s.uiUrl ? [`  Web UI:  ${s.uiUrl}`] : []),
    `  follow:  phasegate status ${s.workflowId} --watch`,
    `  gate:    phasegate gate go ${s.workflowId} --reason "..."   (when the status shows the gate OPEN; hold, or rollback-week)`,
    `  pause:   phasegate pause ${s.workflowId} --reason "..."`,
  ].join('\n');
}
