import { condition, defineQuery, setHandler } from '@temporalio/workflow';
import { leaseFreedSignal, leaseHeldSignal } from '../../../workflows/agent-lease';

/**
 * Workflows of test/integration/agent-lease.test.ts: the real lease workflow, and a waiter that
 * records what the lease tells it (the part of takeAgentLease that listens), done once told
 * the agent is free.
 */
export { agentLeaseWorkflow } from '../../../workflows/agent-lease';

export const toldQuery = defineQuery<string[]>('told');

export async function leaseWaiterProbeWorkflow(): Promise<string[]> {
  const told: string[] = [];
  setHandler(toldQuery, () => told);
  setHandler(leaseHeldSignal, () => void told.push('leaseHeld'));
  setHandler(leaseFreedSignal, () => void told.push('leaseFreed'));
  await condition(() => told.includes('leaseFreed'));
  return told;
}
