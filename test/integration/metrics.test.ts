import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { scrape, sumOf, type PromSample } from '../support/prometheus';

// Two agents on each machine; one is made to fail its integration check, so the run has one
// level-1 rollback (trigger integration-failure), then the gate is decided "rollback-week"
// after a wait (a level-2 rollback and a gate wait to measure).
const agents = { mainpc: ['ChitchatAgent', 'GPUThermalAgent'], pc2: ['NotificationAgent', 'WebSearchAgent'] };
const failing = 'NotificationAgent';
const plan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'metrics',
  title: 'metrics of a run',
  thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
  timings: { baselineSamples: 3, rapidVerificationMs: 1000, stageVerificationMs: 1000, observationMs: 0 },
  weeks: [
    {
      id: 'week1',
      title: 'four agents, one fails',
      steps: [
        {
          id: 'migrate',
          migrate: {
            change: 'metrics-change',
            select: { agents: [...agents.mainpc, ...agents.pc2] },
            pilots: 0,
            batchSize: 4,
            maxConcurrentPerMachine: 2,
            failureBudget: { perBatch: 4, perWeek: 4, onExceeded: 'pause' },
          },
        },
      ],
      gate: { criteria: [{ kind: 'max-rollbacks', count: 0 }] },
    },
  ],
});

describe('Prometheus metrics of the workers match what the run did', () => {
  let env: TestStack;
  let week: WeekStatus;
  let waitedMs = 0;
  const endpoint = (worker: string) => `127.0.0.1:${env.config.deployment.metrics.ports[worker]}`;

  before(async () => {
    env = await startTestStack();
    await simulatorClient(env.simulatorAdmin).fault(failing, { integrationFailing: true, clearOnUndo: true });
    const handle = await env.client.workflow.start(phaseWorkflow, {
      taskQueue: env.config.deployment.controlTaskQueue,
      workflowId: 'phase.metrics',
      args: [phaseInput(plan, env.config.inventory)],
    });
    const weekHandle = env.client.workflow.getHandle(weekWorkflowId('phase.metrics', 'week1'));
    await until('the gate to open', 180_000, async () => ((await weekHandle.query(weekStatusQuery).catch(() => null))?.state === 'gate-open' ? true : undefined));
    const openedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2500));
    await weekHandle.executeUpdate(decideGateUpdate, { args: [{ gate: 'metrics.week1.gate', decision: 'rollback-week', by: 'dana', reason: 'a rollback in the week' }] });
    waitedMs = Date.now() - openedAt;
    await handle.result();
    week = await weekHandle.query(weekStatusQuery);
  });
  after(async () => env?.stop());

  /** The control worker records from workflows; a scrape may come before its last export, so poll. */
  async function scrapeUntil(worker: string, ok: (s: PromSample[]) => boolean): Promise<PromSample[]> {
    let last: PromSample[] = [];
    for (let i = 0; i < 50; i++) {
      last = await scrape(endpoint(worker));
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    return last;
  }

  it('the run went as planned: one agent rolled back by its trigger, then the week', () => {
    for (const [machine, names] of Object.entries(agents)) {
      for (const n of names) assert.equal(env.config.inventory.agents.find((a) => a.name === n)?.machine, machine, `${n} is on ${machine}`);
    }
    assert.equal(week.outcome, 'rolled-back');
    assert.equal(week.rollback?.undone.length, 3, 'the three migrated agents undone with the week');
    assert.deepEqual(week.agents.filter((a) => a.state === 'undone-with-week').map((a) => a.agent).sort(), [...agents.mainpc, ...agents.pc2].filter((a) => a !== failing).sort());
  });

  it('the control worker counts rollbacks by level and triggers by kind as the workflows report them', async () => {
    const rolledBack = await Promise.all(
      week.agents.map(async (a) => env.client.workflow.getHandle(a.workflowId).query(agentMigrationStatusQuery)),
    ).then((all) => all.filter((s) => s.rollback));
    assert.equal(rolledBack.length, 1);
    const m = await scrapeUntil('control', (s) => sumOf(s, 'phasegate_rollbacks_total', { level: '2' }) >= 1);
    assert.equal(sumOf(m, 'phasegate_rollbacks_total', { level: '1' }), rolledBack.length, 'level-1 rollbacks = migrations that rolled back');
    assert.equal(sumOf(m, 'phasegate_rollbacks_total', { level: '2' }), 1, 'one week rollback');
    assert.equal(sumOf(m, 'phasegate_rollbacks_total', { level: '3' }), 0, 'no phase rollback');
    const kinds = rolledBack.map((s) => s.trigger!.kind);
    assert.deepEqual(kinds, ['integration-failure']);
    assert.equal(sumOf(m, 'phasegate_triggers_total', { kind: 'integration-failure', machine: 'pc2' }), 1, `${failing} is on pc2`);
    assert.equal(sumOf(m, 'phasegate_triggers_total'), kinds.length, 'no other trigger counted');
  });

  it('the gate wait is the time between the gate opening and the decision', async () => {
    const m = await scrapeUntil('control', (s) => sumOf(s, 'phasegate_gate_wait_ms_count') >= 1);
    assert.equal(sumOf(m, 'phasegate_gate_wait_ms_count', { decision: 'rollback-week' }), 1);
    const recorded = sumOf(m, 'phasegate_gate_wait_ms_sum', { decision: 'rollback-week' });
    assert.ok(recorded >= 2000 && recorded <= waitedMs + 1000, `gate wait ${recorded} ms (the test waited ${waitedMs} ms from seeing it open)`);
  });

  it('agents by state per machine agree with the week status', async () => {
    const m = await scrapeUntil('control', (s) => sumOf(s, 'phasegate_agents', { state: 'undone-with-week' }) >= 3);
    for (const machine of ['mainpc', 'pc2']) {
      for (const state of ['undone-with-week', 'rolled-back', 'migrated', 'running', 'waiting']) {
        const expected = week.agents.filter((a) => a.machine === machine && a.state === state).length;
        assert.equal(sumOf(m, 'phasegate_agents', { phase: 'metrics', week: 'week1', machine, state }), expected, `${machine} ${state}`);
      }
    }
  });

  it("each machine worker times its own probes, and the SDK's own metrics are served beside them", async () => {
    for (const machine of ['mainpc', 'pc2'] as const) {
      const m = await scrape(endpoint(machine));
      // Every verification sample and every baseline sample reads the health endpoint once.
      const baselineSamples = plan.timings.baselineSamples * agents[machine].length;
      for (const probe of ['response', 'gpu', 'load']) {
        const n = sumOf(m, 'phasegate_probe_latency_ms_count', { machine, probe });
        assert.ok(n >= baselineSamples, `${machine} ${probe} probes timed: ${n} (at least the ${baselineSamples} baseline samples)`);
      }
      assert.equal(sumOf(m, 'phasegate_probe_latency_ms_count', { machine: machine === 'mainpc' ? 'pc2' : 'mainpc' }), 0, 'a worker times only its own machine');
      assert.ok(sumOf(m, 'phasegate_probe_latency_ms_count', { machine, probe: 'integration' }) > 0, 'integration checks timed');
      assert.ok(m.every((s) => s.labels.phasegate_worker === machine), 'every series names its worker');
      assert.ok(sumOf(m, 'temporal_activity_execution_latency_count') > 0, "the SDK's activity metrics");
    }
    const control = await scrape(endpoint('control'));
    assert.equal(sumOf(control, 'temporal_workflow_completed_total', { workflow_type: 'agentMigrationWorkflow' }), week.agents.length, 'one completed migration workflow per agent');
    assert.equal(sumOf(control, 'temporal_workflow_completed_total', { workflow_type: 'phaseWorkflow' }), 1);
  });
});
