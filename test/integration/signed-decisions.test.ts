import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { newKeyPair, signDecision } from '../../cli/sign';
import { projectRoot } from '../../lib/paths';
import type { Signer } from '../../decisions/signatures';
import { approveStageUpdate } from '../../workflows/agent-migration';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { fastPlan, startMigration, waitForStatus } from '../support/migration';

const run = promisify(execFile);
const cli = path.join(projectRoot, 'dist/cli/main.js');
type Failure = Error & { code: number; stdout: string; stderr: string };

/**
 * Who may decide, provably (decisions/signatures.ts), end to end: keys made by `phasegate keys
 * new`, public keys in the deployment's `people`, a plan that names its gate's deciders and its
 * stage approvers, decisions signed by the CLI with `--key` and checked by the workflows'
 * Update validators. An unsigned decision, a forged one and one by a person not on the list
 * are refused with the reason before anything is written to the history; the signed one is
 * recorded as checked, and the fleet ends as the decisions say.
 */
describe('signed decisions on the real dev server', () => {
  let env: TestStack;
  let people: Record<'alice' | 'bob' | 'carol', Signer>;
  const keyOf = (who: string) => path.join(env.dataDir, `${who}.key`);
  const phasegate = (...args: string[]) => run(process.execPath, [cli, ...args, '--config', env.config.configDir]);
  const refused = async (args: string[], message: RegExp) => {
    const err = await phasegate(...args).then(
      () => null,
      (e: Failure) => e,
    );
    assert.ok(err, `phasegate ${args.join(' ')} should be refused`);
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, message);
  };
  /** A one-week plan file of one migrate step, signed by default unless the gate says more. */
  const writePlan = (id: string, migrate: object, gate: object = {}) => {
    const planFile = path.join(env.dataDir, `${id}.json`);
    const plan = {
      version: 1,
      id,
      title: id,
      thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
      weeks: [{ id: 'week1', title: id, steps: [{ id: 'm', migrate }], gate: { criteria: [{ kind: 'all-migrated' }], ...gate } }],
    };
    writeFileSync(planFile, JSON.stringify(plan));
    return planFile;
  };
  /** The phase's week, once its gate is open. */
  const openGate = async (id: string) => {
    const week = env.client.workflow.getHandle(weekWorkflowId(`phase.${id}`, 'week1'));
    const deadline = Date.now() + 90_000;
    let s: WeekStatus | null = null;
    while (Date.now() < deadline && !(s = await week.query(weekStatusQuery).catch(() => null))?.gate.open) await new Promise((r) => setTimeout(r, 200));
    assert.equal(s?.gate.open, true, 'the gate opened');
    return week;
  };
  const updatesAccepted = async (workflowId: string) => ((await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;

  before(async () => {
    env = await startTestStack();
    people = { alice: newKeyPair('alice', keyOf('alice')), bob: newKeyPair('bob', keyOf('bob')), carol: newKeyPair('carol', keyOf('carol')) };
    newKeyPair('mallory', keyOf('mallory')); // an outsider: her key is in no configuration
    const file = path.join(env.config.configDir, 'deployment.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), people: Object.values(people) }, null, 2));
  });
  after(async () => env?.stop());

  it('a gate that names its deciders refuses an unsigned, a forged and an unauthorised decision before the history, and records the signed one as checked', async () => {
    const id = 'signed-gate';
    const agents = ['ChitchatAgent', 'WebSearchAgent'];
    const planFile = writePlan(id, { change: `${id}-change`, select: { agents }, batchSize: 2 }, { deciders: ['alice', 'bob'] });
    assert.match((await phasegate('plan', 'check', planFile)).stdout, /decided by: alice, bob \(signed decisions only\)/);
    await phasegate('start', planFile, '--id', `phase.${id}`);
    const week = await openGate(id);

    await refused(['gate', 'go', `phase.${id}`, '--by', 'alice'], /unsigned: this plan takes only signed decisions \(sign with --key, the key file of alice\)/);
    await refused(['gate', 'go', `phase.${id}`, '--by', 'alice', '--key', keyOf('mallory')], /the signature is not alice's over this decision \(forged/);
    await refused(['gate', 'go', `phase.${id}`, '--by', 'carol', '--key', keyOf('carol')], /"carol" may not decide this; the plan names alice, bob/);
    await refused(['gate', 'go', `phase.${id}`, '--by', 'mallory', '--key', keyOf('mallory')], /"mallory" may not decide this/);
    // Alice's signature over "go", sent as "rollback-week": not hers over this decision.
    const gate = `${id}.week1.gate`;
    const signedGo = signDecision(keyOf('alice'), { workflowId: week.workflowId, subject: gate, decision: 'go', by: 'alice' });
    await assert.rejects(week.executeUpdate(decideGateUpdate, { args: [{ gate, decision: 'rollback-week', by: 'alice', signature: signedGo }] }), (err: Error & { cause?: Error }) => /not alice's over this decision/.test(err.cause?.message ?? ''));
    assert.equal(await updatesAccepted(week.workflowId), 0, 'nothing refused reached the history');
    assert.deepEqual((await week.query(weekStatusQuery)).gate.decisions, []);

    const out = await phasegate('gate', 'go', `phase.${id}`, '--by', 'alice', '--key', keyOf('alice'), '--reason', 'pilots clean');
    assert.match(out.stdout, /go by alice \(signed\)/);
    const result = await env.client.workflow.getHandle(`phase.${id}`).result();
    assert.equal(result.outcome, 'completed');
    const done = await week.query(weekStatusQuery);
    assert.deepEqual(done.gate.decisions.map((d) => [d.decision, d.by, d.verified]), [['go', 'alice', 'signature']]);
    assert.equal(await updatesAccepted(week.workflowId), 1);
    assert.match((await phasegate('report', `phase.${id}`)).stdout, /go by alice \(alice's signature checked\)/);
    const sim = simulatorClient(env.simulatorAdmin);
    for (const a of agents) assert.deepEqual([...((await sim.agent(a)).changes[`${id}-change`] ?? [])].sort(), [1, 2, 3], `${a} migrated, as the go says`);
  });

  it('a plan that names no deciders and does not allow unsigned decisions takes any of the deployment\'s people, signed, and refuses an unsigned or an outsider\'s decision', async () => {
    const id = 'signed-by-default';
    const agents = ['ChitchatAgent'];
    const planFile = writePlan(id, { change: `${id}-change`, select: { agents }, pilots: 0 });
    assert.match((await phasegate('plan', 'check', planFile)).stdout, /decided by: any of the deployment's people, signed \(alice, bob, carol\)/);
    // The same input with every gate approved by itself, unsigned: refused before the phase does anything.
    const input = JSON.parse((await phasegate('plan', 'input', planFile)).stdout);
    const bypass = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: `phase.${id}.bypass`, args: [{ ...input, autoApproveGates: { by: 'mallory' } }] });
    await assert.rejects(bypass.result(), (err: Error & { cause?: Error }) => /autoApproveGates: approves every gate unsigned/.test(err.cause?.message ?? ''));
    assert.equal(((await bypass.fetchHistory()).events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes || e.activityTaskScheduledEventAttributes).length, 0, 'the refused phase started nothing');
    await phasegate('start', planFile, '--id', `phase.${id}`);
    const week = await openGate(id);
    await refused(['gate', 'go', `phase.${id}`, '--by', 'carol'], /unsigned: this plan takes only signed decisions/);
    await refused(['gate', 'go', `phase.${id}`, '--by', 'mallory', '--key', keyOf('mallory')], /"mallory" may not decide this; the plan names alice, bob, carol/);
    assert.equal(await updatesAccepted(week.workflowId), 0, 'nothing refused reached the history');
    await phasegate('gate', 'go', `phase.${id}`, '--by', 'carol', '--key', keyOf('carol'));
    assert.equal((await env.client.workflow.getHandle(`phase.${id}`).result()).outcome, 'completed');
    assert.deepEqual((await week.query(weekStatusQuery)).gate.decisions.map((d) => [d.decision, d.by, d.verified]), [['go', 'carol', 'signature']]);
    const sim = simulatorClient(env.simulatorAdmin);
    assert.deepEqual([...((await sim.agent(agents[0]!)).changes[`${id}-change`] ?? [])].sort(), [1, 2, 3]);
  });

  it('a critical-band stage takes only its named approver, signed: another person and an unsigned approval are refused, and nothing is applied until the signed one', async () => {
    const agent = 'LearningAdjusterAgent';
    const change = 'signed-stage-change';
    const base = fastPlan({ timings: { baselineSamples: 1 } });
    const handle = await startMigration(env, agent, { ...base, decisions: { stageApprovers: [people.alice], unsigned: false } }, change, { strategy: 'critical', reason: 'signed approvals drill' });
    await waitForStatus(handle, (x) => x.awaitingApprovalFor === 1, 'the approval of stage 1');
    await refused(['stage', 'approve', handle.workflowId, '--by', 'bob', '--key', keyOf('bob')], /"bob" may not decide this; the plan names alice/);
    await refused(['stage', 'approve', handle.workflowId, '--by', 'alice'], /unsigned: this plan takes only signed decisions/);
    const forged = signDecision(keyOf('mallory'), { workflowId: handle.workflowId, subject: 'stage 1', decision: 'approve', by: 'alice' });
    await assert.rejects(handle.executeUpdate(approveStageUpdate, { args: [{ stage: 1, decision: 'approve', by: 'alice', signature: forged }] }), (err: Error & { cause?: Error }) => /not alice's over this decision/.test(err.cause?.message ?? ''));
    assert.equal(await updatesAccepted(handle.workflowId), 0);
    const sim = simulatorClient(env.simulatorAdmin);
    assert.deepEqual((await sim.agent(agent)).changes[change] ?? [], [], 'nothing applied before a valid approval');
    for (const stage of [1, 2, 3]) {
      await waitForStatus(handle, (x) => x.awaitingApprovalFor === stage, `the approval of stage ${stage}`);
      assert.match((await phasegate('stage', 'approve', handle.workflowId, '--by', 'alice', '--key', keyOf('alice'))).stdout, new RegExp(`stage ${stage} of ${agent}: approve by alice \\(signed\\)`));
    }
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    assert.deepEqual(result.approvals.map((a) => [a.stage, a.by, a.verified]), [[1, 'alice', 'signature'], [2, 'alice', 'signature'], [3, 'alice', 'signature']]);
    assert.deepEqual([...((await sim.agent(agent)).changes[change] ?? [])].sort(), [1, 2, 3]);
    assert.match((await phasegate('status', handle.workflowId, '--once')).stdout, /stage 1: approve by alice \(signature checked\)/);
  });
});
