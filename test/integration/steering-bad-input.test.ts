import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { planSchema } from '../../config/schema/plan';
import { phaseInput } from '../../plan/compile';
import { agentMigrationStatusQuery } from '../../workflows/agent-migration';
import { phaseStatusQuery, phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery } from '../../workflows/week';
import { startTestStack, type TestStack } from '../support/harness';
import { recordReliability } from '../support/reliability-summary';

/**
 * Malformed signals and updates sent to running workflows on the real dev server: wrong
 * types, unknown fields, levels out of range, absurd lengths, oversized payloads. Updates are
 * refused by their validators with a clear message (nothing enters the history); signals are
 * refused by the handler (listed in the status, sent as an event) and never acted on. No
 * workflow task fails, no worker crashes, and the phase then finishes as if nothing happened.
 */
const plan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'steering-bad-input',
  title: 'a rollout that operators send nonsense to',
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 1000, stageVerificationMs: 1000, observationMs: 0 },
  weeks: [{ id: 'week1', title: 'two agents', steps: [{ id: 'agents', migrate: { change: 'nonsense', select: { agents: ['ChitchatAgent', 'NotificationAgent'] }, batchSize: 2 } }], gate: { criteria: [{ kind: 'all-migrated' }] } }],
});

const malformedSignals: Array<[string, 'pause' | 'resume' | 'abort', unknown, RegExp]> = [
  ['null', 'pause', null, /takes an object, got null/],
  ['a string', 'pause', 'stop everything', /takes an object, got string/],
  ['an array', 'resume', [{ by: 'x' }], /takes an object, got an array/],
  ['no "by"', 'pause', {}, /"by" must be a non-empty string/],
  ['"by" a number', 'pause', { by: 42 }, /"by" must be a non-empty string/],
  ['"by" blank', 'resume', { by: '   ' }, /"by" must be a non-empty string/],
  ['a reason of 100 000 characters', 'pause', { by: 'op', reason: 'x'.repeat(100_000) }, /"reason" is 100000 characters; at most 2000/],
  ['an unknown field', 'pause', { by: 'op', force: true }, /unknown field "force"/],
  ['a shell command as a field name', 'resume', { by: 'op', '$(reboot)': 1 }, /unknown field "\$\(reboot\)"/],
  ['abort level 7', 'abort', { by: 'op', level: 7 }, /"level" must be 1, 2 or 3, got 7/],
  ['abort level "2"', 'abort', { by: 'op', level: '2' }, /"level" must be 1, 2 or 3, got "2"/],
  ['abort without a level', 'abort', { by: 'op' }, /"level" must be 1, 2 or 3/],
  ['abort level 2.5', 'abort', { by: 'op', level: 2.5 }, /"level" must be 1, 2 or 3, got 2.5/],
];

describe('malformed signals and updates to running workflows (real dev server and workers)', () => {
  let env: TestStack;
  before(async () => {
    env = await startTestStack();
  });
  after(async () => env?.stop());

  it('each is refused with a clear message, none is acted on, no workflow task fails, no worker crashes, and the phase then finishes', async () => {
    const input = phaseInput(plan, env.config.inventory);
    const phase = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.steering-bad-input', args: [input] });
    const week = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week1'));
    const gateId = 'steering-bad-input.week1.gate';
    const gateOpen = async () => {
      for (let i = 0; i < 240; i++) {
        const s = await week.query(weekStatusQuery).catch(() => null);
        if (s?.gate.open) return s;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('the gate did not open');
    };
    let rejected = 0;
    let toMigration = 0;

    // While the first migration runs: malformed signals to the phase, the week and the migration.
    const running = await (async () => {
      for (let i = 0; i < 200; i++) {
        const s = await week.query(weekStatusQuery).catch(() => null);
        const r = s?.agents.find((a) => a.state === 'running');
        if (r) return r;
        await new Promise((r2) => setTimeout(r2, 100));
      }
      throw new Error('no migration started');
    })();
    const migration = env.client.workflow.getHandle(running.workflowId);
    for (const [name, signal, arg, reason] of malformedSignals) {
      await phase.signal(signal, arg as never);
      await week.signal(signal, arg as never);
      // The migration is short; once it has finished the server refuses the signal itself.
      if (signal !== 'abort') {
        const delivered = await migration.signal(signal, arg as never).then(
          () => true,
          (e: Error) => {
            assert.match(`${e.message}: ${(e.cause as Error | undefined)?.message}`, /completed|not found/i);
            return false;
          },
        );
        if (delivered) {
          rejected++;
          toMigration++;
        }
      }
      const [p, w] = [await phase.query(phaseStatusQuery), await week.query(weekStatusQuery)];
      assert.ok(p.rejectedSignals.some((r) => r.signal === signal && reason.test(r.reason)), `phase, ${name}: ${JSON.stringify(p.rejectedSignals.at(-1))}`);
      assert.ok(w.rejectedSignals.some((r) => r.signal === signal && reason.test(r.reason)), `week, ${name}: ${JSON.stringify(w.rejectedSignals.at(-1))}`);
      assert.equal(p.paused, null, `phase paused by ${name}`);
      assert.equal(p.abort, null, `phase aborted by ${name}`);
      assert.equal(w.abort, null, `week aborted by ${name}`);
      rejected += 2;
    }
    await week.signal('machineUnreachable', { machine: 7, what: 'x', queueWaitMs: 1, workflowId: 'w' } as never);
    rejected++;
    const m = await migration.query(agentMigrationStatusQuery);
    assert.equal(m.rejectedSignals.length, Math.min(20, toMigration), 'the migration refused every malformed signal it received');
    assert.notEqual(m.state, 'paused');

    // An oversized signal (3 MB) is refused by the server itself, before the workflow sees it.
    await assert.rejects(phase.signal('pause', { by: 'op', reason: 'x'.repeat(3 * 1024 * 1024) } as never), (err: Error) => {
      assert.match(`${err.message}: ${(err.cause as Error | undefined)?.message}`, /size|limit|exceed/i);
      return true;
    });
    rejected++;

    // Malformed gate decisions: each refused by the update validator with its reason.
    await gateOpen();
    const decide = (d: unknown) => week.executeUpdate('decideGate', { args: [d] as never });
    const updates: Array<[unknown, RegExp]> = [
      [null, /a gate decision must be an object, got null/],
      ['go', /a gate decision must be an object, got string/],
      [[gateId, 'go'], /a gate decision must be an object, got an array/],
      [{ gate: gateId, decision: 'maybe', by: 'op' }, /decision must be go, hold or rollback-week/],
      [{ gate: 'production.week9.gate', decision: 'go', by: 'op' }, /is not the open gate/],
      [{ gate: gateId, decision: 'go' }, /"by" must name who decided/],
      [{ gate: gateId, decision: 'go', by: 'x'.repeat(500) }, /at most 200 characters/],
      [{ gate: gateId, decision: 'go', by: 'op', reason: 42 }, /"reason" must be a string/],
      [{ gate: `${gateId}; rm -rf /`, decision: 'go', by: 'op' }, /is not the open gate/],
    ];
    for (const [arg, reason] of updates) {
      const err = await decide(arg).then(
        () => assert.fail(`accepted ${JSON.stringify(arg)?.slice(0, 80)}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
      assert.match((err.cause as Error).message, reason);
      rejected++;
    }
    // Updates to a migration that has finished are refused too (nothing waits).
    await assert.rejects(migration.executeUpdate('approveStage', { args: [null] as never }));
    rejected++;

    const open = await week.query(weekStatusQuery);
    assert.equal(open.gate.decisions.length, 0, 'no refused decision was recorded');
    await week.executeUpdate('decideGate', { args: [{ gate: gateId, decision: 'go', by: 'op', reason: 'after the nonsense' }] as never });
    const result = await phase.result();
    assert.equal(result.outcome, 'completed');

    // No workflow task failed anywhere, and every worker is still the one that started.
    let taskFailures = 0;
    for await (const w of env.client.workflow.list()) {
      const history = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      taskFailures += (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
    }
    assert.equal(taskFailures, 0, 'workflow task failures');
    for (const name of ['worker-control', 'worker-mainpc', 'worker-pc2']) {
      const p = env.stack.processes.get(name)!;
      assert.equal(p.child.exitCode, null, `${name} exited`);
      assert.equal(p.child.signalCode, null, `${name} was killed`);
    }
    recordReliability({
      suite: 'malformed signals and updates',
      faultsInjected: 0,
      phasesFinished: 1,
      actionsChecked: 0,
      inputsRejected: rejected,
      eventsLost: 0,
      detail: `${rejected} malformed signals and updates to a running phase, week and migration refused; 0 workflow task failures; workers alive`,
    });
    console.log(`malformed steering: ${rejected} signals and updates refused with their reasons; 0 workflow task failures; 3 workers alive; phase completed`);
  });
});
