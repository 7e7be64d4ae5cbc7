import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadPlan } from '../../config/load';
import { phaseInput } from '../../plan/compile';
import { generateFleet } from '../../simulator/generate-fleet';
import { phaseStatusQuery, phaseWorkflow } from '../../workflows/phase';
import type { rollbackChunkWorkflow } from '../../workflows/rollback-chunk';
import { abortSignal, pauseSignal } from '../../workflows/lib/steering';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { checkInvariants } from '../checker/invariants';
import { streamMarks } from '../checker/run-schedule';
import type { Schedule } from '../checker/schedule';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

/**
 * The week's own history stays bounded at any fleet size (workflows/week/new-run.ts): a
 * generated fleet of 200 agents on 5 machines (simulator/generate-fleet.ts), with the plan's
 * history limit lowered so that the week must carry on in new runs (300 events, rounds of 25
 * migrations; the defaults are 5,000 and 400: the week's whole history here is well over 600
 * events, at least three a migration, so at least two runs and mostly three or four). Pilots,
 * batches, four agents that fail after their change, and the gate decided by a person. Then
 * every history of the phase is measured, and the simulator's record is held against
 * phasegate's with the randomized checker's invariants (test/checker/invariants.ts).
 */
describe('a week of 200 agents on 5 machines carries on in new runs, its histories bounded, the fleet as the record says', () => {
  const limits = { newRunAfterEvents: 300, migrationsPerRound: 25 };
  const fleet = generateFleet({ agents: 200, machines: 5, actions: 'curl', pilots: 3, batchSize: 70, maxConcurrentPerMachine: 4, history: limits });
  let env: TestStack;

  before(async () => {
    env = await startTestStack({ fleet });
  });
  after(async () => env?.stop());

  it('every run under its bound, four rollbacks and 196 migrations on the machines as in the record', { timeout: 15 * 60_000 }, async () => {
    const planFile = path.join(env.config.configDir, 'plans', 'scale.json');
    writeFileSync(planFile, JSON.stringify(fleet.plan));
    const plan = loadPlan(planFile, env.config);
    const sim = simulatorClient(env.simulatorAdmin);
    // Four agents of later batches fail their integration check once changed.
    const failing = ['Agent00050', 'Agent00101', 'Agent00152', 'Agent00199'];
    for (const a of failing) await sim.fault(a, { integrationFailing: true, clearOnUndo: true });
    const since = await streamMarks(env);
    const started = Date.now();
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.scale.${started}`, args: [phaseInput(plan, env.config.inventory)] });
    const weekId = `${handle.workflowId}.week1`;

    // The person at the gate: go, once it opens.
    let week: WeekStatus | null = null;
    for (;;) {
      week = await env.client.workflow.getHandle(weekId).query(weekStatusQuery).catch(() => null);
      if (week?.gate.open) break;
      assert.ok(Date.now() - started < 12 * 60_000, `the gate did not open: ${JSON.stringify(week?.batches)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const atGate = Date.now();
    await env.client.workflow.getHandle(weekId).executeUpdate(decideGateUpdate, { args: [{ gate: week.gate.id, decision: 'go', by: 'scale-test' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');

    const final = await env.client.workflow.getHandle(weekId).query(weekStatusQuery);
    const byState = final.agents.reduce<Record<string, number>>((m, a) => ((m[a.state] = (m[a.state] ?? 0) + 1), m), {});
    assert.deepEqual(byState, { migrated: 196, 'rolled-back': 4 }, JSON.stringify(byState));
    assert.deepEqual(final.agents.filter((a) => a.state === 'rolled-back').map((a) => a.agent).sort(), failing);

    // Every run of every workflow of the phase, its history measured.
    const sizes: Array<{ id: string; type: string; status: string; events: number }> = [];
    for await (const w of env.client.workflow.list({ query: `PhasegatePhase="${plan.id}"` })) {
      const h = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      sizes.push({ id: w.workflowId, type: w.type, status: w.status.name, events: h.events?.length ?? 0 });
    }
    // Listed newest first: the run that finished the week, then the runs it carried on from.
    const weekRuns = sizes.filter((x) => x.id === weekId);
    const handedOn = weekRuns.filter((x) => x.status === 'CONTINUED_AS_NEW');
    const runSizes = weekRuns.map((x) => `${x.events} (${x.status})`).join(', ');
    assert.equal(weekRuns.length, final.history?.runs ?? 1, `one visible run per run the status counts: ${runSizes}; status ${JSON.stringify(final.history)}`);
    assert.equal(handedOn.length, weekRuns.length - 1, runSizes);
    // How many runs depends on how many events the server batched into each workflow task (a
    // busy machine batches more), so the count is not fixed. What is fixed: the week did carry
    // on, and each run it handed on had reached the plan's limit first, so no run ended early.
    assert.ok(handedOn.length >= 1, `the week should have carried on in new runs: ${runSizes}`);
    assert.ok(handedOn.every((x) => x.events >= limits.newRunAfterEvents), `a run handed on before the limit of ${limits.newRunAfterEvents}: ${runSizes}`);
    // The limit, then the round under way (about 7 events a migration, 25 a round), then the gate and the end.
    const bound = limits.newRunAfterEvents + limits.migrationsPerRound * 10 + 150;
    const largest = sizes.reduce((m, x) => (x.events > m.events ? x : m));
    assert.ok(weekRuns.every((x) => x.events <= bound), `a run of the week over ${bound} events: ${weekRuns.map((x) => x.events).join(', ')}`);
    assert.ok(largest.events <= bound, `largest history ${largest.events} (${largest.type} ${largest.id}) over ${bound}`);

    // The fleet against the record: the simulator's every action and every agent's stages.
    const schedule: Schedule = { seed: 0, plan, policy: { gate: 'go', undo: 'accept', approval: 'approve', inconclusive: 'accept', preflight: 'skip', preflightAnswerAfterMs: 0 }, actions: [] };
    const report = await checkInvariants(env, schedule, [handle.workflowId], since, true);
    assert.deepEqual(report.violations, []);
    const agents = await sim.agents();
    const changed = agents.filter((a) => (a.changes['scale-change'] ?? []).length === 3).map((a) => a.name);
    assert.equal(changed.length, 196);
    assert.ok(failing.every((f) => !(agents.find((a) => a.name === f)!.changes['scale-change'] ?? []).length), 'the four failing agents hold no stage');

    const rolloutMs = atGate - started;
    process.stdout.write(
      `# 200 agents on 5 machines: to the gate in ${(rolloutMs / 1000).toFixed(1)} s (${Math.round(rolloutMs / 200)} ms per agent); the week ran in ${weekRuns.length} runs of ${weekRuns.map((x) => x.events).join(', ')} events (bound ${bound}); largest history of the phase ${largest.events} (${largest.type}); ${report.actionsChecked} simulator actions checked\n`,
    );
  });

  it('paused and then aborted at level 2 after the week has carried on in a new run: the latest run holds, then undoes every change of the week in child workflows of at most four undos', { timeout: 10 * 60_000 }, async () => {
    const agents = fleet.inventory.agents.slice(0, 40).map((a) => a.name);
    const plan = {
      ...(fleet.plan as object),
      id: 'scale-abort',
      title: 'forty agents, a pause and a level-2 abort across new runs',
      history: { newRunAfterEvents: 100, migrationsPerRound: 5, undosPerChild: 4 },
      weeks: [{ id: 'week1', title: 'forty agents', steps: [{ id: 'forty', migrate: { change: 'abort-change', select: { agents }, pilots: 0, batchSize: 40, maxConcurrentPerMachine: 1, failureBudget: { perBatch: 40, perWeek: 40, onExceeded: 'pause' } } }], gate: { criteria: [{ kind: 'max-rollbacks', count: 40 }] } }],
    };
    const planFile = path.join(env.config.configDir, 'plans', 'scale-abort.json');
    writeFileSync(planFile, JSON.stringify(plan));
    const loaded = loadPlan(planFile, env.config);
    const sim = simulatorClient(env.simulatorAdmin);
    const since = await streamMarks(env);
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.scale-abort.${Date.now()}`, args: [phaseInput(loaded, env.config.inventory)] });
    const week = env.client.workflow.getHandle(`${handle.workflowId}.week1`);
    const until = async (what: string, ok: (w: WeekStatus) => boolean) => {
      let last: WeekStatus | null = null;
      for (let i = 0; i < 600; i++) {
        const w = await week.query(weekStatusQuery).catch(() => null);
        if (w && ok(w)) return w;
        last = w ?? last;
        await new Promise((r) => setTimeout(r, 500));
      }
      // What the week and the phase said last, and the steering signals each run of the week received.
      const phase = await handle.query(phaseStatusQuery).catch((e: unknown) => String(e));
      const signals: string[] = [];
      for await (const r of env.client.workflow.list({ query: `WorkflowId = "${week.workflowId}"` })) {
        const h = await env.client.workflow.getHandle(r.workflowId, r.runId).fetchHistory();
        signals.push(`${r.runId.slice(0, 8)} ${r.status.name}: ${(h.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => e.workflowExecutionSignaledEventAttributes!.signalName).join(',')}`);
      }
      throw new Error(
        `timed out waiting for ${what}; the week last said ${JSON.stringify({ state: last?.state, pauseReason: last?.pauseReason, history: last?.history, batches: last?.batches })}; the phase ${JSON.stringify(typeof phase === 'string' ? phase : { state: phase.state, paused: phase.paused })}; signals by run: ${signals.join(' | ')}`,
      );
    };
    await until('a second run of the week', (w) => (w.history?.runs ?? 1) >= 2);
    // The phase passes the pause to the week's latest run, which passes it to its migrations.
    await handle.signal(pauseSignal, { by: 'scale-test', reason: 'hold across runs' });
    const paused = await until('the week to hold', (w) => w.state === 'paused');
    const started = (w: WeekStatus) => w.agents.filter((a) => a.state !== 'waiting').length;
    await new Promise((r) => setTimeout(r, 3000));
    const still = await week.query(weekStatusQuery);
    assert.equal(started(still), started(paused), 'no migration started while paused');
    const doneWhenPaused = still.agents.filter((a) => a.state === 'migrated').length;
    await handle.signal(abortSignal, { level: 2, by: 'scale-test', reason: 'stop the line' });
    const result = await handle.result();
    assert.equal(result.outcome, 'aborted');
    const final = await week.query(weekStatusQuery);
    assert.equal(final.outcome, 'aborted');
    assert.ok((final.history?.runs ?? 1) >= 2);
    assert.ok(doneWhenPaused > 0, 'some agents were migrated before the abort');
    assert.equal(final.rollback?.level, 2);
    assert.deepEqual(final.applied, [], 'nothing of the week left applied');
    const holding = (await sim.agents()).filter((a) => (a.changes['abort-change'] ?? []).length > 0).map((a) => a.name);
    assert.deepEqual(holding, [], 'no agent holds a stage of the change on the machines');
    const schedule: Schedule = { seed: 0, plan: loaded, policy: { gate: 'go', undo: 'accept', approval: 'approve', inconclusive: 'accept', preflight: 'skip', preflightAnswerAfterMs: 0 }, actions: [] };
    const report = await checkInvariants(env, schedule, [handle.workflowId], since, true);
    assert.deepEqual(report.violations, []);

    // The rollback's undos ran in children of at most four each, each machine's changes dealt
    // into up to four lanes (workflows/rollback/children.ts); together they undid what the
    // week's record lists.
    const children: Array<{ id: string; events: number; done: number }> = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowType = "rollbackChunkWorkflow" AND PhasegatePhase = "scale-abort"` })) {
      const h = env.client.workflow.getHandle<typeof rollbackChunkWorkflow>(w.workflowId, w.runId);
      const out = await h.result();
      assert.equal(out.handedBack, null, `${w.workflowId} handed an undo back`);
      assert.ok(out.done.length >= 1 && out.done.length <= 4, `${w.workflowId} undid ${out.done.length} changes`);
      children.push({ id: w.workflowId, events: (await h.fetchHistory()).events?.length ?? 0, done: out.done.length });
    }
    const machinesRolledBack = new Set(final.rollback!.changes.map((c) => fleet.inventory.agents.find((a) => a.name === c.name)!.machine));
    const lanesOf = (n: number) => Array.from({ length: Math.min(4, n) }, (_, j) => Math.ceil((n - j) / Math.min(4, n)));
    const expected = [...machinesRolledBack]
      .map((mc) => final.rollback!.changes.filter((c) => fleet.inventory.agents.find((a) => a.name === c.name)!.machine === mc).length)
      .reduce((n, onMachine) => n + lanesOf(onMachine).reduce((k, lane) => k + Math.ceil(lane / 4), 0), 0);
    assert.equal(children.length, expected, `children: ${children.map((c) => c.id).join(', ')}`);
    assert.equal(children.reduce((n, c) => n + c.done, 0), final.rollback!.changes.length);
    assert.ok(final.rollback!.changes.every((c) => c.result === 'undone'));
    process.stdout.write(
      `# abort across new runs: ${doneWhenPaused} agents migrated before the pause, the week in ${final.history?.runs} runs, ${final.rollback?.changes.length} changes undone by its level-2 rollback in ${children.length} child workflows of ${children.map((c) => c.events).join(', ')} events\n`,
    );
  });
});
