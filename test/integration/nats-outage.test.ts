import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { checkEventDelivery } from '../support/events';
import { startTestStack, type TestStack } from '../support/harness';
import { checkRecordsAgree } from '../support/records';
import { recordReliability } from '../support/reliability-summary';
import { weekStatusQuery } from '../../workflows/week';

/**
 * NATS goes away in the middle of a phase. Temporal is the record of truth: the rollout
 * carries on, and every event and alert the workflows asked for lands in JetStream exactly
 * once when NATS is back (retried activities, de-duplicated by publish id).
 */
const plan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'nats-outage',
  title: 'a rollout across a NATS outage',
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 2000, stageVerificationMs: 2000, observationMs: 0 },
  weeks: [
    {
      id: 'week1',
      title: 'six agents, two machines',
      steps: [{ id: 'agents', migrate: { change: 'outage', select: { agents: ['GPUMonitorAgent', 'ChitchatAgent', 'ModelLoaderAgent', 'NotificationAgent', 'WebSearchAgent', 'LLMInferenceAgent'] }, batchSize: 6, maxConcurrentPerMachine: 2 } }],
      gate: { criteria: [{ kind: 'all-migrated' }] },
    },
  ],
});

describe('NATS outage in the middle of a phase (real dev server, real nats-server stopped and started)', () => {
  let env: TestStack;
  before(async () => {
    env = await startTestStack();
  });
  after(async () => env?.stop());

  it('the rollout carries on, and every event and alert lands in JetStream exactly once after NATS returns', async () => {
    const input = { ...phaseInput(plan, env.config.inventory), autoApproveGates: { by: 'nats-outage-test' } };
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.nats-outage', args: [input] });
    await new Promise((r) => setTimeout(r, 4000));
    await env.stack.kill('nats-server');
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 10_000));
    await env.stack.startNats();
    const outageMs = Date.now() - downAt;
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.weeks.map((w) => w.outcome), ['passed']);

    const delivery = await checkEventDelivery(env.client, env.nats);
    assert.ok(delivery.asked > 20, `${delivery.asked} publishes asked for`);
    assert.deepEqual(delivery.lost, [], 'events lost');
    assert.deepEqual(delivery.duplicated, [], 'events stored twice');
    assert.equal(delivery.stored, delivery.asked);
    assert.ok(delivery.retriedAttempts > 0, 'some publishes were retried across the outage');
    const week = await env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1')).query(weekStatusQuery);
    const records = await checkRecordsAgree(env.simulatorAdmin, week, 'outage');
    recordReliability({
      suite: 'NATS outage',
      faultsInjected: 1,
      phasesFinished: 1,
      actionsChecked: records.actionsChecked,
      inputsRejected: 0,
      eventsLost: delivery.lost.length,
      detail: `nats-server down ${(outageMs / 1000).toFixed(1)} s mid-phase; ${delivery.asked} events and alerts, ${delivery.duplicated.length} duplicated, ${delivery.retriedAttempts} attempts retried`,
    });
    console.log(`NATS outage of ${(outageMs / 1000).toFixed(1)} s: phase completed; ${delivery.asked} events and alerts asked for, ${delivery.stored} in JetStream, 0 lost, 0 duplicated; ${delivery.retriedAttempts} activity attempts retried`);
  });
});
