import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, DeliverPolicy } from 'nats';
import { streams } from '../../lib/nats';
import { agentMigrationStatusQuery, approveStageUpdate, resolveFailedUndoUpdate } from '../../workflows/agent-migration';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { fastPlan, startMigration, waitForStatus } from '../support/migration';

/** An Update's validator rejection: the reason is in the failure's cause. */
async function rejectedWith(p: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    const text = `${err.message} ${err.cause instanceof Error ? err.cause.message : ''}`;
    assert.match(text, reason);
    return true;
  });
}

describe('agent migration: human approvals, failed undos and a killed machine worker', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;

  // Stands in for the ops-critical channel's Slack-style webhook.
  const webhookPosts: Array<{ text: string; alert: { level: number; data: { agent: string } } }> = [];
  const webhook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      webhookPosts.push(JSON.parse(body) as (typeof webhookPosts)[number]);
      res.end('ok');
    });
  });

  before(async () => {
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/ops-critical`;
    env = await startTestStack({ edit: ({ deployment }) => (deployment.alerts = { webhooks: { level2: url } }) });
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => {
    await env?.stop();
    webhook.close();
  });

  it('critical band: waits for an approval before every stage, rejects a decision for the wrong stage, and a rejection rolls back', async () => {
    const handle = await startMigration(env, 'LearningAdjusterAgent', fastPlan(), undefined, { strategy: 'critical', reason: 'drill' });
    let s = await waitForStatus(handle, (x) => x.state === 'awaiting-approval', 'approval of stage 1');
    assert.equal(s.awaitingApprovalFor, 1);
    assert.deepEqual(s.stagesApplied, []);

    await rejectedWith(handle.executeUpdate(approveStageUpdate, { args: [{ stage: 2, decision: 'approve', by: 'alice' }] }), /stage 2 is not the one waiting; stage 1 is/);
    s = await handle.executeUpdate(approveStageUpdate, { args: [{ stage: 1, decision: 'approve', by: 'alice', reason: 'baseline looks fine' }] });
    assert.equal(s.approvals.length, 1);

    s = await waitForStatus(handle, (x) => x.awaitingApprovalFor === 2, 'approval of stage 2');
    assert.deepEqual(s.stagesApplied, [1]);
    // The same decision twice is refused: stage 1 is no longer open.
    await rejectedWith(handle.executeUpdate(approveStageUpdate, { args: [{ stage: 1, decision: 'approve', by: 'alice' }] }), /not the one waiting/);
    await handle.executeUpdate(approveStageUpdate, { args: [{ stage: 2, decision: 'approve', by: 'bob' }] });

    await waitForStatus(handle, (x) => x.awaitingApprovalFor === 3, 'approval of stage 3');
    await handle.executeUpdate(approveStageUpdate, { args: [{ stage: 3, decision: 'reject', by: 'carol', reason: 'change freeze' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'rejected');
    assert.deepEqual(result.approvals.map((a) => [a.stage, a.decision, a.by]), [[1, 'approve', 'alice'], [2, 'approve', 'bob'], [3, 'reject', 'carol']]);
    assert.deepEqual(result.rollback?.changes[0]?.undoneStages, [2, 1]);
    assert.equal((await sim.agent('LearningAdjusterAgent')).version, '1.0.0');
  });

  it('a failed undo raises a level-2 alert, marks the agent as needing a human and waits; retry-undo finishes the rollback', async () => {
    const agent = 'SessionMemoryAgent';
    const handle = await startMigration(env, agent);
    await waitForStatus(handle, (x) => x.state === 'verifying' && x.currentStage === 2, 'stage 2 verification');
    // The Web UI's "current details" (the SDK's metadata query) say the same, at no history event.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', new RegExp(`^${agent} on \\S+, \\S+: verifying, stage 2$`));
    await rejectedWith(handle.executeUpdate(resolveFailedUndoUpdate, { args: [{ action: 'accept', by: 'ops', reason: 'early' }] }), /does not need a human now/);
    await sim.fault(agent, { integrationFailing: true, undoFails: true, clearOnUndo: true });

    const waiting = await waitForStatus(handle, (x) => x.state === 'needs-human', 'needs-human');
    assert.equal(waiting.rollback?.changes.length, 0, 'the change is not done while its undo waits');
    assert.equal(waiting.waitingForPerson.length, 1);
    assert.equal(waiting.waitingForPerson[0]?.what, 'failed-undo');
    assert.match(waiting.waitingForPerson[0]?.detail ?? '', /undo failed/);
    assert.deepEqual(waiting.stagesApplied, [1, 2], 'nothing was undone behind the operator\'s back');

    const jsm = await env.nats.jetstreamManager();
    await jsm.consumers.add(streams.alerts.name, { durable_name: 'undo-alert', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: 'phasegate.alerts.level2' });
    const consumer = await env.nats.jetstream().consumers.get(streams.alerts.name, 'undo-alert');
    const msg = await consumer.next({ expires: 10_000 });
    assert.ok(msg, 'a level-2 alert is in JetStream');
    const alert = msg.json<{ level: number; title: string; data: { agent: string } }>();
    assert.equal(alert.level, 2);
    assert.equal(alert.data.agent, agent);
    assert.match(alert.title, /undo of stage 2 failed/);
    // The webhook is posted right after the JetStream publish, by the same activity.
    for (let i = 0; i < 50 && !webhookPosts.some((p) => p.alert.data.agent === agent); i++) await new Promise((r) => setTimeout(r, 100));
    const post = webhookPosts.find((p) => p.alert.data.agent === agent);
    assert.ok(post, 'the level-2 alert was also posted to the configured webhook');
    assert.match(post.text, /^\[L2 ops-critical \+ pager\] SessionMemoryAgent: undo of stage 2 failed/);

    // Still waiting: a failed undo is never swallowed.
    assert.equal((await handle.query(agentMigrationStatusQuery)).state, 'needs-human');
    await sim.fault(agent, { undoFails: false });
    await handle.executeUpdate(resolveFailedUndoUpdate, { args: [{ action: 'retry-undo', by: 'ops', reason: 'fixed the undo script' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.trigger?.kind, 'integration-failure');
    assert.deepEqual(result.rollback?.changes[0]?.undoneStages, [2, 1]);
    assert.equal(result.rollback?.changes[0]?.failures[0]?.stage, 2);
    assert.equal(result.rollback?.changes[0]?.resolutions.at(-1)?.action, 'retry-undo');
    assert.equal(result.rollback?.changes[0]?.healthy, true);
    assert.deepEqual(result.rollback?.changes[0]?.readBack, { present: [], unknown: [] }, 'the agent itself reports no marker left');
    assert.deepEqual(result.stagesApplied, []);
    assert.equal((await sim.agent(agent)).version, '1.0.0');
  });

  it('SIGKILL of the machine worker in the middle of a stage: the migration finishes and no stage is applied twice', async () => {
    const agent = 'RequestCoordinatorAgent';
    await sim.fault(agent, { applyDelayMs: 2500 });
    const handle = await startMigration(env, agent);
    await waitForStatus(handle, (x) => x.state === 'applying' && x.currentStage === 2, 'stage 2 applying');
    await new Promise((r) => setTimeout(r, 800));
    const oldPid = env.stack.processes.get('worker-mainpc')!.child.pid;
    await env.stack.kill('worker-mainpc', 'SIGKILL');
    await env.stack.startMachineWorker('mainpc');
    assert.notEqual(env.stack.processes.get('worker-mainpc')!.child.pid, oldPid);

    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    const records = await sim.actions(agent);
    const applied = records.filter((r) => r.action === 'apply-stage' && r.outcome === 'applied').map((r) => r.stage);
    assert.deepEqual(applied, [1, 2, 3], 'each stage applied exactly once');
    // The command the killed worker left running either finished (then the retry met its key)
    // or was stopped by the restarted worker before it took effect (then the retry applied).
    const stage2 = records.filter((r) => r.action === 'apply-stage' && r.stage === 2).map((r) => r.outcome);
    assert.ok(stage2.includes('duplicate-key') || stage2.includes('abandoned'), `the first attempt at stage 2 landed once or not at all: ${stage2.join(', ')}`);
    assert.match((await sim.agent(agent)).version, /\+change/);
  });
});
