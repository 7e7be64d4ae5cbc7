import { AssertionError } from 'node:assert/strict';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { planSchema, type Plan } from '../../config/schema/plan';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { weekStatusQuery } from '../../workflows/week';

/** Ten agents on both machines (six on pc2), medium and low band: staged and rapid migrations. */
export const drillAgents = {
  pc2: ['TaskQueueAgent', 'AsyncProcessorAgent', 'AuthenticationAgent', 'CacheManagerAgent', 'NotificationAgent', 'WebSearchAgent'],
  mainpc: ['TaskSchedulerAgent', 'GoalManagerAgent', 'ChitchatAgent', 'ResponderAgent'],
};

/**
 * A one-week plan over the drill agents, two at a time per machine, with short windows, for
 * the machine-loss and partition drills. Slow-downs from this busy machine are not triggers.
 */
export function drillPlan(id: string, title: string, change: string, extra: { timings?: object; watchLinks?: boolean } = {}): Plan {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title,
    thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
    timings: { baselineSamples: 2, rapidVerificationMs: 3000, stageVerificationMs: 3000, observationMs: 0, ...extra.timings },
    ...(extra.watchLinks !== undefined ? { watchLinks: extra.watchLinks } : {}),
    weeks: [
      {
        id: 'week1',
        title: 'ten agents on both machines',
        steps: [{ id: 'agents', migrate: { change, select: { agents: [...drillAgents.pc2, ...drillAgents.mainpc] }, pilots: 0, batchSize: 10, maxConcurrentPerMachine: 2 } }],
        gate: { criteria: [{ kind: 'all-migrated' }] },
      },
    ],
  });
}

/**
 * Polls until `probe` gives a value; fails after `limitMs`. An error counts as not yet (a
 * query can fail while a worker restarts), except a failed assertion: what must never happen
 * while waiting is asserted inside the probe and ends the wait at once.
 */
export async function until<T>(what: string, limitMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      if (err instanceof AssertionError) throw err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The first migration on `machine` with a stage applied: the moment to inject a fault mid-stage. Resolves to its agent. */
export function migrationPastFirstStage(client: Client, week: WorkflowHandle, machine: string): Promise<string> {
  return until(`a ${machine} migration past its first stage`, 60_000, async () => {
    const status = await week.query(weekStatusQuery);
    for (const a of status.agents.filter((x) => x.machine === machine && x.state === 'running')) {
      const m = await client.workflow.getHandle(a.workflowId).query(agentMigrationStatusQuery);
      if (m.stagesApplied.length >= 1) return a.agent;
    }
    return undefined;
  });
}
