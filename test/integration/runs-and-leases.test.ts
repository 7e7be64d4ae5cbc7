import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { planSchema, type Plan } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { migrationInput } from '../../workflows/lib/migration-input';
import { planPreview } from '../../plan/preview';
import { projectRoot, toolPath } from '../../lib/paths';
import { agentMigrationStatusQuery, approveStageUpdate } from '../../workflows/agent-migration';
import { pauseSignal, resumeSignal } from '../../workflows/lib/steering';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { abortSignal, decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { migrationPastFirstStage, until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { recordReliability } from '../support/reliability-summary';
import { publishesAsked } from '../support/events';

const run = promisify(execFile);

/**
 * Runs, not plans, name things; one migration of an agent at a time; lanes and aborts that
 * leave nothing open; inputs written by hand meet the plan's rules (issue 14).
 */
describe('runs, leases, lanes and aborts', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;
  let rejected = 0;
  const critical = 'tutoring_agent';

  before(async () => {
    env = await startTestStack({
      edit: ({ inventory }) => {
        // One agent that waits for a person before each stage: a migration that holds its lease as long as the test likes.
        inventory.agents.find((a: { name: string }) => a.name === critical).riskOverride = { score: 38, reason: 'test: critical band, holds its lease until approved' };
      },
    });
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => {
    await env?.stop();
    recordReliability({ suite: 'runs and leases', faultsInjected: 0, phasesFinished: 9, actionsChecked: 0, inputsRejected: rejected, eventsLost: 0, detail: `a plan run again after its rollback, two phases on one agent, lanes, an abort during a pause, ${rejected} hand-written inputs refused before any action` });
  });

  function plan(id: string, agents: string[], o: { change?: string; lanes?: number; whenAgentBusy?: 'wait' | 'refuse'; weeks?: number } = {}): Plan {
    return planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id,
      title: id,
      thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 1000, stageVerificationMs: 750, observationMs: 0 },
      weeks: Array.from({ length: o.weeks ?? 1 }, (_, i) => ({
        id: `week${i + 1}`,
        title: `week ${i + 1}`,
        steps: [{ id: `w${i + 1}`, migrate: { change: o.change ?? `${id}-w${i + 1}`, select: { agents }, batchSize: agents.length, maxConcurrentPerMachine: o.lanes ?? 2, ...(o.whenAgentBusy ? { whenAgentBusy: o.whenAgentBusy } : {}) } }],
        gate: { criteria: [{ kind: 'max-rollbacks', count: 5 }] },
      })),
    });
  }
  const start = (p: Plan, id: string, autoApprove = false): Promise<WorkflowHandle<typeof phaseWorkflow>> =>
    env.client.workflow.start(phaseWorkflow, {
      taskQueue: env.config.deployment.controlTaskQueue,
      workflowId: id,
      args: [{ ...phaseInput(p, env.config.inventory), ...(autoApprove ? { autoApproveGates: { by: 'test' } } : {}) }],
    });
  const week = (phase: string, w = 'week1') => env.client.workflow.getHandle(weekWorkflowId(phase, w));
  const weekUntil = (phase: string, ok: (s: WeekStatus) => boolean, what: string, w = 'week1') =>
    until(what, 90_000, async () => {
      const s = await week(phase, w).query(weekStatusQuery);
      return ok(s) ? s : undefined;
    });
  const stagesOf = async (agent: string, change: string) => [...((await sim.agent(agent)).changes[change] ?? [])].sort();

  it('a plan run again after its rollback applies afresh: new ids, new keys, no "duplicate-key"', async () => {
    const agents = ['ChitchatAgent', 'WebSearchAgent'];
    const p = plan('rerun', agents, { change: 'rerun' });
    const first = await start(p, 'phase.rerun.run1');
    const gate = await weekUntil(first.workflowId, (s) => s.gate.open, 'run 1 gate');
    await week(first.workflowId).executeUpdate(decideGateUpdate, { args: [{ gate: gate.gate.id, decision: 'rollback-week', by: 'dave' }] });
    assert.equal((await first.result()).outcome, 'stopped');
    for (const a of agents) assert.deepEqual(await stagesOf(a, 'rerun'), []);

    const second = await start(p, 'phase.rerun.run2', true);
    const result = await second.result();
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    for (const a of agents) {
      assert.deepEqual(await stagesOf(a, 'rerun'), [1, 2, 3], `${a} migrated by the second run`);
      const records = await sim.actions(a);
      assert.equal(records.filter((r) => r.change === 'rerun' && r.outcome === 'duplicate-key').length, 0, `${a}: no apply of run 2 met a key of run 1`);
      const keys = records.filter((r) => r.change === 'rerun' && r.action === 'apply-stage' && r.outcome === 'applied').map((r) => r.key!.split(':')[0]);
      assert.equal(new Set(keys).size, 2, `each run applied under its own ids: ${[...new Set(keys)].join(', ')}`);
    }
    // And a phase id is one run: the CLI refuses it a second time.
    const planFile = path.join(env.dataDir, 'rerun.json');
    writeFileSync(planFile, JSON.stringify({ ...p, weeks: p.weeks }));
    const refused = await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'start', planFile, '--id', 'phase.rerun.run2', '--config', env.config.configDir]).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(refused, 'a second start of phase.rerun.run2 is refused');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /phase id "phase\.rerun\.run2" is already taken by a completed phaseWorkflow/);
  });

  it('a plan run again after it completed leaves agents that already have the change alone, and rolling the second run back leaves the first one\'s change in place', async () => {
    const agents = ['ChitchatAgent', 'WebSearchAgent'];
    const p = plan('again', agents, { change: 'again' });
    const first = await start(p, 'phase.again.run1', true);
    assert.equal((await first.result()).outcome, 'completed');
    const second = await start(p, 'phase.again.run2');
    const gate = await weekUntil(second.workflowId, (s) => s.gate.open, 'run 2 gate');
    for (const a of gate.agents) {
      assert.equal(a.state, 'refused', `${a.agent} in run 2: ${JSON.stringify(a)}`);
      assert.match(a.detail ?? '', /already has stages 1, 2, 3 of again, applied by another run/);
    }
    // The operator rolls run 2's week back: it applied nothing, so it undoes nothing.
    await week(second.workflowId).executeUpdate(decideGateUpdate, { args: [{ gate: gate.gate.id, decision: 'rollback-week', by: 'hana' }] });
    assert.equal((await second.result()).outcome, 'stopped');
    for (const a of agents) {
      assert.deepEqual(await stagesOf(a, 'again'), [1, 2, 3], `${a} keeps run 1's change`);
      // Every backup, apply and undo carries its run's key; run 2's appear nowhere.
      const byRun2 = (await sim.actions(a)).filter((r) => r.change === 'again' && r.key?.startsWith('phase.again.run2'));
      assert.deepEqual(byRun2.map((r) => r.action), [], `${a}: run 2 backed up, applied and undid nothing`);
    }
  });

  it('two phases reaching for one agent: the second waits for the first, and their actions on it never interleave', async () => {
    const shared = 'GoalManagerAgent';
    const a = await start(plan('lease-a', [shared, 'NotificationAgent'], { change: 'lease-a' }), 'phase.lease-a.1', true);
    const b = await start(plan('lease-b', [shared, 'CacheManagerAgent'], { change: 'lease-b' }), 'phase.lease-b.1', true);
    const [ra, rb] = await Promise.all([a.result(), b.result()]);
    assert.equal(ra.outcome, 'completed');
    assert.equal(rb.outcome, 'completed');
    assert.deepEqual(await stagesOf(shared, 'lease-a'), [1, 2, 3]);
    assert.deepEqual(await stagesOf(shared, 'lease-b'), [1, 2, 3]);
    const records = (await sim.actions(shared)).filter((r) => r.change === 'lease-a' || r.change === 'lease-b');
    const order = records.map((r) => r.change);
    const switches = order.filter((c, i) => i > 0 && c !== order[i - 1]).length;
    assert.equal(switches, 1, `one migration of ${shared} at a time: ${order.join(' ')}`);
    // The one that waited says so in its history.
    const waited = [weekWorkflowId(a.workflowId, 'week1'), weekWorkflowId(b.workflowId, 'week1')].map((w) => `${w}.${shared}.${w.includes('lease-a') ? 'lease-a' : 'lease-b'}`);
    const busy = [];
    for (const id of waited) {
      const h = await env.client.workflow.getHandle(id).fetchHistory();
      if (publishesAsked(h.events ?? []).some((p) => p.activity === 'publishEvent' && p.id.endsWith(':agent.busy'))) busy.push(id);
    }
    assert.equal(busy.length, 1, `exactly one of the two waited for the agent: ${busy.join(', ')}`);

    // The brief history (workflows/lib/patches.ts): neither migration sent its lease a release
    // signal; each lease ended as its holder closed (the parent-close cancel), completed, and none is left.
    for (const id of waited) {
      const events = (await env.client.workflow.getHandle(id).fetchHistory()).events ?? [];
      assert.equal(events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'releaseLease').length, 0, `${id} sends no release signal`);
      const statuses = events.flatMap((e) => {
        const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        const status = fields.PhasegateStatus?.data;
        return status ? [JSON.parse(Buffer.from(status).toString())] : [];
      });
      assert.ok(!statuses.includes('applying') && !statuses.includes('verifying'), `${id}: its status attribute stays "migrating" through its stages: ${statuses.join(', ')}`);
      assert.equal(statuses.at(-1), 'done');
    }
    const leases = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowType="agentLeaseWorkflow" AND PhasegateAgent="${shared}"` })) leases.push(w);
    assert.equal(leases.length, 2, 'one lease run per migration of the shared agent');
    for (const l of leases) {
      assert.equal(l.status.name, 'COMPLETED', `lease run ${l.runId} completed`);
      const events = (await env.client.workflow.getHandle(l.workflowId, l.runId).fetchHistory()).events ?? [];
      assert.ok(events.some((e) => e.workflowExecutionCancelRequestedEventAttributes), `lease run ${l.runId} was ended by its holder's close`);
      assert.ok(!events.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'releaseLease'), `lease run ${l.runId} got no release signal`);
    }
  });

  it('the same plan started twice at once: no shared child, no failed start, each agent migrated by the run that took it first and left alone by the other', async () => {
    const agents = ['NotificationAgent', 'CacheManagerAgent'];
    const p = plan('twice', agents, { change: 'twice' });
    const [x, y] = await Promise.all([start(p, 'phase.twice.x', true), start(p, 'phase.twice.y', true)]);
    const [rx, ry] = await Promise.all([x.result(), y.result()]);
    assert.equal(rx.outcome, 'completed');
    assert.equal(ry.outcome, 'completed');
    const rows: WeekStatus['agents'] = [];
    for (const h of [x, y]) {
      const w = await week(h.workflowId).query(weekStatusQuery);
      assert.ok(w.agents.every((a) => a.workflowId.startsWith(`${h.workflowId}.week1.`)), 'each phase names its own children');
      rows.push(...w.agents);
    }
    for (const a of agents) {
      const states = rows.filter((r) => r.agent === a).map((r) => r.state).sort();
      assert.deepEqual(states, ['migrated', 'refused'], `${a}: ${JSON.stringify(rows.filter((r) => r.agent === a))}`);
      const refusedRow = rows.find((r) => r.agent === a && r.state === 'refused')!;
      assert.match(refusedRow.detail ?? '', /already has stages 1, 2, 3 of twice/);
      assert.deepEqual(await stagesOf(a, 'twice'), [1, 2, 3]);
      // The fleet's own record: the run that refused backed up, applied and undid nothing on it.
      const byRefuser = (await sim.actions(a)).filter((r) => r.change === 'twice' && r.key?.startsWith(refusedRow.workflowId));
      assert.deepEqual(byRefuser.map((r) => r.action), [], `${a}: ${refusedRow.workflowId} acted on it`);
    }
  });

  it('a plan that refuses a busy agent refuses it with the holder named, and carries on with the others', async () => {
    const holder = await start(plan('holder', [critical], { change: 'held' }), 'phase.holder.1');
    const holderMigration = `${weekWorkflowId(holder.workflowId, 'week1')}.${critical}.held`;
    await until('the critical migration to wait for approval', 60_000, async () => ((await env.client.workflow.getHandle(holderMigration).query(agentMigrationStatusQuery)).awaitingApprovalFor === 1 ? true : undefined));
    const refusing = await start(plan('refuser', [critical, 'ResponderAgent'], { change: 'refused', whenAgentBusy: 'refuse' }), 'phase.refuser.1', true);
    const result = await refusing.result();
    const w = await week(refusing.workflowId).query(weekStatusQuery);
    const p = w.agents.find((x) => x.agent === critical)!;
    assert.equal(p.state, 'refused');
    assert.match(p.detail ?? '', new RegExp(`held by ${holderMigration.replace(/\./g, '\\.')} \\(held\\)`));
    assert.equal(w.agents.find((x) => x.agent === 'ResponderAgent')?.state, 'migrated');
    assert.equal(result.weeks[0]?.outcome, 'passed');
    assert.deepEqual(await stagesOf(critical, 'refused'), [], 'the refused agent was not touched');
    // The holder carries on once approved.
    for (const stage of [1, 2, 3] as const) {
      await until(`approval of stage ${stage}`, 60_000, async () => ((await env.client.workflow.getHandle(holderMigration).query(agentMigrationStatusQuery)).awaitingApprovalFor === stage ? true : undefined));
      await env.client.workflow.getHandle(holderMigration).executeUpdate(approveStageUpdate, { args: [{ stage, decision: 'approve', by: 'erin' }] });
    }
    const gate = await weekUntil(holder.workflowId, (s) => s.gate.open, 'holder gate');
    await week(holder.workflowId).executeUpdate(decideGateUpdate, { args: [{ gate: gate.gate.id, decision: 'go', by: 'erin' }] });
    assert.equal((await holder.result()).outcome, 'completed');
  });

  it('a week runs exactly as many migrations per machine at once as the plan allows, as the preview says', async () => {
    const agents = ['AuthenticationAgent', 'AsyncProcessorAgent', 'TaskQueueAgent', 'UserProfileAgent'];
    const p = plan('lanes', agents, { lanes: 4 });
    const preview = planPreview(p, env.config);
    const step = preview.weeks[0]!.steps[0]!;
    assert.ok(step.kind === 'migrate');
    const expected = Math.min(step.maxConcurrentPerMachine, step.batches[0]!.filter((a) => a.machine === 'pc2').length);
    assert.equal(expected, 4);
    const phase = await start(p, 'phase.lanes.1', true);
    let most = 0;
    for (;;) {
      const s = await week(phase.workflowId).query(weekStatusQuery).catch(() => null);
      if (s) most = Math.max(most, s.agents.filter((a) => a.state === 'running').length);
      if (s?.state === 'done' || (await phase.describe()).status.name !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(most, expected, `at most ${most} running at once; the plan allows ${expected}`);
    assert.equal((await phase.result()).outcome, 'completed');
  });

  it('an abort while the lanes wait out a pause closes the week only after every migration finished its own undo', async () => {
    const agents = ['SmartHomeAgent', 'ResponderAgent', 'TaskSchedulerAgent', 'ChitchatAgent'];
    const p = plan('pause-abort', agents, { lanes: 1 });
    const phase = await start(p, 'phase.pause-abort.1');
    // A migration with a stage applied: the abort must make it undo what it did.
    const inFlight = await migrationPastFirstStage(env.client, week(phase.workflowId), 'mainpc');
    await phase.signal(pauseSignal, { by: 'frank', reason: 'hold on' });
    await weekUntil(phase.workflowId, (s) => s.state === 'paused', 'the pause');
    await phase.signal(abortSignal, { level: 1, by: 'frank', reason: 'no, stop' });
    const result = await phase.result();
    assert.equal(result.outcome, 'aborted');
    const w = await week(phase.workflowId).query(weekStatusQuery);
    const weekClosed = (await week(phase.workflowId).describe()).closeTime!.getTime();
    assert.equal(w.agents.find((a) => a.agent === inFlight)?.state, 'rolled-back', `${inFlight} was in flight with a stage applied`);
    for (const a of w.agents) {
      const d = await env.client.workflow
        .getHandle(a.workflowId)
        .describe()
        .catch(() => null);
      if (!d) {
        assert.equal(a.state, 'cancelled');
        assert.equal((await sim.actions(a.agent)).filter((r) => r.change === 'pause-abort-w1').length, 0, `${a.agent} was never started`);
        continue;
      }
      assert.equal(d.status.name, 'COMPLETED', `${a.agent}'s migration completed (not terminated)`);
      assert.ok(d.closeTime!.getTime() <= weekClosed, `${a.agent}'s migration closed before its week`);
      // Level 1: what was in flight is undone; what had finished stays.
      const stages = await stagesOf(a.agent, 'pause-abort-w1');
      assert.deepEqual(stages, a.state === 'migrated' ? [1, 2, 3] : [], `${a.agent} is ${a.state} and has ${stages.join(', ')}`);
    }
    const history = await week(phase.workflowId).fetchHistory();
    assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0);
  });

  it('pause, resume and abort sent to a phase all through its weeks never fail it', async () => {
    const p = plan('steady', ['ChitchatAgent', 'WebSearchAgent'], { weeks: 3 });
    const phase = await start(p, 'phase.steady.1', true);
    let sent = 0;
    while ((await phase.describe()).status.name === 'RUNNING') {
      await phase.signal(pauseSignal, { by: 'noisy', reason: 'flapping' }).catch(() => undefined);
      await phase.signal(resumeSignal, { by: 'noisy' }).catch(() => undefined);
      sent += 2;
      await new Promise((r) => setTimeout(r, 40));
    }
    const result = await phase.result();
    assert.equal(result.outcome, 'completed');
    const history = await phase.fetchHistory();
    assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes && e.workflowTaskFailedEventAttributes.cause !== 1).length, 0, 'no workflow task failed');
    assert.ok(sent > 50, `${sent} signals sent`);
  });

  it('inputs written by hand for `temporal workflow start` are refused before any action, with the field and the reason', async () => {
    const address = `127.0.0.1:${(env.config.deployment.temporal as { port: number }).port}`;
    const good = { ...phaseInput(plan('handmade', ['ChitchatAgent']), env.config.inventory) };
    const cases: Array<[string, unknown, RegExp]> = [
      ['a 50 ms sampling interval', { ...good, settings: { ...good.settings, thresholds: { ...good.settings.thresholds, sampleIntervalMs: 50 } } }, /settings\.thresholds\.sampleIntervalMs: .*(>=100|at least|too small)/i],
      ['an unknown field', { ...good, rollbackEverything: true }, /Unrecognized key.*rollbackEverything|rollbackEverything/],
      ['a migrate step without agents', { ...good, weeks: [{ ...good.weeks[0]!, steps: [{ id: 's', migrate: { ...good.weeks[0]!.steps[0]!.migrate!, agents: [] } }] }] }, /weeks\[0\]\.steps\[0\]\.migrate\.agents: a migrate step needs at least one agent/],
      ['an agent that is not in the inventory', { ...good, weeks: [{ ...good.weeks[0]!, steps: [{ id: 's', migrate: { ...good.weeks[0]!.steps[0]!.migrate!, agents: [{ ...good.weeks[0]!.steps[0]!.migrate!.agents[0]!, name: 'GhostAgent' }] } }] }] }, /unknown agent "GhostAgent"/],
      ['a window shorter than a sample', { ...good, settings: { ...good.settings, timings: { ...good.settings.timings, stageVerificationMs: 100 } } }, /settings\.timings\.stageVerificationMs: 100 ms is shorter than one sampling interval/],
    ];
    for (const [name, input, reason] of cases) {
      const file = path.join(env.dataDir, 'handmade.json');
      writeFileSync(file, JSON.stringify(input));
      const id = `phase.handmade.${rejected}`;
      await run(toolPath('temporal'), ['workflow', 'start', '--task-queue', env.config.deployment.controlTaskQueue, '--type', 'phaseWorkflow', '--workflow-id', id, '--input-file', file, '--address', address]);
      const outcome = await env.client.workflow.getHandle(id).result().then(
        () => 'completed',
        (err: Error) => `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`,
      );
      assert.match(outcome, reason, name);
      assert.match(outcome, /input refused before any action/, name);
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      const activities = history.events?.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean) ?? [];
      assert.ok(activities.every((a) => a === 'checkStepsAgainstFleet'), `${name}: nothing but the input check ran (${activities.join(', ')})`);
      assert.equal(history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes), false, `${name}: no week started`);
      rejected++;
    }
  });

  it('a migration and a week started by hand with a bad input are refused before any action, with the field and the reason', async () => {
    // A migration its week started takes the week's parsed input; one with no parent is parsed
    // itself (workflows/agent-migration/workflow.ts), its schemas loaded only then.
    const address = `127.0.0.1:${(env.config.deployment.temporal as { port: number }).port}`;
    const good = phaseInput(plan('handmade2', ['ChitchatAgent']), env.config.inventory);
    const step = good.weeks[0]!.steps[0]!.migrate!;
    const migration = migrationInput(step.agents[0]!, good.settings, step.change, { phase: good.phase, week: good.weeks[0]!.id });
    const week = { version: 1, phase: good.phase, week: good.weeks[0]!, settings: good.settings };
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['a migration with a window shorter than a sample', 'agentMigrationWorkflow', { ...migration, timings: { ...migration.timings, stageVerificationMs: 100 } }, /timings\.stageVerificationMs: 100 ms is shorter than one sampling interval/],
      ['a migration of an agent with a name no machine could take', 'agentMigrationWorkflow', { ...migration, agent: { ...migration.agent, name: 'rm -rf' } }, /agent\.name: must start with a letter/],
      ['a migration with an unknown field', 'agentMigrationWorkflow', { ...migration, skipVerification: true }, /skipVerification/],
      ['a week with a 50 ms sampling interval', 'weekWorkflow', { ...week, settings: { ...week.settings, thresholds: { ...week.settings.thresholds, sampleIntervalMs: 50 } } }, /settings\.thresholds\.sampleIntervalMs: .*(>=100|at least|too small)/i],
    ];
    for (const [name, type, input, reason] of cases) {
      const file = path.join(env.dataDir, 'handmade2.json');
      writeFileSync(file, JSON.stringify(input));
      const id = `handmade2.${type}.${rejected}`;
      await run(toolPath('temporal'), ['workflow', 'start', '--task-queue', env.config.deployment.controlTaskQueue, '--type', type, '--workflow-id', id, '--input-file', file, '--address', address]);
      const outcome = await env.client.workflow.getHandle(id).result().then(
        () => 'completed',
        (err: Error) => `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`,
      );
      assert.match(outcome, reason, name);
      assert.match(outcome, new RegExp(`${type} input refused before any action`), name);
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      assert.equal(history.events?.some((e) => e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes), false, `${name}: no activity and no child (no lease) started`);
      rejected++;
    }
    // Nothing reached the agent: the simulator recorded no action on it.
    const actions = (await sim.actions(migration.agent.name)).filter((a) => a.change === step.change);
    assert.deepEqual(actions, [], 'no action on the agent');
  });

  it('a signal with an unknown name is refused and recorded, not buffered', async () => {
    const phase = await start(plan('typo', ['ChitchatAgent']), 'phase.typo.1');
    await env.client.workflow.getHandle(phase.workflowId).signal('puase', { by: 'gina' });
    const s = await until('the refusal', 20_000, async () => {
      const st = await phase.query(phaseStatusQuery);
      return st.rejectedSignals.length ? st : undefined;
    });
    assert.equal(s.rejectedSignals[0]?.signal, 'puase');
    assert.match(s.rejectedSignals[0]?.reason ?? '', /unknown signal "puase" \(known: pause, resume, abort\)/);
    assert.equal(s.paused, null);
    rejected++;
    // The refused signal changed nothing: an abort right after it (here while the phase starts
    // its week, so the phase passes on the abort it recorded) still ends the phase, and the
    // level-2 rollback leaves nothing of the week's change on the agent.
    await phase.signal(abortSignal, { level: 2, by: 'gina' });
    const result = await phase.result();
    assert.equal(result.outcome, 'aborted');
    // The abort may come before the phase started its week, or while it did.
    if (result.weeks[0]?.outcome !== 'not-started') {
      const w = await week(phase.workflowId).query(weekStatusQuery);
      assert.equal(w.outcome, 'aborted');
      assert.deepEqual(w.rejectedSignals, [], 'the week took the abort its phase passed on');
      assert.deepEqual(w.applied, []);
    }
    assert.deepEqual(await stagesOf('ChitchatAgent', 'typo-w1'), []);
  });
});
