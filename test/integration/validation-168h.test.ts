import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { validateStepSchema } from '../../config/schema/plan';
import { streams } from '../../lib/nats';
import { validationInput } from '../../plan/compile';
import { validationWorkflow, type ValidationResult } from '../../workflows/validation';
import { simulatorClient, startTimeSkippingStack } from '../support/harness';

const minute = 60_000;
const hour = 60 * minute;
// The fleet's heartbeat intervals in this test: the precision the validation promises.
const agentIntervalMs = 60_000;
const hubIntervalMs = 5_000;

describe('168-hour validation over the 77-agent simulated fleet (time-skipping test server, heartbeats over JetStream)', () => {
  let env: Awaited<ReturnType<typeof startTimeSkippingStack>>;
  let server: TestWorkflowEnvironment;
  let sim: ReturnType<typeof simulatorClient>;

  before(async () => {
    env = await startTimeSkippingStack({ edit: ({ inventory }) => (inventory.heartbeats = { agentIntervalMs, hubIntervalMs }) });
    server = env.server;
    sim = simulatorClient(env.simulatorAdmin);
    // The simulator's fleet clock stops following the wall clock and follows the test server's.
    await sim.clock({ virtual: await server.currentTimeMs() });
  });
  after(async () => env?.stop());

  /**
   * Runs a validation to its end. The simulator's clock is kept just ahead of the server's, so
   * when a window closes its heartbeats are already in JetStream; the server skips the hours
   * in between (activities, which run in real time, hold it while they read).
   */
  async function runValidation(workflowId: string, hours: number): Promise<{ result: ValidationResult; realSeconds: number }> {
    const settings = validateStepSchema.parse({ durationMs: hours * hour, windowMs: hour });
    const input = validationInput(settings, env.config.inventory, workflowId);
    const started = Date.now();
    const handle = await env.client.workflow.start(validationWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId, args: [input] });
    for (;;) {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') break;
      await sim.clock({ advanceTo: (await server.currentTimeMs()) + hour + 10_000 });
      await server.sleep(hour);
    }
    return { result: await handle.result(), realSeconds: (Date.now() - started) / 1000 };
  }

  it('measures an agent down 7 minutes, EdgeHub down 30 s with failover, and a flapping agent, each within one sampling interval, with bounded history', async () => {
    const t0 = await server.currentTimeMs();
    const down7 = { kind: 'agent' as const, name: 'ModelLoaderAgent', from: t0 + 20 * hour + 13_000, to: t0 + 20 * hour + 13_000 + 7 * minute };
    const edgeHub = { kind: 'hub' as const, name: 'EdgeHub', from: t0 + 50 * hour + 7_000, to: t0 + 50 * hour + 37_000 };
    const flaps = [0, 1, 2, 3, 4].map((i) => ({ kind: 'agent' as const, name: 'OCRModelAgent', from: t0 + 100 * hour + i * 10 * minute, to: t0 + 100 * hour + i * 10 * minute + 2 * minute }));
    await sim.outages([down7, edgeHub, ...flaps]);

    const { result, realSeconds } = await runValidation('validation.test-168h', 168);
    const r = result.report;
    const agent = (name: string) => r.agents.find((a) => a.name === name)!;

    assert.equal(r.coveredHours, 168);
    assert.equal(r.agents.length, 77);
    assert.ok(Math.abs(agent('ModelLoaderAgent').downMs - 7 * minute) <= agentIntervalMs, `ModelLoaderAgent down ${agent('ModelLoaderAgent').downMs} ms`);
    assert.equal(agent('ModelLoaderAgent').restarts, 1);
    const flapIncidents = r.incidents.filter((i) => i.name === 'OCRModelAgent');
    assert.equal(flapIncidents.length, 5);
    for (const i of flapIncidents) assert.ok(Math.abs(i.downMs - 2 * minute) <= agentIntervalMs, `flap down ${i.downMs} ms`);
    assert.ok(Math.abs(agent('OCRModelAgent').downMs - 10 * minute) <= 5 * agentIntervalMs);
    const edge = r.hubs.find((h) => h.name === 'EdgeHub')!;
    assert.ok(Math.abs(edge.downMs - 30_000) <= hubIntervalMs, `EdgeHub down ${edge.downMs} ms`);
    assert.equal(r.hubs.find((h) => h.name === 'CentralHub')!.downMs, 0);
    for (const a of r.agents) if (!['ModelLoaderAgent', 'OCRModelAgent'].includes(a.name)) assert.equal(a.downMs, 0, a.name);

    // Every pc2 agent (EdgeHub's) failed over to CentralHub and came back when EdgeHub did.
    const pc2Agents = env.config.inventory.agents.filter((a) => a.machine === 'pc2').length;
    assert.equal(r.failovers.length, pc2Agents);
    for (const f of r.failovers) {
      assert.equal(f.fromHub, 'EdgeHub');
      assert.equal(f.toHub, 'CentralHub');
      assert.equal(f.failoverMs, env.config.deployment.simulator.failoverDetectMs);
      assert.equal(f.recoveredMs, 30_000);
    }
    const kpi = (id: string) => r.kpis.find((k) => k.id === id)!;
    assert.equal(kpi('failover-time').verdict, 'target');
    assert.equal(kpi('message-delivery').value, 100);
    assert.equal(kpi('recovery-time').verdict, 'missed', 'the 7-minute outage is over the 5-minute recovery floor');
    // (7 + 10) agent-minutes among 77 agents: 0.22 min of the 10.08 min budget.
    assert.equal(r.verdict, 'passed');
    assert.ok(r.budget.spentMs > 0 && r.budget.spentMs < 0.3 * minute, `spent ${r.budget.spentMs}`);
    assert.ok(kpi('system-uptime').value! >= 99.99);

    // Every run's history, read back from the server along the continue-as-new chain.
    const sizes: number[] = [];
    for (let runId: string | undefined = undefined; ; ) {
      const history = await env.client.workflow.getHandle('validation.test-168h', runId).fetchHistory();
      sizes.unshift(history.events!.length);
      runId = history.events![0]!.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      if (!runId) break;
    }
    assert.equal(sizes.length, r.history.runs, `continued as new: ${sizes.length} runs`);
    assert.ok(sizes.length >= 2);
    assert.ok(Math.max(...sizes) < 10_000, `largest history ${Math.max(...sizes)} events`);
    assert.ok(r.history.largestRunEvents <= Math.max(...sizes));
    assert.equal(r.history.windows, 168);
    assert.match(result.markdown, /\| ModelLoaderAgent \| mainpc \| 99\.9\d* % \| 7\.\d min \| 1 \|/);
    assert.match(result.markdown, /\| EdgeHub \| pc2 \| 99\.99\d* % \| \d\d\.\d s \|/);
    console.log(`168-hour validation: ${r.history.windows} windows in ${sizes.length} runs of ${sizes.join(', ')} history events (largest ${Math.max(...sizes)}), ${realSeconds.toFixed(0)} s real time`);
    console.log(`  ModelLoaderAgent down ${agent('ModelLoaderAgent').downMs / 1000} s (injected 420), OCRModelAgent ${agent('OCRModelAgent').downMs / 1000} s over 5 flaps (injected 600), EdgeHub ${edge.downMs / 1000} s (injected 30), failover ${kpi('failover-time').value} ms`);
  });

  it('a validation whose error budget is spent on day 2 ends early with a failed report and a level-2 alert', async () => {
    // The fleet clock is a little ahead of the server after the first run; start from wherever is later.
    const clock = await sim.clock({});
    const t0 = Math.max(clock.now, await server.currentTimeMs());
    await sim.clock({ virtual: t0 });
    // All 40 pc2 agents down 25 minutes on day 2: 40 x 25 / 77 = 13 min of fleet-wide downtime.
    const day2 = t0 + 30 * hour;
    const pc2 = env.config.inventory.agents.filter((a) => a.machine === 'pc2').map((a) => a.name);
    await sim.outages(pc2.map((name) => ({ kind: 'agent' as const, name, from: day2, to: day2 + 25 * minute })));

    const { result } = await runValidation('validation.test-budget', 168);
    const r = result.report;
    assert.equal(r.verdict, 'failed');
    assert.equal(r.endedEarly, true);
    assert.match(r.reason, /error budget spent/);
    assert.ok(r.coveredHours > 30 && r.coveredHours <= 32, `ended after ${r.coveredHours} h`);
    assert.ok(r.budget.spentMs > r.budget.budgetMs);
    assert.match(result.markdown, /: FAILED/);

    const js = env.nats.jetstream();
    const consumer = await js.consumers.get(streams.alerts.name, { filterSubjects: ['phasegate.alerts.level2'] });
    const titles: string[] = [];
    for (;;) {
      const m = await consumer.next({ expires: 2000 });
      if (!m) break;
      titles.push(m.json<{ title: string }>().title);
    }
    assert.ok(titles.some((t) => t.includes('validation.test-budget failed: error budget spent')), `level-2 alerts: ${titles.join(' | ')}`);
  });
});
