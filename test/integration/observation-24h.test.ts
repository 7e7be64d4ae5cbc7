import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { simulatorClient, startTimeSkippingStack } from '../support/harness';
import { fastPlan, startMigration } from '../support/migration';

const hour = 3_600_000;

describe('framework migration with the real 24-hour observation (time-skipping test server)', () => {
  let env: Awaited<ReturnType<typeof startTimeSkippingStack>>;
  let server: TestWorkflowEnvironment;

  before(async () => {
    env = await startTimeSkippingStack();
    server = env.server;
  });
  after(async () => env?.stop());

  it('ModelManagerAgent (score 35) is observed for 24 h; a fault on hour 20 rolls all three stages back', async () => {
    const sim = simulatorClient(env.simulatorAdmin);
    // Real windows of 2 s every hour of (skipped) time: the full 24 h in about a minute.
    const plan = fastPlan({ timings: { observationMs: 24 * hour, observationWindowMs: 2000, observationGapMs: hour } });
    const handle = await startMigration(env, 'ModelManagerAgent', plan);

    await server.sleep('20 hours');
    const before20 = await handle.query(agentMigrationStatusQuery);
    assert.equal(before20.state, 'observing');
    assert.equal(before20.strategy, 'framework');
    assert.deepEqual(before20.stagesApplied, [1, 2, 3]);
    assert.ok(before20.observedMs >= 18 * hour && before20.observedMs <= 20.5 * hour, `observed ${before20.observedMs / hour} h`);

    await sim.fault('ModelManagerAgent', { latencyMs: 400, clearOnUndo: true });
    const result = await handle.result();

    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.trigger?.kind, 'degradation');
    assert.ok(result.observedMs >= 20 * hour && result.observedMs < 22 * hour, `trigger after ${result.observedMs / hour} h of observation`);
    assert.deepEqual(result.rollback?.changes[0]?.undoneStages, [3, 2, 1]);
    assert.equal(result.rollback?.changes[0]?.healthy, true);
    const view = await sim.agent('ModelManagerAgent');
    assert.equal(view.version, '1.0.0');
    assert.deepEqual(view.changes, {});
    const history = await handle.fetchHistory();
    console.log(`24-hour observation: ${history.events?.length} history events, trigger at hour ${(result.observedMs / hour).toFixed(2)}`);
  });
});
