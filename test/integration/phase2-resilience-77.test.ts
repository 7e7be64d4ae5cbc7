import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadPlan } from '../../config/load';
import { newKeyPair, signDecision } from '../../cli/sign';
import { defaultConfigDir } from '../../lib/paths';
import { phaseInput } from '../../plan/compile';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery } from '../../workflows/week';
import { simulatorClient, startTimeSkippingStack } from '../support/harness';

const hour = 3_600_000;

describe('Phase 2 resilience plan over the whole 77-agent simulated fleet (time-skipping test server)', () => {
  let env: Awaited<ReturnType<typeof startTimeSkippingStack>>;
  let server: TestWorkflowEnvironment;
  let operator: { entry: { name: string; publicKey: string }; keyFile: string };
  before(async () => {
    // Heartbeats once a minute: 216 simulated hours of them for 77 agents stay a few hundred thousand messages.
    // The shipped plan takes only signed decisions: the operator at the gates has a key, and
    // the deployment lists its public half.
    const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'phasegate-operator-')), 'test-operator.key');
    operator = { entry: newKeyPair('test-operator', keyFile), keyFile };
    env = await startTimeSkippingStack({
      edit: ({ inventory, deployment }) => {
        inventory.heartbeats = { agentIntervalMs: 60_000, hubIntervalMs: 60_000 };
        deployment.people = [operator.entry];
      },
    });
    server = env.server;
  });
  after(async () => env?.stop());

  it('runs the four weeks to the end with each gate decided by Update, and every agent ends migrated', async () => {
    const plan = loadPlan(path.join(defaultConfigDir, 'plans', 'phase2-resilience.json'), env.config);
    // The plan as shipped, with short verification windows: activities run in real time while
    // the server skips only the timers (24 h chaos window, 168 h validation). The framework
    // agents' own 24 h observation is covered by observation-24h.test.
    plan.timings = { ...plan.timings, baselineSamples: 2, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 };
    // 77 simulated agents answer from one process on a 2-core machine that also runs the test
    // server and the workers: a health answer of 11 ms can take 66 ms there, which the plan's
    // 10 % degradation rule (50 ms floor) takes for a slower agent and rolls it back (seen in
    // CI). Degradation is not what this test is about; the floor is raised to a second.
    plan.thresholds = { ...plan.thresholds, sampleIntervalMs: 250, degradationMinDeltaMs: 1000 };
    // The Java test server stops skipping time after a long heartbeating activity such as the
    // link watch; links are watched in the dev-server suites (partition.test).
    plan.watchLinks = false;
    // The 168-hour validation accounts per hour here (5 minutes in the plan) to keep the test short.
    for (const st of plan.weeks.flatMap((w) => w.steps)) if (st.validate) st.validate.windowMs = hour;
    const input = phaseInput(plan, env.config.inventory, env.config.deployment);
    const started = Date.now();
    // The fleet's heartbeats follow the test server's clock (see validation-168h.test).
    const sim = simulatorClient(env.simulatorAdmin);
    await sim.clock({ virtual: await server.currentTimeMs() });
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.phase2-resilience.ts', args: [input] });
    const startTime = await server.currentTimeMs();

    // An operator at the gates approves each week as its gate opens. Time skipping stays
    // locked while migrations run (their activities run in real time); when a week waits on
    // its 24 h chaos window or its 168 h validation, the test skips that time explicitly.
    const timedSteps = new Set(plan.weeks.flatMap((w) => w.steps.filter((st) => st.observe || st.validate).map((st) => st.id)));
    const decided: string[] = [];
    let skippedHours = 0;
    for (;;) {
      const phase = await handle.query(phaseStatusQuery);
      if (phase.state === 'done') break;
      const week = phase.currentWeek ? env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, phase.currentWeek)) : null;
      const s = week ? await week.query(weekStatusQuery).catch(() => null) : null;
      if (s?.state === 'gate-open' && !decided.includes(s.week)) {
        const d = { gate: s.gate.id, decision: 'go' as const, by: 'test-operator', reason: s.gate.report?.met ? 'criteria met' : `override: ${s.gate.report?.criteria.filter((c) => !c.met).map((c) => c.detail).join('; ')}` };
        // Signed at the server's (skipped-ahead) time: the workflow refuses a signature more than 10 minutes off its clock.
        const signature = signDecision(operator.keyFile, { workflowId: week!.workflowId, subject: d.gate, decision: d.decision, by: d.by, reason: d.reason }, new Date(await server.currentTimeMs()));
        await week!.executeUpdate(decideGateUpdate, { args: [{ ...d, signature }] });
        assert.equal((await week!.query(weekStatusQuery)).gate.decisions.at(-1)?.verified, 'signature');
        decided.push(s.week);
      } else if (s?.currentStep && timedSteps.has(s.currentStep)) {
        await sim.clock({ advanceTo: (await server.currentTimeMs()) + hour + 10_000 });
        await server.sleep('1 hour');
        skippedHours += 1;
      } else {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // Read the clock before result(): with nothing left to wait for, the test server may jump
    // far ahead once time skipping is unlocked.
    const simulatedHours = ((await server.currentTimeMs()) - startTime) / hour;
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.weeks.map((w) => w.outcome), ['passed', 'passed', 'passed', 'passed']);
    assert.deepEqual(decided, ['week1', 'week2', 'week3', 'week4']);
    // 24 h chaos window + 168 h validation + 24 h tuning, give or take the hour being skipped.
    assert.ok(simulatedHours >= 216 && simulatedHours < 220, `the timed steps took ${simulatedHours.toFixed(1)} h of server time`);
    assert.ok(skippedHours >= 216 && skippedHours < 220);

    const agents = await sim.agents();
    assert.equal(agents.length, 77);
    // What the weeks recorded of each agent, to say why when the fleet disagrees.
    const recorded = new Map<string, unknown>();
    for (const w of ['week1', 'week2', 'week3']) {
      for (const a of (await env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, w)).query(weekStatusQuery)).agents) recorded.set(`${w} ${a.agent}`, a);
    }
    const recordOf = (name: string) => JSON.stringify([...recorded].filter(([k]) => k.endsWith(` ${name}`)));
    for (const a of agents) {
      if (a.machine === 'pc2') assert.equal(a.version, '1.0.0+edgehub', `${a.name}: ${recordOf(a.name)}`);
      else assert.equal(a.version, '1.0.0+dual-hub', `${a.name}: ${recordOf(a.name)}`);
      assert.deepEqual(a.faults.crashed, false);
    }
    const components = (await (await fetch(`${env.simulatorAdmin}/components`)).json()) as Record<string, { machine: string; up: boolean }>;
    for (const name of ['EdgeHub', 'Pushgateway-pc2', 'Pushgateway-mainpc', 'NATS-Main-cluster', 'NATS-PC2-cluster', 'EdgeHub-failover', 'CentralHub-failover', 'partition-handling']) {
      assert.equal(components[name]?.up, true, `${name} deployed`);
    }
    const week4 = await env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week4')).query(weekStatusQuery);
    // Week 4's gate read the uptime its 168-hour validation measured from the fleet's heartbeats.
    assert.equal(week4.validation?.verdict, 'passed');
    assert.equal(week4.validation?.uptimePercent, 100);
    assert.equal(week4.gate.report?.met, true, JSON.stringify(week4.gate.report));
    assert.match(week4.gate.report!.criteria[0]!.detail, /uptime 100 % \(at least 99\.9 %\)/);
    assert.equal(week4.gate.decisions[0]?.by, 'test-operator');
    console.log(`phase2-resilience: 77 agents, 4 weeks, ${simulatedHours.toFixed(0)} simulated hours in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    // History sizes of every workflow of the run (the phase, its weeks, each agent's migration,
    // each run of the validation): the largest must stay far below the server's 51 200 events.
    const sizes: Array<{ type: string; workflowId: string; events: number }> = [];
    const add = async (type: string, workflowId: string, runId?: string) => {
      const h = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      sizes.push({ type, workflowId: runId ? `${workflowId} (run ${runId.slice(0, 8)})` : workflowId, events: h.events?.length ?? 0 });
      return h;
    };
    await add('phaseWorkflow', handle.workflowId);
    for (const w of ['week1', 'week2', 'week3', 'week4']) {
      const id = weekWorkflowId(handle.workflowId, w);
      await add('weekWorkflow', id);
      const ws = await env.client.workflow.getHandle(id).query(weekStatusQuery);
      for (const a of ws.agents) await add('agentMigrationWorkflow', a.workflowId);
    }
    // The validation continues as new: walk its runs from the first.
    const validationId = week4.validation!.workflowId;
    const week4History = await env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week4')).fetchHistory();
    let runId: string | undefined =
      week4History.events?.find((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId === validationId)?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.runId ?? undefined;
    while (runId) {
      const h = await add('validationWorkflow', validationId, runId);
      runId = h.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    const largest = sizes.reduce((a, b) => (b.events > a.events ? b : a));
    assert.ok(largest.events < 10_000, `largest history ${largest.events} events (${largest.workflowId})`);
    const byType: Record<string, { workflows: number; p50: number; max: number }> = {};
    for (const type of new Set(sizes.map((x) => x.type))) {
      const xs = sizes.filter((x) => x.type === type).map((x) => x.events).sort((a, b) => a - b);
      byType[type] = { workflows: xs.length, p50: xs[Math.floor((xs.length - 1) / 2)]!, max: xs.at(-1)! };
    }
    console.log(`phase2-resilience histories: largest ${largest.events} events (${largest.workflowId}); ${Object.entries(byType).map(([t, v]) => `${t} x${v.workflows} p50 ${v.p50} max ${v.max}`).join('; ')}`);
    if (process.env.PHASEGATE_HISTORY_SIZES_OUT) writeFileSync(process.env.PHASEGATE_HISTORY_SIZES_OUT, JSON.stringify({ largest, byType, sizes }, null, 2));
  });
});
