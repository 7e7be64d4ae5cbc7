import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { readStatus, renderStatus } from '../../cli/status';
import { streams } from '../../lib/nats';
import { renderPhaseReport } from '../../render/phase-report';
import { agentMigrationStatusQuery, approveStageUpdate, type agentMigrationWorkflow } from '../../workflows/agent-migration';
import { resumeSignal } from '../../workflows/lib/steering';
import { phaseStatusQuery, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { fastPlan, startMigration, waitForStatus } from '../support/migration';
import { messagesOf, quickSettings, startPhase, useTestStack } from '../support/phase-run';
import { scrape, sumOf } from '../support/prometheus';

/**
 * Progress deadlines (plan: `timings.deadlines`, decisions/deadlines.ts) on the real dev server,
 * each case checked on the machines too. A command that does not return in time is caught by
 * its step's deadline: a level-2 alert names the action still running, and the plan's action
 * follows (the migration and its week pause, or the migration rolls back); a week that has not
 * reached its gate in time pauses or is rolled back at level 2. Time paused does not count.
 */
function plan(id: string, agents: string[], deadlines: object) {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title: id,
    thresholds: quickSettings.thresholds,
    timings: { ...quickSettings.timings, deadlines },
    weeks: [{ id: 'week1', title: 'week 1', steps: [{ id: 'migrate', migrate: { change: `${id}-change`, select: { agents }, pilots: 0, batchSize: agents.length, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 5, perWeek: 5, onExceeded: 'pause' } } }], gate: { criteria: [] } }],
  });
}

describe('progress deadlines of steps and weeks, on the real dev server', () => {
  const stack = useTestStack();
  const start = (p: ReturnType<typeof plan>) => startPhase(stack.env, p, { autoApproveGates: { by: 'deadline-test' } });
  const week = (id: string) => stack.env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week1'));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, limitMs = 60_000): Promise<T> {
    const deadline = Date.now() + limitMs;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await read().catch(() => undefined as T);
      if (last !== undefined && ok(last)) return last;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`);
  }
  const weekUntil = (id: string, ok: (s: WeekStatus) => boolean, what: string, limitMs?: number) => until(() => week(id).query(weekStatusQuery), ok, what, limitMs);
  const alertsOf = (workflowId: string) => messagesOf(stack.env, streams.alerts.name, workflowId);
  const stagesOf = async (agent: string, change: string) => [...((await stack.sim.agent(agent)).changes[change] ?? [])].sort();

  it('a command that does not return is caught by its step deadline: level-2 alert naming the action, the week pauses, nothing more starts; resumed, it finishes and the fleet agrees', async () => {
    const agent = 'GPUThermalAgent';
    const change = 'dl-pause-change';
    await stack.sim.fault(agent, { applyDelayMs: 10_000 });
    const p = plan('dl-pause', [agent], { stepMs: 3000, weekMs: 15_000 });
    const handle = await start(p);
    const first = await weekUntil('dl-pause', (s) => s.deadline !== undefined && s.agents.length > 0, 'the week to start');
    const paused = await weekUntil('dl-pause', (s) => s.state === 'paused', 'the week paused by the deadline', 30_000);
    assert.match(paused.pauseReason ?? '', /^paused by phasegate: GPUThermalAgent: the apply of stage 1 of 3, infrastructure is past its step deadline \(an action still running on mainpc/);
    const migration = stack.env.client.workflow.getHandle<typeof agentMigrationWorkflow>(paused.agents[0]!.workflowId);
    const m = await migration.query(agentMigrationStatusQuery);
    assert.equal(m.state, 'applying', 'the action still runs: a pause does not kill it');
    assert.equal(m.deadlinesPassed?.length, 1);
    assert.deepEqual({ ...m.deadlinesPassed![0]!, at: undefined, why: undefined }, { scope: 'step', what: 'the apply of stage 1 of 3, infrastructure', action: 'pause', at: undefined, why: undefined });
    // The alert: level 2, from the migration, while the command was still running.
    const alerts = (await alertsOf(migration.workflowId)).filter((a) => /deadline/.test(a.title));
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    assert.equal(alerts[0]!.level, 2);
    assert.match(alerts[0]!.title, /GPUThermalAgent: the apply of stage 1 of 3, infrastructure is past its step deadline/);
    assert.match(alerts[0]!.detail, /an action still running on mainpc .*the migration holds after its current action and its week pauses/);
    // The apply lands (a pause lets the action finish), and nothing more starts while paused.
    await until(() => stagesOf(agent, change), (s) => s.length === 1, 'stage 1 to land', 20_000);
    const applied = (await stack.sim.actions(agent)).filter((r) => r.action === 'apply-stage' && r.outcome === 'applied');
    assert.ok(Date.parse(alerts[0]!.at) < Date.parse(applied[0]!.at), 'the alert came before the command returned');
    await sleep(3000);
    assert.deepEqual(await stagesOf(agent, change), [1], 'no stage 2 while paused');
    assert.equal((await migration.query(agentMigrationStatusQuery)).state, 'paused');
    // What an operator sees: the week's pause reason and the migration's passed deadline.
    assert.match(renderStatus(await readStatus(stack.env.client, week('dl-pause').workflowId)), /week week1 \(week 1\): paused \(paused by phasegate: GPUThermalAgent: the apply of stage 1 of 3, infrastructure is past its step deadline/);
    assert.match(renderStatus(await readStatus(stack.env.client, migration.workflowId)), /DEADLINE PASSED \(step\) at .*: the apply of stage 1 of 3, infrastructure: an action still running on mainpc.*; paused/);
    await stack.sim.fault(agent, { applyDelayMs: 0 });
    await week('dl-pause').signal(resumeSignal, { by: 'hana' });
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(await stagesOf(agent, change), [1, 2, 3]);
    const applies = (await stack.sim.actions(agent)).filter((r) => r.action === 'apply-stage' && r.change === change && r.outcome === 'applied').map((r) => r.stage);
    assert.deepEqual(applies, [1, 2, 3], 'each stage applied once');
    // The week's own 15-s deadline did not pass: the ~13 s it spent paused do not count, and its time moved on by them.
    const done = await week('dl-pause').query(weekStatusQuery);
    assert.equal(done.deadline?.passed, false, JSON.stringify(done.deadline));
    assert.ok(Date.parse(done.deadline!.at) - Date.parse(first.deadline!.at) >= 8000, `moved on by the time paused: ${first.deadline!.at} -> ${done.deadline!.at}`);
    assert.equal(done.agents[0]!.state, 'migrated');
  });

  it('with onPassed "rollback", a stuck action is stopped and rolled back: the migration ends rolled back with the deadline as its reason, and the agent has nothing of the change', async () => {
    const agent = 'VRAMUsageAgent';
    const change = 'dl-rollback-change';
    await stack.sim.fault(agent, { applyDelayMs: 6000 });
    const p = plan('dl-rollback', [agent], { stepMs: 2000, onPassed: 'rollback' });
    const handle = await start(p);
    const w = await weekUntil('dl-rollback', (s) => s.agents[0]?.state === 'rolled-back', 'the migration rolled back', 60_000);
    assert.match(w.agents[0]!.detail ?? '', /^the apply of stage 1 of 3, infrastructure passed its step deadline \(an action still running on mainpc/);
    const m = await stack.env.client.workflow.getHandle<typeof agentMigrationWorkflow>(w.agents[0]!.workflowId).result();
    assert.equal(m.outcome, 'rolled-back');
    assert.match(m.rollback?.reason ?? '', /the apply of stage 1 of 3, infrastructure passed its step deadline: an action still running/);
    assert.deepEqual(m.stagesApplied, []);
    assert.match(renderStatus(await readStatus(stack.env.client, week('dl-rollback').workflowId)), /VRAMUsageAgent on mainpc rolled back: the apply of stage 1 of 3, infrastructure passed its step deadline/);
    await stack.sim.fault(agent, { applyDelayMs: 0 });
    assert.equal((await handle.result()).outcome, 'completed');
    // The machine: nothing of the change left, and no stage after the first was ever asked for.
    assert.deepEqual(await stagesOf(agent, change), []);
    assert.equal((await stack.sim.agent(agent)).version, '1.0.0');
    const changing = (await stack.sim.actions(agent)).filter((r) => r.change === change && ['backup', 'apply-stage', 'undo-stage'].includes(r.action));
    const seen = changing.map((r) => `${r.action}:${r.stage}:${r.outcome}`).join(' ');
    assert.ok(changing.every((r) => r.stage === 1), `only stage 1 was ever acted on: ${seen}`);
    // The stuck apply was stopped (its command's process group killed, the apply abandoned) or, had it landed, undone.
    assert.ok(changing.some((r) => r.action === 'apply-stage' && r.outcome === 'abandoned') || changing.some((r) => r.action === 'undo-stage' && r.outcome === 'undone'), seen);
  });

  it('a week that has not reached its gate in time, with onPassed "rollback": level-2 alert naming the migration still running, the week aborted at level 2, and the machines have nothing of its change', async () => {
    const agents = ['RemoteConnectorAgent', 'CalendarAgent'];
    const change = 'dl-week-change';
    await stack.sim.fault('CalendarAgent', { applyDelayMs: 8000 });
    const p = plan('dl-week', agents, { weekMs: 4000, onPassed: 'rollback' });
    const handle = await start(p);
    const result = await handle.result();
    assert.equal(result.outcome, 'aborted');
    const w = await week('dl-week').query(weekStatusQuery);
    assert.equal(w.outcome, 'aborted');
    assert.equal(w.deadline?.passed, true);
    assert.equal(w.deadline?.action, 'rollback');
    assert.match(w.deadline?.why ?? '', /migration\(s\) still running \([^)]*CalendarAgent/);
    assert.deepEqual({ level: w.abort?.level, by: w.abort?.by }, { level: 2, by: 'phasegate' });
    assert.equal(w.gate.report, null, 'the gate never opened');
    const alerts = (await alertsOf(week('dl-week').workflowId)).filter((a) => /within its deadline/.test(a.title));
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.level, 2);
    assert.match(alerts[0]!.detail, /CalendarAgent.*the week is aborted at level 2/);
    assert.match(renderStatus(await readStatus(stack.env.client, week('dl-week').workflowId)), /deadline to reach the gate .*: PASSED \(rolled back\): at step migrate; .*CalendarAgent/);
    const phase = await handle.query(phaseStatusQuery);
    assert.match(renderPhaseReport('phase.dl-week', phase, [w]), /the week did not reach its gate by its deadline \(.*; rolled back at level 2\): at step migrate/);
    await stack.sim.fault('CalendarAgent', { applyDelayMs: 0 });
    for (const a of agents) assert.deepEqual(await stagesOf(a, change), [], `${a} has nothing of the week's change`);
  });

  it('a person who does not answer a critical stage\'s approval is caught by the stage deadline: level-2 alert naming the wait, the migration holds even once approved, and carries on when resumed', async () => {
    const agent = 'LearningAdjusterAgent';
    const base = fastPlan({ timings: { baselineSamples: 1 } });
    const settings = { ...base, timings: { ...base.timings, deadlines: { stageMs: 4000, onPassed: 'pause' as const } } };
    const handle = await startMigration(stack.env, agent, settings, 'dl-stage-change', { strategy: 'critical', reason: 'deadline drill' });
    const waiting = await waitForStatus(handle, (x) => x.state === 'awaiting-approval', 'the approval of stage 1');
    assert.equal(waiting.deadlinesPassed, undefined);
    // The stage's own time is its verification window (2 s), then the 4-s budget: about 6 s.
    const passed = await waitForStatus(handle, (x) => (x.deadlinesPassed?.length ?? 0) > 0, 'the stage deadline', 20_000);
    const d = passed.deadlinesPassed![0]!;
    assert.deepEqual({ scope: d.scope, what: d.what, action: d.action }, { scope: 'stage', what: 'stage 1 of 3, infrastructure', action: 'pause' });
    assert.match(d.why, /^waiting for a person who has not answered: stage 1 of 3, infrastructure of dl-stage-change \(stage-approval; phasegate stage approve\|reject /);
    const alerts = (await alertsOf(handle.workflowId)).filter((a) => /deadline/.test(a.title));
    assert.deepEqual(alerts.map((a) => a.level), [2]);
    assert.match(alerts[0]!.detail, /the migration holds after its current action; send resume/);
    await handle.executeUpdate(approveStageUpdate, { args: [{ stage: 1, decision: 'approve', by: 'ivan', reason: 'back from the incident' }] });
    await sleep(2000);
    const held = await handle.query(agentMigrationStatusQuery);
    assert.equal(held.state, 'paused', 'approved, but held by the deadline until resumed');
    assert.deepEqual(await stagesOf(agent, 'dl-stage-change'), [], 'nothing applied while held');
    await handle.signal(resumeSignal, { by: 'ivan' });
    for (const stage of [2, 3] as const) {
      await waitForStatus(handle, (x) => x.awaitingApprovalFor === stage, `the approval of stage ${stage}`);
      await handle.executeUpdate(approveStageUpdate, { args: [{ stage, decision: 'approve', by: 'ivan' }] });
    }
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    assert.equal(result.deadlinesPassed?.length, 1, 'stages 2 and 3, approved at once, kept to their deadlines');
    assert.deepEqual(await stagesOf(agent, 'dl-stage-change'), [1, 2, 3]);
  });

  it("the control worker's metrics count each passed deadline by scope and action, as the cases above passed them", async () => {
    const endpoint = `127.0.0.1:${stack.env.config.deployment.metrics.ports['control']}`;
    const want = [
      [{ scope: 'step', action: 'pause' }, 1],
      [{ scope: 'step', action: 'rollback' }, 1],
      [{ scope: 'week', action: 'rollback' }, 1],
      [{ scope: 'stage', action: 'pause' }, 1],
      [{ scope: 'week', action: 'pause' }, 0],
    ] as const;
    const counts = async () => {
      const m = await scrape(endpoint);
      return want.map(([labels]) => sumOf(m, 'phasegate_deadlines_passed_total', labels));
    };
    const got = await until(counts, (c) => c.every((n, i) => n === want[i]![1]), 'the counters', 10_000).catch(async () => counts());
    assert.deepEqual(got, want.map(([, n]) => n));
  });
});
