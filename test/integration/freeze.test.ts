import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { planSchema } from '../../config/schema/plan';
import { projectRoot } from '../../lib/paths';
import { streams } from '../../lib/nats';
import { agentMigrationStatusQuery, type agentMigrationWorkflow } from '../../workflows/agent-migration';
import { lineStatusQuery, lineWorkflowId } from '../../workflows/line';
import { phaseStatusQuery, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { messagesOf, quickSettings, startPhase, useTestStack } from '../support/phase-run';

const run = promisify(execFile);
const cli = path.join(projectRoot, 'dist/cli/main.js');

/**
 * Stop the line (workflows/line.ts) on the real dev server: `phasegate freeze` holds every
 * running phase at once: the migration in flight finishes its current stage and holds, no new
 * migration starts, a resume does not lift it, a phase started while frozen holds before its
 * first migration; `phasegate unfreeze` lets all of them carry on. Checked on the machines: the
 * simulator's record of stages at each moment agrees with what the workflows report.
 */
function plan(id: string, agents: string[]) {
  return planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id,
    title: id,
    ...quickSettings,
    weeks: [{ id: 'week1', title: 'week 1', steps: [{ id: 'migrate', migrate: { change: `${id}-change`, select: { agents }, pilots: 0, batchSize: agents.length, maxConcurrentPerMachine: 1 } }], gate: { criteria: [] } }],
  });
}

describe('stop the line: freeze and unfreeze every running phase, on the real dev server', () => {
  const stack = useTestStack();

  const phasegate = (...args: string[]) => run(process.execPath, [cli, ...args, '--config', stack.env.config.configDir]);
  const start = (p: ReturnType<typeof plan>) => startPhase(stack.env, p, { autoApproveGates: { by: 'freeze-test' } });
  const week = (id: string) => stack.env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week1'));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function weekUntil(id: string, ok: (s: WeekStatus) => boolean, what: string, limitMs = 60_000): Promise<WeekStatus> {
    const deadline = Date.now() + limitMs;
    let last: WeekStatus | null = null;
    while (Date.now() < deadline) {
      last = (await week(id).query(weekStatusQuery).catch(() => null)) ?? last;
      if (last && ok(last)) return last;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last && { state: last.state, line: last.line, agents: last.agents })}`);
  }
  const stagesOf = async (agent: string, change: string) => [...((await stack.sim.agent(agent)).changes[change] ?? [])].sort();

  it('a freeze holds the stage in flight after it lands and starts nothing new; resume does not lift it; a phase started meanwhile holds too; unfreeze finishes both, and the fleet agrees at each step', async () => {
    const agents = ['GPUThermalAgent', 'VRAMUsageAgent', 'ChitchatAgent'];
    const first = agents[0]!;
    await stack.sim.fault(first, { applyDelayMs: 4000 });
    const a = await start(plan('freeze-a', agents));
    const applying = await weekUntil('freeze-a', (s) => s.agents[0]?.state === 'running', 'the first migration');
    const migration = stack.env.client.workflow.getHandle<typeof agentMigrationWorkflow>(applying.agents[0]!.workflowId);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await migration.query(agentMigrationStatusQuery)).state !== 'applying') await sleep(100);

    const frozen = await phasegate('freeze', '--by', 'oncall', '--reason', 'incident 99: database failover');
    assert.match(frozen.stdout, /the line is frozen by oncall: incident 99: database failover\. 1 running phase holds/);
    await stack.sim.fault(first, { applyDelayMs: 0 });
    // The stage in flight lands (a freeze does not cut a stage in half), then the migration holds.
    const held = await weekUntil('freeze-a', (s) => s.line?.by === 'oncall', 'the week to hear of the freeze');
    assert.equal(held.line?.reason, 'incident 99: database failover');
    const wait = Date.now() + 20_000;
    let m = await migration.query(agentMigrationStatusQuery);
    while (Date.now() < wait && !(m.state === 'paused' && m.stagesApplied.length === 1)) {
      await sleep(200);
      m = await migration.query(agentMigrationStatusQuery);
    }
    assert.deepEqual([m.state, m.stagesApplied, m.line?.by], ['paused', [1], 'oncall']);
    await sleep(3000);
    assert.deepEqual(await stagesOf(first, 'freeze-a-change'), [1], 'stage 1 landed; stage 2 not started while frozen');
    for (const other of agents.slice(1)) assert.deepEqual(await stagesOf(other, 'freeze-a-change'), [], `${other} not started while frozen`);
    assert.deepEqual((await week('freeze-a').query(weekStatusQuery)).agents.map((x) => x.state), ['running', 'waiting', 'waiting']);

    // A resume is no unfreeze.
    await phasegate('resume', 'phase.freeze-a', '--by', 'impatient');
    await sleep(2500);
    assert.deepEqual(await stagesOf(first, 'freeze-a-change'), [1], 'a resume does not lift the freeze');
    assert.equal((await migration.query(agentMigrationStatusQuery)).state, 'paused');

    // A phase started while frozen joins the line and holds before its first migration.
    const b = await start(plan('freeze-b', ['CalendarAgent']));
    await weekUntil('freeze-b', (s) => s.line?.by === 'oncall', 'the new phase to hear of the freeze', 30_000);
    await sleep(2000);
    assert.deepEqual(await stagesOf('CalendarAgent', 'freeze-b-change'), [], 'nothing of the new phase applied while frozen');
    const heldB = await week('freeze-b').query(weekStatusQuery);
    assert.deepEqual([heldB.state, heldB.agents.filter((x) => x.state !== 'waiting')], ['paused', []], 'held before its first migration');

    // Visible: the line's status, the phases' status, the Web UI's search attribute, the status command, an event.
    const line = await stack.env.client.workflow.getHandle(lineWorkflowId).query(lineStatusQuery);
    assert.deepEqual([line.frozen?.by, [...line.phases].sort()], ['oncall', ['phase.freeze-a', 'phase.freeze-b']]);
    assert.equal((await a.query(phaseStatusQuery)).line?.reason, 'incident 99: database failover');
    const listed: string[] = [];
    for (let i = 0; i < 50 && !listed.includes('phase.freeze-a'); i++) {
      listed.length = 0;
      for await (const w of stack.env.client.workflow.list({ query: 'PhasegateFrozen IS NOT NULL' })) listed.push(w.workflowId);
      await sleep(200);
    }
    assert.ok(listed.includes('phase.freeze-a') && listed.includes(week('freeze-a').workflowId), `PhasegateFrozen lists the frozen phase and week: ${listed.join(', ')}`);
    assert.match((await phasegate('status', 'phase.freeze-a', '--once')).stdout, /FROZEN by oncall since .*: incident 99: database failover/);
    assert.equal((await messagesOf(stack.env, streams.events.name, week('freeze-a').workflowId)).filter((e) => e.kind === 'line.frozen').length, 1);

    assert.match((await phasegate('unfreeze', '--by', 'oncall', '--reason', 'failover done')).stdout, /the line is open again \(unfrozen by oncall; it was frozen by oncall since .*: incident 99: database failover\)\. 2 phase\(s\) carry on/);
    assert.equal((await a.result()).outcome, 'completed');
    assert.equal((await b.result()).outcome, 'completed');
    for (const x of agents) assert.deepEqual(await stagesOf(x, 'freeze-a-change'), [1, 2, 3], `${x} migrated after the unfreeze`);
    assert.deepEqual(await stagesOf('CalendarAgent', 'freeze-b-change'), [1, 2, 3]);
    const done = await week('freeze-a').query(weekStatusQuery);
    assert.equal(done.line, null);
    assert.deepEqual(done.agents.map((x) => x.state), ['migrated', 'migrated', 'migrated']);
    await assert.rejects(phasegate('unfreeze', '--by', 'oncall'), (err: Error & { stderr: string }) => /the line is not frozen/.test(err.stderr));
    await assert.rejects(phasegate('freeze', '--by', 'oncall'), (err: Error & { stderr: string }) => /freeze needs --reason/.test(err.stderr));
  });

  it("a freeze in a gate's veto window vetoes its auto-promotion; after the unfreeze a person decides, and the agent stays migrated", async () => {
    const agent = 'RemoteConnectorAgent';
    const p = planSchema.parse({ ...plan('freeze-gate', [agent]), weeks: [{ ...plan('freeze-gate', [agent]).weeks[0]!, gate: { criteria: [{ kind: 'max-rollbacks', count: 0 }], autoPromote: { bakeMs: 0, vetoMs: 4000 } } }] });
    const handle = await startPhase(stack.env, p);
    await weekUntil('freeze-gate', (s) => s.gate.autoPromotion?.state === 'veto-window', 'the veto window');
    await phasegate('freeze', '--by', 'oncall', '--reason', 'incident 100');
    const vetoed = await weekUntil('freeze-gate', (s) => s.gate.autoPromotion?.state === 'vetoed', 'the veto by the freeze');
    assert.match((vetoed.gate.autoPromotion as { reason: string }).reason, /^held by oncall: incident 100$/);
    await phasegate('unfreeze', '--by', 'oncall');
    await sleep(5000);
    const later = await week('freeze-gate').query(weekStatusQuery);
    assert.deepEqual([later.state, later.gate.decisions], ['gate-open', []], 'no promotion after the unfreeze: a person decides');
    await week('freeze-gate').executeUpdate(decideGateUpdate, { args: [{ gate: 'freeze-gate.week1.gate', decision: 'go', by: 'oncall' }] });
    assert.equal((await handle.result()).outcome, 'completed');
    assert.deepEqual(await stagesOf(agent, 'freeze-gate-change'), [1, 2, 3]);
  });

  it('a freeze period added to deployment.json while a phase runs reaches it with `phasegate calendar apply`: the stage in flight lands, nothing new starts, and taking it out again lets the phase finish', async () => {
    // Two agents on one machine, one at a time: the second starts only after the first.
    const agents = ['ResponderAgent', 'ChitchatAgent'];
    const deploymentFile = path.join(stack.env.config.configDir, 'deployment.json');
    const original = readFileSync(deploymentFile, 'utf8');
    try {
      // A stage takes 12 s: long enough for the calendar to reach the migration while its stage 1 runs.
      for (const a of agents) await stack.sim.fault(a, { applyDelayMs: 12_000 });
      const handle = await start(plan('calendar-live', agents));
      const applying = await weekUntil('calendar-live', (s) => s.agents.some((a) => a.state === 'running'), 'the first migration');
      const firstProgress = applying.agents.find((a) => a.state === 'running')!;
      const first = firstProgress.agent;
      const second = agents.find((a) => a !== first)!;
      const migration = stack.env.client.workflow.getHandle<typeof agentMigrationWorkflow>(firstProgress.workflowId);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && (await migration.query(agentMigrationStatusQuery).catch(() => null))?.state !== 'applying') await sleep(100);
      assert.equal((await week('calendar-live').query(weekStatusQuery)).calendar, undefined, 'the phase started without a calendar');

      // The release freeze is written into deployment.json after the phase started, and applied.
      const now = Date.now();
      const calendar = { timeZone: 'UTC', freezes: [{ from: new Date(now - 60_000).toISOString(), to: new Date(now + 3_600_000).toISOString(), reason: 'release freeze added late' }] };
      writeFileSync(deploymentFile, JSON.stringify({ ...JSON.parse(original), calendar }, null, 2));
      assert.match((await phasegate('calendar', 'apply', '--by', 'release-manager')).stdout, /0 windows, 1 freeze, UTC\) sent by release-manager to 1 running phase: phase\.calendar-live/);
      const closed = await weekUntil('calendar-live', (s) => s.calendar?.open === false, 'the week to close by the new calendar');
      assert.match(closed.calendar?.why ?? '', /release freeze added late/);
      for (const a of agents) await stack.sim.fault(a, { applyDelayMs: 0 });
      const wait = Date.now() + 40_000;
      let m = await migration.query(agentMigrationStatusQuery);
      while (Date.now() < wait && !(m.state === 'paused' && m.stagesApplied.length === 1)) {
        await sleep(200);
        m = await migration.query(agentMigrationStatusQuery);
      }
      assert.deepEqual([m.state, m.stagesApplied, m.line?.by], ['paused', [1], 'calendar'], 'the stage in flight landed, then the migration held');
      await sleep(3000);
      assert.deepEqual(await stagesOf(first, 'calendar-live-change'), [1], 'no stage 2 inside the freeze');
      // One machine, one migration at a time: the second agent waits for the held first (the
      // week's own hold on new work is calendar.test's); on the machine it is untouched.
      assert.deepEqual(await stagesOf(second, 'calendar-live-change'), [], 'the second agent untouched inside the freeze');
      assert.equal((await week('calendar-live').query(weekStatusQuery)).agents.find((a) => a.agent === second)?.state, 'waiting');

      // The freeze taken out of deployment.json again and applied: the phase finishes.
      writeFileSync(deploymentFile, original);
      assert.match((await phasegate('calendar', 'apply', '--by', 'release-manager')).stdout, /no calendar .* sent by release-manager to 1 running phase/);
      assert.equal((await handle.result()).outcome, 'completed');
      for (const a of agents) assert.deepEqual(await stagesOf(a, 'calendar-live-change'), [1, 2, 3], `${a} migrated once the freeze was taken out`);
      const kinds = (await messagesOf(stack.env, streams.events.name, week('calendar-live').workflowId)).map((e) => e.kind).filter((k) => k.startsWith('calendar.'));
      // A change and the closing it causes come from one workflow task and may reach the stream in
      // either order; the closing and the opening come from tasks far apart.
      assert.deepEqual(kinds.filter((k) => k !== 'calendar.changed'), ['calendar.closed', 'calendar.opened']);
      assert.equal(kinds.filter((k) => k === 'calendar.changed').length, 2);
      assert.deepEqual((await messagesOf(stack.env, streams.events.name, 'phase.calendar-live')).filter((e) => e.kind === 'calendar.changed').map((e) => e.data.by), ['release-manager', 'release-manager']);
    } finally {
      writeFileSync(deploymentFile, original);
    }
  });
});
