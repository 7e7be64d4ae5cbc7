import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { streams } from '../../lib/nats';
import { phaseInput } from '../../lib/phase-input';
import { phaseWorkflow } from '../../workflows/phase';
import { startTestStack, type TestStack } from '../support/harness';

/**
 * NATS goes away in the middle of a phase. Temporal is the record of truth: the rollout
 * carries on, and every event and alert the workflows asked for lands in JetStream exactly
 * once when NATS is back (retried activities, de-duplicated by publish id).
 */
const plan = planSchema.parse({
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

interface Published {
  id: string;
  activityType: string;
}

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

    // What the workflows asked to publish: every publishEvent / raiseAlert activity in every history.
    const asked: Published[] = [];
    let retried = 0;
    // This stack is this test's own: every workflow on it belongs to the phase.
    for await (const w of env.client.workflow.list()) {
      const history = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      for (const e of history.events ?? []) {
        const scheduled = e.activityTaskScheduledEventAttributes;
        if (scheduled && ['publishEvent', 'raiseAlert'].includes(scheduled.activityType?.name ?? '')) {
          const arg = JSON.parse(Buffer.from(scheduled.input!.payloads![0]!.data!).toString('utf8')) as { id: string };
          asked.push({ id: arg.id, activityType: scheduled.activityType!.name! });
        }
        if ((e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retried++;
      }
    }
    assert.ok(asked.length > 20, `${asked.length} publishes asked for`);

    // What JetStream holds: every message of the events and alerts streams, by publish id.
    const jsm = await env.nats.jetstreamManager();
    const ids = new Map<string, number>();
    for (const stream of [streams.events.name, streams.alerts.name]) {
      const info = await jsm.streams.info(stream);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        const id = m.header.get('Nats-Msg-Id');
        ids.set(id, (ids.get(id) ?? 0) + 1);
      }
    }
    const missing = asked.filter((a) => !ids.has(a.id));
    const duplicated = [...ids].filter(([, n]) => n > 1);
    assert.deepEqual(missing, [], 'events lost');
    assert.deepEqual(duplicated, [], 'events stored twice');
    assert.equal(ids.size, new Set(asked.map((a) => a.id)).size);
    assert.ok(retried > 0, 'some publishes were retried across the outage');
    console.log(`NATS outage of ${(outageMs / 1000).toFixed(1)} s: phase completed; ${asked.length} events and alerts asked for, ${ids.size} in JetStream, 0 lost, 0 duplicated; ${retried} activity attempts retried`);
  });
});
