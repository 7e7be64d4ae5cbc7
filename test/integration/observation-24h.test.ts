import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { agentMigrationStatusQuery, resolveFailedUndoUpdate } from '../../workflows/agent-migration';
import { streams } from '../../lib/nats';
import { simulatorClient, startTimeSkippingStack } from '../support/harness';
import { fastPlan, startMigration, waitForStatus } from '../support/migration';

const hour = 3_600_000;

describe('hours-long waits on the time-skipping test server: the 24-hour observation, a rollback past its budget', () => {
  let env: Awaited<ReturnType<typeof startTimeSkippingStack>>;
  let server: TestWorkflowEnvironment;

  before(async () => {
    env = await startTimeSkippingStack();
    server = env.server;
  });
  after(async () => env?.stop());

  it('ModelManagerAgent (score 35) is observed for 24 h; a fault on hour 20 rolls all three stages back', async () => {
    const sim = simulatorClient(env.simulatorAdmin);
    // Real windows of a second every hour of (skipped) time: the full 24 h in well under a minute.
    // Windows this short hold too few samples for the degradation judge (test/integration/
    // degradation-judge.test.ts has it on the real stack; a longer window here lets the test
    // server skip time under a running activity), so the fault is slower than the plan's limit.
    const plan = fastPlan({ thresholds: { responseTimeMs: 300 }, timings: { observationMs: 24 * hour, observationWindowMs: 1000, observationGapMs: hour } });
    const handle = await startMigration(env, 'ModelManagerAgent', plan);

    await server.sleep('20 hours');
    const before20 = await handle.query(agentMigrationStatusQuery);
    assert.equal(before20.state, 'observing');
    assert.equal(before20.strategy, 'framework');
    assert.deepEqual(before20.stagesApplied, [1, 2, 3]);
    assert.ok(before20.observedMs >= 18 * hour && before20.observedMs <= 20.5 * hour, `observed ${before20.observedMs / hour} h`);

    await sim.fault('ModelManagerAgent', { latencyMs: 400, clearOnUndo: true });
    const result = await handle.result();

    const last = (await handle.query(agentMigrationStatusQuery)).lastWindow;
    assert.equal(result.outcome, 'rolled-back', `last window: ${JSON.stringify(last)}`);
    assert.equal(result.trigger?.kind, 'response-time');
    assert.ok(result.observedMs >= 20 * hour && result.observedMs < 22 * hour, `trigger after ${result.observedMs / hour} h of observation`);
    assert.deepEqual(result.rollback?.changes[0]?.undoneStages, [3, 2, 1]);
    assert.equal(result.rollback?.changes[0]?.healthy, true);
    const view = await sim.agent('ModelManagerAgent');
    assert.equal(view.version, '1.0.0');
    assert.deepEqual(view.changes, {});
    const history = await handle.fetchHistory();
    console.log(`24-hour observation: ${history.events?.length} history events, trigger at hour ${(result.observedMs / hour).toFixed(2)}`);
  });

  it('a rollback still waiting for a person when its 2-minute budget runs out raises the over-budget alert then, not after', async () => {
    const sim = simulatorClient(env.simulatorAdmin);
    const agent = 'ChitchatAgent';
    await sim.fault(agent, { integrationFailing: true, undoFails: true, clearOnUndo: true });
    const handle = await startMigration(env, agent, fastPlan({ timings: { baselineSamples: 1 } }), 'budget');
    await waitForStatus(handle, (s) => s.state === 'needs-human', 'the failed undo to wait for a person');
    await server.sleep('3 minutes');
    const jsm = await env.nats.jetstreamManager();
    const info = await jsm.streams.info(streams.alerts.name);
    const alerts: Array<{ level: number; title: string; workflowId: string }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) alerts.push((await jsm.streams.getMessage(streams.alerts.name, { seq })).json());
    const over = alerts.filter((a) => a.workflowId === handle.workflowId && /level-1 rollback over its budget/.test(a.title));
    assert.equal(over.length, 1, `one over-budget alert while the rollback waits: ${alerts.map((a) => a.title).join(' | ')}`);
    assert.equal(over[0]!.level, 2);
    const waiting = await handle.query(agentMigrationStatusQuery);
    assert.equal(waiting.state, 'needs-human', 'the alert went out while it still waited');
    assert.ok(waiting.rollback?.overBudgetAt);
    await sim.fault(agent, { undoFails: false });
    await handle.executeUpdate(resolveFailedUndoUpdate, { args: [{ action: 'retry-undo', by: 'ops', reason: 'fixed' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.rollback?.withinBudget, false);
    assert.deepEqual((await sim.agent(agent)).changes, {});
  });
});
