import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { abortSignal, decideGateUpdate, resumeSignal, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

type Budget = { perBatch: number; perWeek: number; onExceeded: 'pause' | 'rollback-week' };

function plan(id: string, weeks: Array<{ agents: string[]; budget?: Budget; criteria?: object[] }>, timings: object = {}) {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title: id,
    thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
    timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0, ...timings },
    weeks: weeks.map((w, i) => ({
      id: `week${i + 1}`,
      title: `week ${i + 1}`,
      steps: [{ id: `w${i + 1}-migrate`, migrate: { change: `${id}-w${i + 1}`, select: { agents: w.agents }, pilots: 0, batchSize: w.agents.length, maxConcurrentPerMachine: 2, ...(w.budget ? { failureBudget: w.budget } : {}) } }],
      gate: { criteria: w.criteria ?? [{ kind: 'max-rollbacks', count: 5 }] },
    })),
  });
}

describe('phase and week rollbacks on the real dev server', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;
  before(async () => {
    env = await startTestStack();
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => env?.stop());

  async function start(p: ReturnType<typeof plan>): Promise<WorkflowHandle<typeof phaseWorkflow>> {
    return env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.${p.id}`, args: [phaseInput(p, env.config.inventory)] });
  }
  async function weekUntil(phaseId: string, week: string, ok: (s: WeekStatus) => boolean, what: string): Promise<WeekStatus> {
    const h = env.client.workflow.getHandle(weekWorkflowId(phaseId, week));
    let last: WeekStatus | null = null;
    for (let i = 0; i < 600; i++) {
      const s = await h.query(weekStatusQuery).catch(() => null);
      if (s && ok(s)) return s;
      last = s ?? last;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = last ? { state: last.state, currentStep: last.currentStep, pauseReason: last.pauseReason, agents: last.agents, outcome: last.outcome } : 'no status';
    throw new Error(`timed out waiting for ${what}; the week last said ${JSON.stringify(seen)}`);
  }
  const versions = async (agents: string[]) => Promise.all(agents.map(async (a) => (await sim.agent(a)).version));

  it('a gate decided "rollback-week" undoes every agent of the week, one undo at a time per machine newest first, each stage in reverse, in one child workflow per machine', async () => {
    const agents = ['GPUThermalAgent', 'VRAMUsageAgent', 'RemoteConnectorAgent'];
    const p = plan('gate-rollback', [{ agents }], { rollbackUndosAtOncePerMachine: 1 });
    const handle = await start(p);
    const open = await weekUntil('phase.gate-rollback', 'week1', (s) => s.state === 'gate-open', 'the gate');
    assert.deepEqual((await versions(agents)).map((v) => v.startsWith('1.0.0+')), [true, true, true]);
    const order = open.applied.map((c) => (c.kind === 'migration' ? c.agent : c.operation));
    await env.client.workflow.getHandle(weekWorkflowId('phase.gate-rollback', 'week1')).executeUpdate(decideGateUpdate, {
      args: [{ gate: 'gate-rollback.week1.gate', decision: 'rollback-week', by: 'carol', reason: 'dashboards regressed' }],
    });
    const result = await handle.result();
    assert.equal(result.outcome, 'stopped');
    assert.deepEqual(await versions(agents), ['1.0.0', '1.0.0', '1.0.0']);
    const week = await env.client.workflow.getHandle(weekWorkflowId('phase.gate-rollback', 'week1')).query(weekStatusQuery);
    assert.equal(week.outcome, 'rolled-back');
    // Machines roll back at once (workflows/rollback/children.ts); on each, one undo at a time here, the newest first.
    const machineOf = (a: string) => env.config.inventory.agents.find((x) => x.name === a)!.machine;
    for (const m of ['mainpc', 'pc2']) {
      assert.deepEqual(
        week.rollback?.undone.filter((a) => machineOf(a) === m),
        [...order].reverse().filter((a) => machineOf(a) === m),
        `newest change undone first on ${m}`,
      );
    }
    const children: Array<{ id: string; status: string }> = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowType = "rollbackChunkWorkflow" AND PhasegatePhase = "gate-rollback"` })) children.push({ id: w.workflowId, status: w.status.name });
    assert.deepEqual(
      children.sort((a, b) => a.id.localeCompare(b.id)),
      ['mainpc', 'pc2'].map((m) => ({ id: `${weekWorkflowId('phase.gate-rollback', 'week1')}.rollback2.${m}.1`, status: 'COMPLETED' })),
    );
    assert.equal(week.rollback?.withinBudget, true);
    assert.deepEqual(week.rollback?.unhealthyAfter, [], 'every undone agent probed healthy');
    for (const a of agents) {
      const undos = (await sim.actions(a)).filter((r) => r.action === 'undo-stage' && r.outcome === 'undone').map((r) => r.stage);
      assert.deepEqual(undos, [3, 2, 1], `${a}: stages undone in reverse`);
    }
  });

  it('a week rollback keeps an operation in its place: migrations newer than it undone before it on every machine, older ones after it', async () => {
    // The hub an operation deploys may be what later migrations lean on (workflows/rollback/children.ts).
    const older = ['GPUThermalAgent', 'ResponderAgent'];
    const newer = ['VRAMUsageAgent', 'WebSearchAgent'];
    const machineOf = (a: string) => env.config.inventory.agents.find((x) => x.name === a)!.machine;
    assert.deepEqual([...new Set([...older, ...newer].map(machineOf))].sort(), ['mainpc', 'pc2'], 'the agents span both machines');
    const migrate = (id: string, agents: string[]) => ({ id, migrate: { change: `op-order-${id}`, select: { agents }, pilots: 0, batchSize: agents.length, maxConcurrentPerMachine: 2 } });
    const p = planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id: 'op-order',
      title: 'an operation between two migration steps',
      thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
      weeks: [{ id: 'week1', title: 'week 1', steps: [migrate('older', older), { id: 'hub', operation: { machine: 'pc2', name: 'deploy-edgehub' } }, migrate('newer', newer)], gate: { criteria: [{ kind: 'max-rollbacks', count: 5 }] } }],
    });
    const since = (await sim.actions()).reduce((n, r) => Math.max(n, r.seq), 0);
    const handle = await start(p);
    await weekUntil('phase.op-order', 'week1', (s) => s.state === 'gate-open', 'the gate');
    await env.client.workflow.getHandle(weekWorkflowId('phase.op-order', 'week1')).executeUpdate(decideGateUpdate, {
      args: [{ gate: 'op-order.week1.gate', decision: 'rollback-week', by: 'carol', reason: 'the hub misbehaves' }],
    });
    assert.equal((await handle.result()).outcome, 'stopped');
    const week = await env.client.workflow.getHandle(weekWorkflowId('phase.op-order', 'week1')).query(weekStatusQuery);
    assert.equal(week.outcome, 'rolled-back');
    assert.deepEqual(week.applied, [], 'nothing left applied');

    // The fleet's own record: every stage undone, the hub down, in that order.
    const actions = (await sim.actions()).filter((r) => r.seq > since);
    const undoSeqs = (agents: string[]) => actions.filter((r) => agents.includes(r.agent) && r.action === 'undo-stage' && r.outcome === 'undone').map((r) => r.seq);
    const hubDown = actions.filter((r) => r.agent === 'EdgeHub' && r.action === 'component-down');
    assert.equal(hubDown.length, 1, JSON.stringify(hubDown));
    assert.equal(undoSeqs(newer).length, 6, 'three stages of each newer agent undone');
    assert.equal(undoSeqs(older).length, 6, 'three stages of each older agent undone');
    assert.ok(Math.max(...undoSeqs(newer)) < hubDown[0]!.seq, 'the newer migrations were undone before the hub went down');
    assert.ok(Math.min(...undoSeqs(older)) > hubDown[0]!.seq, 'the older migrations were undone after the hub went down');
    for (const a of [...older, ...newer]) assert.deepEqual((await sim.agent(a)).changes, {}, `${a} holds no stage`);
  });

  it('abort at level 3 puts the whole fleet back as it was before the phase', async () => {
    const week1 = ['ChitchatAgent', 'NotificationAgent'];
    const week2 = ['ResponderAgent', 'WebSearchAgent', 'SmartHomeAgent', 'UserProfileAgent'];
    const p = plan('abort-l3', [{ agents: week1 }, { agents: week2 }]);
    const handle = await start(p);
    await weekUntil('phase.abort-l3', 'week1', (s) => s.state === 'gate-open', 'the week-1 gate');
    await env.client.workflow.getHandle(weekWorkflowId('phase.abort-l3', 'week1')).executeUpdate(decideGateUpdate, { args: [{ gate: 'abort-l3.week1.gate', decision: 'go', by: 'alice' }] });
    // Abort while week 2 has migrations in flight.
    await weekUntil('phase.abort-l3', 'week2', (s) => s.agents.some((a) => a.state === 'running'), 'week 2 in flight');
    await handle.signal(abortSignal, { level: 3, by: 'oncall', reason: 'incident 4711' });
    const result = await handle.result();
    assert.equal(result.outcome, 'aborted');
    assert.equal(result.rollback?.level, 3);
    assert.deepEqual(result.rollback?.undone.sort(), week1.map((a) => `week1/${a}`).sort());
    assert.deepEqual(result.applied, []);
    for (const view of await Promise.all([...week1, ...week2].map((a) => sim.agent(a)))) {
      assert.equal(view.version, '1.0.0', view.name);
      assert.deepEqual(view.changes, {}, `${view.name} has no stage left`);
    }
    const w2 = await env.client.workflow.getHandle(weekWorkflowId('phase.abort-l3', 'week2')).query(weekStatusQuery);
    assert.equal(w2.outcome, 'aborted');
    assert.equal(w2.abort?.level, 3);
  });

  for (const how of ['raised from level 1 to level 3 at the phase', 'sent at level 3 to the running week itself'] as const) {
    it(`an abort ${how} puts the whole fleet back as it was before the phase`, async () => {
      const id = how.startsWith('raised') ? 'abort-raise' : 'abort-week-l3';
      const week1 = ['ChitchatAgent', 'NotificationAgent'];
      const week2 = ['ResponderAgent', 'WebSearchAgent'];
      const handle = await start(plan(id, [{ agents: week1 }, { agents: week2 }]));
      await weekUntil(`phase.${id}`, 'week1', (s) => s.state === 'gate-open', 'the week-1 gate');
      await env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week1')).executeUpdate(decideGateUpdate, { args: [{ gate: `${id}.week1.gate`, decision: 'go', by: 'alice' }] });
      await weekUntil(`phase.${id}`, 'week2', (s) => s.agents.some((a) => a.state === 'running'), 'week 2 in flight');
      if (how.startsWith('raised')) {
        await handle.signal(abortSignal, { level: 1, by: 'oncall', reason: 'stop the agents in flight' });
        await handle.signal(abortSignal, { level: 3, by: 'oncall', reason: 'no: undo the phase' });
      } else {
        await env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week2')).signal(abortSignal, { level: 3, by: 'oncall' });
      }
      const result = await handle.result();
      assert.equal(result.outcome, 'aborted');
      assert.equal(result.rollback?.level, 3, JSON.stringify(result.abort));
      for (const a of week1) assert.ok(result.rollback?.undone.includes(`week1/${a}`), `week 1's ${a} undone by the phase: ${JSON.stringify(result.rollback?.undone)}`);
      assert.deepEqual(result.applied, []);
      for (const view of await Promise.all([...week1, ...week2].map((a) => sim.agent(a)))) {
        assert.deepEqual(Object.keys(view.changes).filter((c) => c.startsWith(id)), [], `${view.name} has no stage of the phase left`);
      }
    });
  }

  it('a batch over its failure budget rolls the week back when the plan says so', async () => {
    const agents = ['LearningOrchestratorAgent', 'FeedbackHandlerAgent', 'AgentTrustScorerAgent'];
    await sim.fault('FeedbackHandlerAgent', { integrationFailing: true, clearOnUndo: true });
    const handle = await start(plan('budget-rollback', [{ agents, budget: { perBatch: 0, perWeek: 0, onExceeded: 'rollback-week' } }]));
    const result = await handle.result();
    assert.equal(result.outcome, 'stopped');
    assert.deepEqual(await versions(agents), ['1.0.0', '1.0.0', '1.0.0']);
    const week = await env.client.workflow.getHandle(weekWorkflowId('phase.budget-rollback', 'week1')).query(weekStatusQuery);
    assert.equal(week.rollback?.reason, 'failure budget exceeded');
    assert.equal(week.agents.find((a) => a.agent === 'FeedbackHandlerAgent')?.state, 'rolled-back');
  });

  it('a batch over its failure budget pauses for a human by default; resume carries on to the gate', async () => {
    const agents = ['GPUMonitorAgent', 'PC2GPUMonitorAgent'];
    await sim.fault('PC2GPUMonitorAgent', { integrationFailing: true, clearOnUndo: true });
    const handle = await start(plan('budget-pause', [{ agents, budget: { perBatch: 0, perWeek: 1, onExceeded: 'pause' } }]));
    const paused = await weekUntil('phase.budget-pause', 'week1', (s) => s.state === 'paused', 'the pause');
    assert.match(paused.pauseReason ?? '', /over its failure budget/);
    await handle.signal(resumeSignal, { by: 'alice' });
    await weekUntil('phase.budget-pause', 'week1', (s) => s.state === 'gate-open', 'the gate');
    const phase = await handle.query(phaseStatusQuery);
    assert.equal(phase.currentWeek, 'week1');
    await handle.signal(abortSignal, { level: 2, by: 'alice', reason: 'done looking' });
    const result = await handle.result();
    assert.equal(result.outcome, 'aborted');
    assert.deepEqual(await versions(agents), ['1.0.0', '1.0.0']);
  });

  it('a check step (the step kind added in one file and its plan file) passes a healthy fleet, and a failing agent rolls the week back', async () => {
    const agents = ['GoalManagerAgent', 'CacheManagerAgent'];
    const p = planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id: 'check-step',
      title: 'migrate, then check',
      thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
      weeks: [
        { id: 'week1', title: 'healthy', steps: [{ id: 'm1', migrate: { change: 'check-1', select: { agents }, batchSize: 2 } }, { id: 'c1', check: { select: { agents } } }], gate: { criteria: [{ kind: 'all-migrated' }] } },
        { id: 'week2', title: 'one agent broken after its week', steps: [{ id: 'm2', migrate: { change: 'check-2', select: { agents }, batchSize: 2 } }, { id: 'o2', observe: { durationMs: 3000 } }, { id: 'c2', check: { select: { agents } } }], gate: { criteria: [{ kind: 'all-migrated' }] } },
      ],
    });
    const handle = await start(p);
    const gate1 = await weekUntil('phase.check-step', 'week1', (s) => s.gate.open, 'week 1 gate');
    assert.equal(gate1.gate.report?.met, true, 'the check passed');
    await env.client.workflow.getHandle(weekWorkflowId('phase.check-step', 'week1')).executeUpdate(decideGateUpdate, { args: [{ gate: gate1.gate.id, decision: 'go', by: 'ivy' }] });
    await weekUntil('phase.check-step', 'week2', (s) => s.currentStep === 'o2', 'week 2 migrated, observing');
    await sim.fault('CacheManagerAgent', { integrationFailing: true, clearOnUndo: true });
    const result = await handle.result();
    assert.equal(result.outcome, 'stopped');
    const w2 = await env.client.workflow.getHandle(weekWorkflowId('phase.check-step', 'week2')).query(weekStatusQuery);
    assert.equal(w2.outcome, 'rolled-back');
    assert.match(w2.rollback?.reason ?? '', /check c2 failed: CacheManagerAgent/);
    for (const a of agents) assert.deepEqual((await sim.agent(a)).changes['check-2'], undefined, `${a}: week 2's change undone`);
    for (const a of agents) assert.deepEqual((await sim.agent(a)).changes['check-1'], [1, 2, 3], `${a}: week 1's change stays`);
  });
});
