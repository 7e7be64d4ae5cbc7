/**
 * The real workflows, except that agentMigrationWorkflow starts with a one-second timer it
 * never had: a deliberately non-deterministic change, which replaying a recorded history
 * must catch.
 */
import { sleep } from '@temporalio/workflow';
import { agentMigrationWorkflow as real } from '../../workflows/agent-migration';

export * from '../../workflows';

export async function agentMigrationWorkflow(...args: Parameters<typeof real>): ReturnType<typeof real> {
  await sleep(1000);
  return real(...args);
}
