import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { projectRoot } from '../../lib/paths';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { resumeSignal } from '../../workflows/lib/steering';
import { abortSignal, decideGateUpdate, resolveWeekUndoUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { fastPlan, startMigration, waitForStatus } from '../support/migration';
import { recordReliability } from '../support/reliability-summary';

const run = promisify(execFile);

/**
 * The fleet and phasegate's record agree where they used to part (issue 14's findings): an
 * apply that lands late, a wrapper script that hangs, a failed undo a person accepts, failed
 * undos during a week's and a phase's rollback, a worker stopped while a command runs. Each
 * test ends by comparing the simulator's record and state with what phasegate reports.
 */
describe('the fleet and the record agree', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;
  let hangFile = '';
  let faults = 0;
  let checked = 0;

  before(async () => {
    env = await startTestStack({
      edit: ({ catalogues, deployment }) => {
        // Applies time out after 1.5 s here, so hung ones are caught in seconds.
        for (const c of Object.values(catalogues)) c.actions['apply-stage'].timeoutMs = 1500;
        // pc2's apply goes through a wrapper script that hangs (with a child of its own) for
        // the agents named in a file: the shape of a real deployment script gone wrong.
        const dir = path.join(projectRoot, deployment.dataDir);
        hangFile = path.join(dir, 'hang-agents');
        writeFileSync(hangFile, '');
        const wrapper = path.join(dir, 'apply-wrapper.sh');
        writeFileSync(
          wrapper,
          `#!/bin/sh\n# test wrapper: hangs with a child process for the agents listed in ${hangFile}, else runs the real command\nagent="$1"; shift\nif grep -qx "$agent" '${hangFile}'; then sleep 31.7 & wait; fi\nexec "$@"\n`,
        );
        chmodSync(wrapper, 0o755);
        const apply = catalogues.pc2.actions['apply-stage'];
        catalogues.pc2.actions['apply-stage'] = { ...apply, command: wrapper, args: ['{agent}', apply.command, ...apply.args] };
      },
    });
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => {
    await env?.stop();
    recordReliability({ suite: 'fleet and record', faultsInjected: faults, phasesFinished: 3, actionsChecked: checked, inputsRejected: 0, eventsLost: 0, detail: 'late and hung applies, accepted undos, failed undos in week and phase rollbacks, a worker stopped mid-command: record and fleet agree' });
  });

  const machineOf = (agent: string) => env.config.inventory.agents.find((a) => a.name === agent)!.machine;
  const stagesOf = async (agent: string, change: string) => [...((await sim.agent(agent)).changes[change] ?? [])].sort();
  const sleepers = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').startsWith('sleep 31.7') && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z');
        } catch {
          return false;
        }
      });

  it('an apply whose command is killed at its timeout never lands afterwards: the rollback and the fleet agree', async () => {
    const agent = 'TaskSchedulerAgent';
    // The agent takes 4 s to apply, the command may take 1.5 s: every attempt is killed first.
    await sim.fault(agent, { applyDelayMs: 4000 });
    faults++;
    const handle = await startMigration(env, agent, fastPlan({ timings: { baselineSamples: 1 } }), 'late-apply');
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.match(result.rollback?.reason ?? '', /timed out after \d+ ms \(its whole process group was killed\)/);
    // Long enough for any apply left behind to have landed (4 s after its request).
    await new Promise((r) => setTimeout(r, 5000));
    const records = await sim.actions(agent);
    checked += records.length;
    const applies = records.filter((r) => r.action === 'apply-stage' && r.change === 'late-apply');
    assert.ok(applies.length >= 2 && applies.every((r) => r.outcome === 'abandoned'), `every attempt abandoned when its command went: ${applies.map((r) => r.outcome).join(', ')}`);
    assert.deepEqual(await stagesOf(agent, 'late-apply'), [], 'rolled back, and nothing of the change on the agent');
    assert.deepEqual(result.stagesApplied, []);
    assert.deepEqual(result.rollback?.changes[0]?.readBack, { present: [], unknown: [] });
    await sim.fault(agent, { applyDelayMs: 0 });
  });

  it('an apply that hangs past its timeout and then lands on the retry is applied exactly once', async () => {
    const agent = 'GoalManagerAgent';
    await sim.fault(agent, { applyHangs: 1 });
    faults++;
    const result = await (await startMigration(env, agent, fastPlan({ timings: { baselineSamples: 1 } }), 'hang-once')).result();
    assert.equal(result.outcome, 'migrated');
    const stage1 = (await sim.actions(agent)).filter((r) => r.action === 'apply-stage' && r.change === 'hang-once' && r.stage === 1).map((r) => r.outcome);
    assert.deepEqual(stage1, ['abandoned', 'applied']);
    assert.deepEqual(await stagesOf(agent, 'hang-once'), [1, 2, 3]);
  });

  it('a wrapper script that hangs with a child of its own leaves nothing running when it times out', async () => {
    const agent = 'CacheManagerAgent';
    writeFileSync(hangFile, `${agent}\n`);
    faults++;
    const handle = await startMigration(env, agent, fastPlan({ timings: { baselineSamples: 1 } }), 'hung-wrapper');
    const seen: number[] = [];
    // While the attempts hang: at most the current attempt's `sleep` exists, never one per retry.
    const watch = (async () => {
      for (let i = 0; i < 200 && (await handle.describe()).status.name === 'RUNNING'; i++) {
        seen.push(sleepers().length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const result = await handle.result();
    await watch;
    writeFileSync(hangFile, '');
    assert.equal(result.outcome, 'rolled-back');
    assert.ok(Math.max(...seen) <= 1, `sleep processes alive at once: ${Math.max(...seen)} (one per retry would mean they outlived their group)`);
    assert.deepEqual(sleepers(), [], 'no sleep of the wrapper outlived it');
    assert.deepEqual(await stagesOf(agent, 'hung-wrapper'), []);
    assert.equal((await sim.actions(agent)).filter((r) => r.change === 'hung-wrapper' && r.action === 'apply-stage').length, 0, 'the hung wrapper never reached the agent');
  });

  function plan(id: string, weeks: Array<{ agents: string[] }>) {
    return planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id,
      title: id,
      thresholds: { sampleIntervalMs: 250, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 750, stageVerificationMs: 750, observationMs: 0 },
      weeks: weeks.map((w, i) => ({
        id: `week${i + 1}`,
        title: `week ${i + 1}`,
        steps: [{ id: `w${i + 1}`, migrate: { change: `${id}-w${i + 1}`, select: { agents: w.agents }, batchSize: w.agents.length, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 5, perWeek: 5, onExceeded: 'pause' } } }],
        gate: { criteria: [{ kind: 'max-rollbacks', count: 5 }] },
      })),
    });
  }
  const startPhase = (p: ReturnType<typeof plan>): Promise<WorkflowHandle<typeof phaseWorkflow>> =>
    env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.${p.id}.test`, args: [phaseInput(p, env.config.inventory)] });
  const week = (phase: string, w: string) => env.client.workflow.getHandle(weekWorkflowId(phase, w));
  const weekUntil = (phase: string, w: string, ok: (s: WeekStatus) => boolean, what: string) =>
    until(what, 90_000, async () => {
      const s = await week(phase, w).query(weekStatusQuery);
      return ok(s) ? s : undefined;
    });
  const cli = async (...args: string[]) => (await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), ...args, '--config', env.config.configDir])).stdout;

  it('a failed undo a person accepts is reported as accepted as is, listed while it waits, and undone by a later week rollback', async () => {
    const [bad, good] = ['SessionMemoryAgent', 'ChitchatAgent'];
    const p = plan('accept-undo', [{ agents: [bad, good] }]);
    // Caused by the change (clearOnUndo): the pre-flight check finds the agent healthy.
    await sim.fault(bad, { integrationFailing: true, undoFails: true, clearOnUndo: true });
    faults++;
    const phase = await startPhase(p);
    const waiting = await until('the failed undo to wait for a person', 90_000, async () => {
      const s = await phase.query(phaseStatusQuery);
      return s.waitingForPerson.some((w) => w.what === 'failed-undo') ? s : undefined;
    });
    const wait = waiting.waitingForPerson[0]!;
    assert.equal(wait.agent, bad);
    assert.match(wait.resolve, /^phasegate undo retry\|accept \S+ --reason/);
    // The week and the CLI say a person is needed, and the Web UI's search lists the migration.
    assert.equal((await week(phase.workflowId, 'week1').query(weekStatusQuery)).waitingForPerson[0]?.workflowId, wait.workflowId);
    const plain = await cli('status', phase.workflowId, '--once');
    assert.match(plain, /WAITING FOR A PERSON \(1\)/);
    assert.match(plain, new RegExp(`${bad} failed-undo: .*undo failed`));
    assert.match(plain, /resolve: phasegate undo retry\|accept/);
    const json = JSON.parse(await cli('status', phase.workflowId, '--json')) as { waitingForPerson: Array<{ agent: string; what: string }> };
    assert.deepEqual(json.waitingForPerson.map((w) => [w.agent, w.what]), [[bad, 'failed-undo']]);
    const listed = await until('the search attribute to list it', 20_000, async () => {
      const ids: string[] = [];
      for await (const w of env.client.workflow.list({ query: 'PhasegateWaitingFor="failed-undo"' })) ids.push(w.workflowId);
      return ids.includes(wait.workflowId) ? ids : undefined;
    });
    assert.ok(listed.includes(wait.workflowId));

    assert.match(await cli('undo', 'accept', phase.workflowId, '--reason', 'will fix by hand', '--by', 'alice'), /accepted as it is by alice/);
    const open = await weekUntil(phase.workflowId, 'week1', (s) => s.gate.open, 'the gate');
    const progress = open.agents.find((a) => a.agent === bad)!;
    assert.equal(progress.state, 'accepted-as-is');
    const left = await stagesOf(bad, 'accept-undo-w1');
    assert.ok(left.length > 0, 'the failed undo left stages in place');
    assert.deepEqual(progress.stagesLeft, left, 'the record names the stages the fleet has');
    assert.deepEqual(open.applied.find((c) => c.kind === 'migration' && c.agent === bad), { kind: 'migration', agent: bad, machine: machineOf(bad), change: 'accept-undo-w1', week: 'week1', stages: left, acceptedAsIs: true });
    const rollbacks = open.gate.report!.criteria[0]!.detail;
    assert.match(rollbacks, /^0 rollbacks \(at most 5\); 1 accepted as is/);
    assert.equal((await env.client.workflow.getHandle(wait.workflowId).query(agentMigrationStatusQuery)).outcome, 'accepted-as-is');
    await until('the search attribute to be cleared once answered', 20_000, async () => {
      for await (const w of env.client.workflow.list({ query: `PhasegateWaitingFor="failed-undo" AND WorkflowId="${wait.workflowId}"` })) return w ? undefined : true;
      return true;
    });

    // Fixed; the gate rolls the week back: the accepted change is undone with the rest.
    await sim.fault(bad, { undoFails: false, integrationFailing: false });
    await week(phase.workflowId, 'week1').executeUpdate(decideGateUpdate, { args: [{ gate: open.gate.id, decision: 'rollback-week', by: 'alice', reason: 'undo fixed' }] });
    const result = await phase.result();
    assert.equal(result.outcome, 'stopped');
    const w = await week(phase.workflowId, 'week1').query(weekStatusQuery);
    assert.deepEqual(w.rollback?.undone.sort(), [bad, good].sort());
    assert.deepEqual(w.applied, []);
    assert.deepEqual(await stagesOf(bad, 'accept-undo-w1'), []);
    assert.deepEqual(await stagesOf(good, 'accept-undo-w1'), []);
  });

  it('an undo that fails during a week rollback waits for a person; the week never fails, and retried it finishes', async () => {
    const agents = ['ExperienceTrackerAgent', 'NotificationAgent'];
    const p = plan('week-undo', [{ agents }]);
    const phase = await startPhase(p);
    const open = await weekUntil(phase.workflowId, 'week1', (s) => s.gate.open, 'the gate');
    await sim.fault(agents[1]!, { undoFails: true });
    faults++;
    await week(phase.workflowId, 'week1').executeUpdate(decideGateUpdate, { args: [{ gate: open.gate.id, decision: 'rollback-week', by: 'bob' }] });
    const waiting = await weekUntil(phase.workflowId, 'week1', (s) => s.waitingForPerson.length > 0, 'the week rollback to wait for a person');
    assert.equal(waiting.state, 'rolling-back');
    assert.equal(waiting.waitingForPerson[0]?.workflowId, weekWorkflowId(phase.workflowId, 'week1'));
    assert.equal(waiting.waitingForPerson[0]?.agent, agents[1]);
    assert.equal((await week(phase.workflowId, 'week1').describe()).status.name, 'RUNNING', 'the week did not fail');
    assert.deepEqual(await stagesOf(agents[1]!, 'week-undo-w1'), [1, 2, 3], 'nothing of it undone behind the operator');
    await sim.fault(agents[1]!, { undoFails: false });
    await week(phase.workflowId, 'week1').executeUpdate(resolveWeekUndoUpdate, { args: [{ action: 'retry-undo', by: 'bob', reason: 'undo script fixed' }] });
    const result = await phase.result();
    assert.equal(result.outcome, 'stopped');
    const w = await week(phase.workflowId, 'week1').query(weekStatusQuery);
    assert.equal(w.outcome, 'rolled-back');
    assert.equal(w.rollback?.changes.find((c) => c.name === agents[1])?.resolutions[0]?.action, 'retry-undo');
    for (const a of agents) assert.deepEqual(await stagesOf(a, 'week-undo-w1'), [], a);
  });

  it('an undo that fails during a phase rollback waits for a person; accepted, the phase records what stays applied', async () => {
    const [w1, w2] = [['LearningAdjusterAgent', 'AuthenticationAgent'], ['AsyncProcessorAgent']];
    const p = plan('phase-undo', [{ agents: w1 }, { agents: w2 }]);
    const phase = await startPhase(p);
    const gate1 = await weekUntil(phase.workflowId, 'week1', (s) => s.gate.open, 'week 1 gate');
    await week(phase.workflowId, 'week1').executeUpdate(decideGateUpdate, { args: [{ gate: gate1.gate.id, decision: 'go', by: 'carol' }] });
    await weekUntil(phase.workflowId, 'week2', (s) => s.gate.open || s.agents.some((a) => a.state === 'running'), 'week 2 under way');
    await sim.fault(w1[1]!, { undoFails: true });
    faults++;
    await phase.signal(abortSignal, { level: 3, by: 'carol', reason: 'incident 99' });
    const waiting = await until('the phase rollback to wait', 90_000, async () => {
      const s = await phase.query(phaseStatusQuery);
      return s.waitingForPerson.some((w) => w.workflowId === phase.workflowId) ? s : undefined;
    });
    assert.equal(waiting.state, 'rolling-back');
    assert.match(await cli('undo', 'accept', phase.workflowId, '--reason', 'leave it, it is harmless', '--by', 'carol'), /accepted as it is/);
    const result = await phase.result();
    assert.equal(result.outcome, 'aborted');
    assert.deepEqual(result.rollback?.acceptedAsIs, [`week1/${w1[1]}`]);
    assert.deepEqual(result.applied, [{ kind: 'migration', agent: w1[1], machine: machineOf(w1[1]!), change: 'phase-undo-w1', week: 'week1', stages: [1, 2, 3], acceptedAsIs: true }]);
    assert.deepEqual(await stagesOf(w1[1]!, 'phase-undo-w1'), [1, 2, 3], 'what the record says stays applied is applied');
    assert.deepEqual(await stagesOf(w1[0]!, 'phase-undo-w1'), []);
    assert.deepEqual(await stagesOf(w2[0]!, 'phase-undo-w2'), []);
    // A level-3 alert, once.
    const jsm = await env.nats.jetstreamManager();
    const info = await jsm.streams.info('PHASEGATE_ALERTS');
    let level3 = 0;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('PHASEGATE_ALERTS', { seq });
      const a = m.json<{ level: number; workflowId: string }>();
      if (a.level === 3 && a.workflowId === phase.workflowId) level3++;
    }
    assert.equal(level3, 1, 'one level-3 alert for the phase rollback');
  });

  it('a phase rollback that needs a machine whose worker is gone holds with a level-2 alert, and finishes after resume', async () => {
    const [w1, w2] = [['UserProfileAgent'], ['ResponderAgent']];
    const p = planSchema.parse({ ...plan('phase-hold', [{ agents: w1 }, { agents: w2 }]), timings: { baselineSamples: 1, rapidVerificationMs: 750, stageVerificationMs: 750, observationMs: 0, machineQueueWaitMs: 3000 } });
    const phase = await startPhase(p);
    const gate1 = await weekUntil(phase.workflowId, 'week1', (s) => s.gate.open, 'week 1 gate');
    await week(phase.workflowId, 'week1').executeUpdate(decideGateUpdate, { args: [{ gate: gate1.gate.id, decision: 'go', by: 'hank' }] });
    const gate2 = await weekUntil(phase.workflowId, 'week2', (s) => s.gate.open, 'week 2 gate (mainpc only)');
    assert.ok(gate2.agents.every((a) => a.machine === 'mainpc'));
    await env.stack.kill('worker-pc2');
    faults++;
    await phase.signal(abortSignal, { level: 3, by: 'hank', reason: 'incident 100' });
    const held = await until('the phase rollback to hold for pc2', 60_000, async () => {
      const s = await phase.query(phaseStatusQuery);
      return s.state === 'paused' ? s : undefined;
    });
    assert.deepEqual(held.unreachableMachines, ['pc2']);
    assert.deepEqual(await stagesOf(w1[0]!, 'phase-hold-w1'), [1, 2, 3], 'nothing undone on a machine nobody can reach');
    assert.deepEqual(await stagesOf(w2[0]!, 'phase-hold-w2'), [], 'week 2 (mainpc) rolled back by its own week');
    await env.stack.startMachineWorker('pc2');
    await phase.signal(resumeSignal, { by: 'hank' });
    const result = await phase.result();
    assert.equal(result.outcome, 'aborted');
    assert.deepEqual(result.rollback?.undone, [`week1/${w1[0]}`]);
    assert.deepEqual(await stagesOf(w1[0]!, 'phase-hold-w1'), []);
  });

  it('a worker stopped (SIGTERM) while a command runs lets it finish: applied once, by that command', async () => {
    const agent = 'TaskQueueAgent';
    await sim.fault(agent, { applyDelayMs: 1200 });
    const handle = await startMigration(env, agent, fastPlan({ timings: { baselineSamples: 1 } }), 'graceful');
    await waitForStatus(handle, (s) => s.state === 'applying' && s.currentStage === 2, 'stage 2 applying');
    await new Promise((r) => setTimeout(r, 300));
    const worker = env.stack.processes.get('worker-pc2')!;
    const stopped = Date.now();
    await env.stack.kill('worker-pc2', 'SIGTERM');
    const exitedAfterMs = Date.now() - stopped;
    faults++;
    const stage2 = (await sim.actions(agent)).filter((r) => r.change === 'graceful' && r.stage === 2 && r.action === 'apply-stage');
    assert.deepEqual(stage2.map((r) => r.outcome), ['applied'], 'the command in flight finished before the worker went');
    assert.ok(worker.child.exitCode !== null || worker.child.signalCode !== null);
    await sim.fault(agent, { applyDelayMs: 0 });
    await env.stack.startMachineWorker('pc2');
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    const applied = (await sim.actions(agent)).filter((r) => r.change === 'graceful' && r.action === 'apply-stage' && r.outcome === 'applied').map((r) => r.stage);
    assert.deepEqual(applied, [1, 2, 3]);
    console.log(`# worker stopped ${exitedAfterMs} ms after SIGTERM, once its command had finished`);
  });
});
