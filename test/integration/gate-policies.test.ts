import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSchema } from '../../config/schema/plan';
import { autoPromotionDecider } from '../../decisions/gates';
import { streams } from '../../lib/nats';
import { weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { abortSignal, pauseSignal, resumeSignal } from '../../workflows/lib/steering';
import { messagesOf as messagesOfStream, quickSettings, startPhase, useTestStack } from '../support/phase-run';

/**
 * A gate that promotes itself (plan: `gate.autoPromote`, decisions/gates.ts): once every
 * criterion is met it bakes, announces the promotion (level-1 alert) and decides "go" as the
 * policy when its veto window passes with no hold. A person's hold in the window vetoes it, a
 * criterion unmet withholds it for good, and nobody may decide under the policy's name. Each
 * case checks the machines too: what the simulator has applied agrees with the gate's outcome.
 * And a gate's own deadline (plan: `gate.deadlineMs`): left open past it, the gate escalates
 * from level-1 reminders to level-2 alerts.
 */
function plan(id: string, agents: string[], gate: object) {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title: id,
    ...quickSettings,
    weeks: [{ id: 'week1', title: 'week 1', steps: [{ id: 'migrate', migrate: { change: `${id}-change`, select: { agents }, pilots: 0, batchSize: agents.length, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 5, perWeek: 5, onExceeded: 'pause' } } }], gate }],
  });
}

describe('gate auto-promotion with a veto, on the real dev server', () => {
  const stack = useTestStack();
  const start = (p: ReturnType<typeof plan>, extra: object = {}) => startPhase(stack.env, p, extra);
  const week = (id: string) => stack.env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week1'));
  async function weekUntil(id: string, ok: (s: WeekStatus) => boolean, what: string, limitMs = 90_000): Promise<WeekStatus> {
    const deadline = Date.now() + limitMs;
    let last: WeekStatus | null = null;
    while (Date.now() < deadline) {
      const s = await week(id).query(weekStatusQuery).catch(() => null);
      if (s && ok(s)) return s;
      last = s ?? last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; the week last said ${JSON.stringify(last && { state: last.state, gate: last.gate, agents: last.agents })}`);
  }
  const messagesOf = (stream: string, workflowId: string) => messagesOfStream(stack.env, stream, workflowId);
  const versions = async (agents: string[]) => Promise.all(agents.map(async (a) => (await stack.sim.agent(a)).version));

  it('criteria met and no hold: bakes, announces, then decides "go" as the policy with the report it read; the agents stay migrated', async () => {
    const agents = ['GPUThermalAgent', 'VRAMUsageAgent'];
    const p = plan('auto-go', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }, { kind: 'all-migrated' }], autoPromote: { bakeMs: 2000, vetoMs: 3000 } });
    const handle = await start(p);
    const baking = await weekUntil('auto-go', (s) => s.state === 'gate-open', 'the gate');
    assert.equal(baking.gate.autoPromotion?.state, 'baking', JSON.stringify(baking.gate.autoPromotion));
    const inWindow = await weekUntil('auto-go', (s) => s.gate.autoPromotion?.state === 'veto-window', 'the veto window');
    assert.equal(inWindow.gate.open, true, 'still open in its veto window');
    assert.deepEqual(inWindow.gate.decisions, []);
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    const done = await week('auto-go').query(weekStatusQuery);
    assert.equal(done.gate.decisions.length, 1);
    const d = done.gate.decisions[0]!;
    assert.equal(d.decision, 'go');
    assert.equal(d.by, autoPromotionDecider);
    assert.equal(d.byPolicy, true);
    assert.match(d.reason ?? '', /every criterion met \(0 rollbacks \(at most 0\); 2 of 2 agents migrated\)/);
    assert.equal(done.gate.autoPromotion?.state, 'promoted');
    // Promoted no sooner than bake + veto after the gate opened.
    const opened = Date.parse((inWindow.gate.autoPromotion as { promotesAt: string }).promotesAt) - 5000;
    assert.ok(Date.parse(d.at) - opened >= 5000 - 50, `promoted ${Date.parse(d.at) - opened} ms after the gate opened`);
    // The announcement went out as a level-1 alert, and the decision is an event with the report.
    const weekId = weekWorkflowId(handle.workflowId, 'week1');
    const alerts = await messagesOf(streams.alerts.name, weekId);
    assert.equal(alerts.filter((a) => /promotes itself at .* unless held/.test(a.title)).length, 1, alerts.map((a) => a.title).join(' | '));
    const decided = (await messagesOf(streams.events.name, weekId)).filter((e) => e.kind === 'gate.decided');
    assert.equal(decided.length, 1);
    assert.equal(decided[0]!.data.byPolicy, true);
    assert.equal(decided[0]!.data.report.met, true);
    // The machines: both agents carry the change, as "go" says.
    assert.deepEqual((await versions(agents)).map((v) => v.startsWith('1.0.0+')), [true, true]);
  });

  it('a person holds it in the veto window: no promotion after the window; the person then rolls the week back and the machines agree', async () => {
    const agents = ['RemoteConnectorAgent'];
    const p = plan('auto-veto', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }], autoPromote: { bakeMs: 500, vetoMs: 4000 } });
    const handle = await start(p);
    await weekUntil('auto-veto', (s) => s.gate.autoPromotion?.state === 'veto-window', 'the veto window');
    // Nobody decides under the policy's name.
    await assert.rejects(week('auto-veto').executeUpdate(decideGateUpdate, { args: [{ gate: 'auto-veto.week1.gate', decision: 'go', by: autoPromotionDecider }] }), (err: Error & { cause?: Error }) => /the gate's own policy/.test(err.cause?.message ?? ''));
    await week('auto-veto').executeUpdate(decideGateUpdate, { args: [{ gate: 'auto-veto.week1.gate', decision: 'hold', by: 'dave', reason: 'latency graph looks odd' }] });
    const vetoed = await weekUntil('auto-veto', (s) => s.gate.autoPromotion?.state === 'vetoed', 'the veto');
    assert.deepEqual(vetoed.gate.autoPromotion && { ...vetoed.gate.autoPromotion, at: undefined }, { state: 'vetoed', by: 'dave', reason: 'latency graph looks odd', at: undefined });
    // Past the time it would have promoted: still open, only the hold recorded.
    await new Promise((r) => setTimeout(r, 5000));
    const later = await week('auto-veto').query(weekStatusQuery);
    assert.equal(later.state, 'gate-open');
    assert.deepEqual(later.gate.decisions.map((d) => `${d.decision} by ${d.by}`), ['hold by dave']);
    assert.equal((await versions(agents))[0]!.startsWith('1.0.0+'), true, 'still migrated while the gate waits');
    await week('auto-veto').executeUpdate(decideGateUpdate, { args: [{ gate: 'auto-veto.week1.gate', decision: 'rollback-week', by: 'dave', reason: 'confirmed regression' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'stopped');
    assert.equal((await week('auto-veto').query(weekStatusQuery)).outcome, 'rolled-back');
    assert.deepEqual(await versions(agents), ['1.0.0']);
    assert.deepEqual((await stack.sim.agent(agents[0]!)).changes, {});
  });

  it('a pause of the week while its gate bakes vetoes the promotion; resumed, the gate still waits for a person', async () => {
    const agents = ['GPUThermalAgent'];
    const p = plan('auto-paused', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }], autoPromote: { bakeMs: 3000, vetoMs: 1000 } });
    const handle = await start(p);
    await weekUntil('auto-paused', (s) => s.gate.autoPromotion?.state === 'baking', 'the bake');
    await week('auto-paused').signal(pauseSignal, { by: 'gina', reason: 'incident 12' });
    const vetoed = await weekUntil('auto-paused', (s) => s.gate.autoPromotion?.state === 'vetoed', 'the veto by the pause');
    assert.equal((vetoed.gate.autoPromotion as { by: string }).by, 'a pause of the week');
    assert.match((vetoed.gate.autoPromotion as { reason: string }).reason, /paused by gina: incident 12/);
    await week('auto-paused').signal(resumeSignal, { by: 'gina' });
    await new Promise((r) => setTimeout(r, 5000));
    const later = await week('auto-paused').query(weekStatusQuery);
    assert.equal(later.state, 'gate-open');
    assert.deepEqual(later.gate.decisions, [], 'no promotion after the resume: a person decides');
    await week('auto-paused').executeUpdate(decideGateUpdate, { args: [{ gate: 'auto-paused.week1.gate', decision: 'go', by: 'gina' }] });
    assert.equal((await handle.result()).outcome, 'completed');
    assert.equal((await versions(agents))[0]!.startsWith('1.0.0+'), true);
  });

  it('an abort at level 2 in the veto window: no promotion, the week is rolled back, and the machines agree', async () => {
    const agents = ['VRAMUsageAgent', 'RemoteConnectorAgent'];
    const p = plan('auto-abort', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }], autoPromote: { bakeMs: 0, vetoMs: 4000 } });
    const handle = await start(p);
    await weekUntil('auto-abort', (s) => s.gate.autoPromotion?.state === 'veto-window', 'the veto window');
    for (const a of agents) assert.ok(((await stack.sim.agent(a)).changes['auto-abort-change'] ?? []).length > 0, `${a} carries the week's change before the abort`);
    await handle.signal(abortSignal, { level: 2, by: 'oncall', reason: 'incident 4712' });
    const result = await handle.result();
    assert.equal(result.outcome, 'aborted');
    // Past the time it would have promoted: still no decision, and nothing of the week left.
    await new Promise((r) => setTimeout(r, 4500));
    const w = await week('auto-abort').query(weekStatusQuery);
    assert.deepEqual(w.gate.decisions, [], 'the policy decided nothing after the abort');
    assert.notEqual(w.gate.autoPromotion?.state, 'promoted');
    assert.equal(w.outcome, 'aborted');
    for (const a of agents) {
      const view = await stack.sim.agent(a);
      assert.deepEqual(view.changes['auto-abort-change'] ?? [], [], `${a} has no stage of the week's change left`);
    }
  });

  it('a criterion unmet: the policy withholds the promotion for good, and a person decides', async () => {
    const agents = ['ChitchatAgent', 'CalendarAgent'];
    await stack.sim.fault('ChitchatAgent', { integrationFailing: true, clearOnUndo: true });
    const p = plan('auto-unmet', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }], autoPromote: { bakeMs: 0, vetoMs: 1000 } });
    const handle = await start(p);
    const open = await weekUntil('auto-unmet', (s) => s.gate.autoPromotion?.state === 'withheld', 'the promotion withheld');
    assert.match((open.gate.autoPromotion as { reason: string }).reason, /criteria not met: 1 rollbacks \(at most 0\)/);
    await new Promise((r) => setTimeout(r, 2500));
    const later = await week('auto-unmet').query(weekStatusQuery);
    assert.equal(later.state, 'gate-open');
    assert.deepEqual(later.gate.decisions, [], 'no decision without a person');
    // The fleet as the gate saw it: the failing agent rolled back by itself, the other migrated.
    assert.deepEqual((await versions(agents)).map((v) => v.startsWith('1.0.0+')), [false, true]);
    await week('auto-unmet').executeUpdate(decideGateUpdate, { args: [{ gate: 'auto-unmet.week1.gate', decision: 'go', by: 'erin', reason: 'ChitchatAgent is retried next week' }] });
    assert.equal((await handle.result()).outcome, 'completed');
    assert.equal((await week('auto-unmet').query(weekStatusQuery)).gate.decisions[0]!.byPolicy, undefined);
  });

  it('a gate left open past its deadline escalates: level-1 reminders before it, level-2 alerts from it on; status shows it passed', async () => {
    const agents = ['CalendarSyncAgent'];
    const p = plan('gate-deadline', agents, { criteria: [{ kind: 'max-rollbacks', count: 0 }], deadlineMs: 5000 });
    const handle = await start(p, { gateReminderMs: 2000 });
    const open = await weekUntil('gate-deadline', (s) => s.state === 'gate-open', 'the gate');
    assert.equal(open.gate.deadline?.passed, false);
    const passed = await weekUntil('gate-deadline', (s) => s.gate.deadline?.passed === true, 'the deadline to pass', 30_000);
    const openedAt = Date.parse(passed.gate.deadline!.at) - 5000;
    await new Promise((r) => setTimeout(r, 2500));
    await week('gate-deadline').executeUpdate(decideGateUpdate, { args: [{ gate: 'gate-deadline.week1.gate', decision: 'go', by: 'frank', reason: 'back from lunch' }] });
    assert.equal((await handle.result()).outcome, 'completed');
    const weekId = weekWorkflowId(handle.workflowId, 'week1');
    const alerts = (await messagesOf(streams.alerts.name, weekId)).filter((a) => /still waits|past its deadline/.test(a.title)).map((a) => ({ level: a.level as number, title: a.title as string, afterMs: Date.parse(a.at) - openedAt }));
    const reminders = alerts.filter((a) => a.level === 1);
    const escalations = alerts.filter((a) => a.level === 2);
    assert.ok(reminders.length >= 2, `level-1 reminders at 2 s and 4 s: ${JSON.stringify(alerts)}`);
    assert.ok(reminders.every((a) => /still waits/.test(a.title) && a.afterMs < 5000), JSON.stringify(alerts));
    assert.ok(escalations.length >= 1, JSON.stringify(alerts));
    assert.match(escalations[0]!.title, /gate-deadline\.week1\.gate is past its deadline/);
    assert.ok(escalations[0]!.afterMs >= 4900, `the first escalation ${escalations[0]!.afterMs} ms after the gate opened, at its 5-s deadline`);
    assert.ok(escalations.every((a) => a.afterMs >= 4900), 'no level-2 alert before the deadline');
    assert.equal((await versions(agents))[0]!.startsWith('1.0.0+'), true);
  });
});
