import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { connectClient, temporalTarget } from '../lib/temporal';

/** A mistake of the operator's: printed as is, with what to do next, exit 1. */
export class OperatorError extends Error {}

/** A client for the configured Temporal, or an operator error saying what to check. */
export async function connect(config: PhasegateConfig): Promise<{ client: Client; close: () => Promise<void> }> {
  return connectClient(config.deployment).catch((err: Error) => {
    throw new OperatorError(`cannot reach Temporal at ${temporalTarget(config.deployment).address}: ${err.message}. Is the stack running (scripts/demo.sh), or does --config point at the right deployment?`);
  });
}

/** The workflow's type and whether it still runs, or an operator error that says how to find the right id. */
export async function describeWorkflow(handle: WorkflowHandle): Promise<{ type: string; running: boolean; status: string }> {
  try {
    const d = await handle.describe();
    return { type: d.type, running: d.status.name === 'RUNNING', status: d.status.name.toLowerCase() };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new OperatorError(`no workflow "${handle.workflowId}": list phases with \`.tools/bin/temporal workflow list --query 'WorkflowType="phaseWorkflow"'\``);
    }
    throw err;
  }
}
