import assert, { AssertionError } from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { streams } from '../../lib/nats';
import { projectRoot } from '../../lib/paths';
import { phaseInput } from '../../plan/compile';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { checkEventDelivery } from '../support/events';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { drillPlan, migrationPastFirstStage, until } from '../support/drills';
import { checkRecordsAgree } from '../support/records';
import { recordReliability } from '../support/reliability-summary';

const run = promisify(execFile);

/**
 * Machine loss: pc2's worker is killed in the middle of a week and stays away for longer than
 * a step may wait for it (machineQueueWaitMs, 5 s here; 2 min by default). The week must pause
 * with a level-2 alert naming pc2, and must not start a rollback that would itself need pc2.
 * When the worker is back, `phasegate resume` carries the week on to the end.
 */
const queueWaitMs = 5000;
const plan = drillPlan('machine-loss', 'a rollout that loses pc2 for a while', 'lossproof', {
  timings: { machineQueueWaitMs: queueWaitMs },
  // This test is about the queue wait: a step no worker takes. The link watch, which would
  // notice the silent worker first, has its own test (partition.test).
  watchLinks: false,
});

describe('machine loss: the pc2 worker gone for longer than a step may wait (real dev server, workers as child processes)', () => {
  let env: TestStack;
  before(async () => {
    env = await startTestStack();
  });
  after(async () => env?.stop());

  it('the week pauses with a level-2 alert naming pc2, rolls nothing back, and `resume` carries on once the worker is back', async () => {
    const input = { ...phaseInput(plan, env.config.inventory), autoApproveGates: { by: 'machine-loss-test' } };
    const handle = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.machine-loss', args: [input] });
    const weekHandle = env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));

    // Kill pc2's worker while its migrations are in the middle of their stages.
    const inFlight = await migrationPastFirstStage(env.client, weekHandle, 'pc2');
    await env.stack.kill('worker-pc2');
    const lostAt = Date.now();

    const paused = await until('the week paused for pc2', 90_000, async () => {
      const week = await weekHandle.query(weekStatusQuery);
      return week.state === 'paused' && week.unreachableMachines.includes('pc2') ? week : undefined;
    });
    const detectedMs = Date.now() - lostAt;
    assert.match(paused.pauseReason ?? '', /machine pc2 unreachable/);

    // The level-2 alert names the machine.
    const js = env.nats.jetstream();
    const consumer = await js.consumers.get(streams.alerts.name, { filterSubjects: ['phasegate.alerts.level2'] });
    const alert = await until('the level-2 alert', 30_000, async () => {
      const m = await consumer.next({ expires: 2000 });
      if (!m) return undefined;
      const a = m.json<{ title: string; detail: string; data: { machine?: string } }>();
      return /unreachable/.test(a.title) ? a : undefined;
    });
    assert.match(alert.title, /machine pc2 unreachable, week paused/);
    assert.equal(alert.data.machine, 'pc2');
    assert.match(alert.detail, /nothing is rolled back/);

    // The migration killed mid-stage finds pc2 unreachable once its step's retry has waited
    // queueWaitMs on pc2's queue; it holds there. The other pc2 migrations settle the same way
    // (or pause at their next stage), each after its own activity's heartbeat timeout, retry
    // and queue wait, so the test waits for all of them rather than for a fixed time, checking
    // on every look that nothing started a rollback meanwhile.
    await until(`${inFlight} holding for pc2`, 60_000, async () => {
      const id = paused.agents.find((a) => a.agent === inFlight)!.workflowId;
      const m = await env.client.workflow.getHandle(id).query(agentMigrationStatusQuery);
      return m.state === 'machine-unreachable' ? m : undefined;
    });
    let lastLook = '';
    const { week, holding } = await until('every pc2 migration holding or paused', 90_000, async () => {
      const week: WeekStatus = await weekHandle.query(weekStatusQuery);
      const holding: string[] = [];
      const looks: string[] = [];
      for (const a of week.agents.filter((x) => x.machine === 'pc2' && x.state === 'running')) {
        const m = await env.client.workflow.getHandle(a.workflowId).query(agentMigrationStatusQuery);
        looks.push(`${a.agent} ${m.state}`);
        assert.equal(m.rollback, null, `${a.agent} started a rollback while pc2 was away`);
        assert.notEqual(m.state, 'rolling-back', `${a.agent} is rolling back while pc2 is away`);
        if (m.state === 'machine-unreachable') {
          assert.equal(m.unreachable?.machine, 'pc2');
          holding.push(a.agent);
        }
      }
      lastLook = looks.join(', ');
      return looks.every((l) => / (machine-unreachable|paused)$/.test(l)) ? { week, holding } : undefined;
    }).catch((err: Error) => {
      throw err instanceof AssertionError ? err : new Error(`${err.message}; last look: ${lastLook}`);
    });
    // And they stay so while pc2 is away: one more queue wait later, still no rollback.
    await new Promise((r) => setTimeout(r, queueWaitMs));
    for (const a of week.agents.filter((x) => x.machine === 'pc2' && x.state === 'running')) {
      const m = await env.client.workflow.getHandle(a.workflowId).query(agentMigrationStatusQuery);
      assert.equal(m.rollback, null, `${a.agent} started a rollback while pc2 was away`);
      assert.ok(['machine-unreachable', 'paused'].includes(m.state), `${a.agent} is ${m.state} while pc2 is away`);
    }
    assert.ok(holding.includes(inFlight), `${inFlight} (killed mid-stage) holds: ${holding.join(', ')}`);
    assert.ok(week.agents.every((a) => a.state !== 'rolled-back' && a.state !== 'failed'), JSON.stringify(week.agents));
    const undos = (await simulatorClient(env.simulatorAdmin).actions()).filter((a) => a.action === 'undo-stage');
    assert.deepEqual(undos, [], 'no undo ran anywhere');

    // The worker comes back; an operator resumes with the project CLI.
    await env.stack.startMachineWorker('pc2');
    const awayMs = Date.now() - lostAt;
    const { stdout } = await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'resume', handle.workflowId, '--by', 'on-call', '--config', env.config.configDir]);
    assert.match(stdout, /resume/i);

    const result = await handle.result();
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    const final = await weekHandle.query(weekStatusQuery);
    assert.deepEqual(final.unreachableMachines, []);
    assert.equal(final.agents.filter((a) => a.state === 'migrated').length, 10, JSON.stringify(final.agents));
    const records = await checkRecordsAgree(env.simulatorAdmin, final, 'lossproof');
    const delivery = await checkEventDelivery(env.client, env.nats);
    assert.deepEqual(delivery.lost, []);
    assert.deepEqual(delivery.duplicated, []);
    recordReliability({
      suite: 'machine loss',
      faultsInjected: 1,
      phasesFinished: 1,
      actionsChecked: records.actionsChecked,
      inputsRejected: 0,
      eventsLost: delivery.lost.length,
      detail: `pc2 worker SIGKILLed mid-stage, away ${(awayMs / 1000).toFixed(0)} s; week paused with a level-2 alert after ${(detectedMs / 1000).toFixed(1)} s; ${holding.length} migrations held, 0 undos; resumed, 10 of 10 migrated`,
    });
    console.log(
      `machine loss: pc2 away ${(awayMs / 1000).toFixed(0)} s; paused + level-2 alert ${(detectedMs / 1000).toFixed(1)} s after the kill (queue wait ${queueWaitMs / 1000} s); held: ${holding.join(', ')}; 0 undos; after resume 10 of 10 migrated; ${records.actionsChecked} actions checked; events ${delivery.asked} asked, ${delivery.stored} stored, 0 lost`,
    );
  });
});
