import { workflowInfo } from '@temporalio/workflow';

/**
 * Names of runs, not of plans. A phase's workflow id is chosen per run (the CLI puts the start
 * time in it), its weeks and migrations hang below it, and every idempotency key also carries
 * the run id of the workflow that makes it: a plan started again after a rollback, or a phase
 * id used a second time once the first has closed, applies afresh instead of meeting the keys
 * of the earlier run ("duplicate-key") and applying nothing.
 */

/** Workflow id of a phase's week: `<phase workflow id>.<week>`. */
export const weekWorkflowId = (phaseWorkflowId: string, week: string): string => `${phaseWorkflowId}.${week}`;

/** Workflow id of one agent's migration within a week run: `<week workflow id>.<agent>.<change>`. */
export const migrationWorkflowId = (weekWorkflowId: string, agent: string, change: string): string => `${weekWorkflowId}.${agent}.${change}`;

/** Workflow id of an agent's lease (agent-lease.ts): one per agent across every phase. */
export const agentLeaseWorkflowId = (agent: string): string => `lease.${agent}`;

/**
 * An idempotency key of this workflow run: `<workflow id>@<run>:<what>`. Stable across
 * activity retries and worker restarts (the run id is), new for a new run of the same id.
 */
export function runKey(what: string): string {
  const { workflowId, runId } = workflowInfo();
  return `${workflowId}@${runId.slice(0, 8)}:${what}`;
}
