import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths';
import { agentMigrationStatusQuery, resolvePreflightUpdate } from '../../workflows/agent-migration';
import { abortSignal, pauseSignal, resumeSignal } from '../../workflows/lib/steering';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { startMigration, waitForStatus } from '../support/migration';

const run = promisify(execFile);

/**
 * The pre-flight check before stage 1 on the real stack (issue 16): an agent already failing
 * its integration check, or a machine already over its load limit, is not migrated; the
 * migration waits for a person, who checks again, skips the agent, or proceeds. The fleet's
 * own record says what was done to the agent.
 */
describe('pre-flight: an agent or machine already unhealthy is not migrated until a person decides', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;

  before(async () => {
    env = await startTestStack({ edit: ({ catalogues }) => (catalogues.pc2.probes.load = 'simulator') });
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => env?.stop());

  /** The agent fails its integration check while `f` runs (from before its migration starts), and not after. */
  const whileIntegrationFails = async (agent: string, f: () => Promise<void>) => {
    await sim.fault(agent, { integrationFailing: true });
    try {
      await f();
    } finally {
      await sim.fault(agent, { integrationFailing: false });
    }
  };
  const changesDone = async (agent: string) => (await sim.actions(agent)).filter((a) => ['backup', 'apply-stage', 'undo-stage'].includes(a.action));

  it('an agent already failing its integration check waits; skipped (through the CLI), nothing is applied to it', async () => {
    const agent = 'GoalManagerAgent';
    await whileIntegrationFails(agent, async () => {
      const handle = await startMigration(env, agent);
      const waiting = await waitForStatus(handle, (s) => s.state === 'pre-flight-failed', 'the failed pre-flight check');
      assert.match(waiting.preflight[0]!.problems[0]!, /integration check already fails/);
      assert.equal(waiting.waitingForPerson[0]?.what, 'pre-flight');
      assert.match(waiting.waitingForPerson[0]!.resolve, /^phasegate preflight retry\|skip\|proceed /);
      const { stdout } = await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'preflight', 'skip', handle.workflowId, '--reason', 'db migration pending', '--by', 'erin', '--config', env.config.configDir]);
      assert.match(stdout, /skip by erin/);
      const result = await handle.result();
      assert.equal(result.outcome, 'refused');
      assert.match(result.refusedBecause ?? '', /^skipped by erin at the pre-flight check \(the integration check already fails/);
      assert.deepEqual(result.stagesApplied, []);
      assert.deepEqual(await changesDone(agent), [], 'no backup, apply or undo reached the agent');
      assert.equal((await sim.agent(agent)).version, '1.0.0');
    });
  });

  it('a machine already over its load limit waits; checked again once the load fell, the migration goes on', async () => {
    const agent = 'CacheManagerAgent';
    await sim.load('pc2', 14);
    const handle = await startMigration(env, agent);
    const waiting = await waitForStatus(handle, (s) => s.state === 'pre-flight-failed', 'the failed pre-flight check');
    assert.match(waiting.preflight[0]!.problems.join('; '), /1-minute load average is already 14, over 10/);
    // Checked again while still loaded: it waits again, with a second record.
    await handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'retry', by: 'frank', reason: 'batch job should be done' }] });
    await waitForStatus(handle, (s) => s.state === 'pre-flight-failed' && s.preflight.length === 2, 'the second failed check');
    assert.deepEqual((await changesDone(agent)).length, 0);
    await sim.load('pc2', 0.5);
    await handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'retry', by: 'frank', reason: 'batch job done now' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    assert.deepEqual(result.preflight.map((p) => p.resolution?.action), ['retry', 'retry']);
    assert.deepEqual([...((await sim.agent(agent)).changes[result.change] ?? [])].sort(), [1, 2, 3]);
  });

  it('proceed anyway: the change is applied, and the failing check then rolls it back as any trigger would', async () => {
    const agent = 'ExecutorAgent';
    await whileIntegrationFails(agent, async () => {
      const handle = await startMigration(env, agent);
      await waitForStatus(handle, (s) => s.state === 'pre-flight-failed', 'the failed pre-flight check');
      await assert.rejects(handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'ignore' as 'skip', by: 'x', reason: 'y' }] }), (err: Error) => /action must be "retry", "skip" or "proceed"/.test(String((err.cause as Error | undefined)?.message)));
      await handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'proceed', by: 'gina', reason: 'the check is known to be flaky' }] });
      const result = await handle.result();
      assert.equal(result.outcome, 'rolled-back');
      assert.equal(result.trigger?.kind, 'integration-failure');
      assert.deepEqual((await sim.agent(agent)).changes, {});
      assert.ok((await changesDone(agent)).some((a) => a.action === 'apply-stage'), 'the change was applied after "proceed"');
      assert.equal((await handle.query(agentMigrationStatusQuery)).preflight[0]?.resolution?.by, 'gina');
    });
  });

  it('an abort while it waits at the pre-flight check ends it cancelled, the wait withdrawn, nothing applied', async () => {
    const agent = 'SessionMemoryAgent';
    await whileIntegrationFails(agent, async () => {
      const handle = await startMigration(env, agent);
      await waitForStatus(handle, (s) => s.state === 'pre-flight-failed' && s.waitingForPerson.length === 1, 'the failed pre-flight check');
      await handle.signal(abortSignal, { level: 1, by: 'hana', reason: 'incident on the machine' });
      const result = await handle.result();
      assert.equal(result.outcome, 'cancelled');
      assert.deepEqual(result.stagesApplied, []);
      assert.deepEqual((await handle.query(agentMigrationStatusQuery)).waitingForPerson, [], 'nobody is asked any more');
      assert.deepEqual(await changesDone(agent), [], 'no backup, apply or undo reached the agent');
      // An answer after the end is refused: the workflow is closed.
      await assert.rejects(handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'proceed', by: 'x', reason: 'late' }] }));
      assert.deepEqual(await changesDone(agent), []);
    });
  });

  it('paused while it waits: "proceed" applies nothing until the resume', async () => {
    const agent = 'TaskSchedulerAgent';
    await whileIntegrationFails(agent, async () => {
      const handle = await startMigration(env, agent);
      await waitForStatus(handle, (s) => s.state === 'pre-flight-failed', 'the failed pre-flight check');
      await handle.signal(pauseSignal, { by: 'ivan', reason: 'hold everything' });
      await sim.fault(agent, { integrationFailing: false });
      await handle.executeUpdate(resolvePreflightUpdate, { args: [{ action: 'proceed', by: 'ivan', reason: 'cured, go on later' }] });
      await waitForStatus(handle, (s) => s.state === 'paused', 'the pause to hold it before stage 1');
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual((await changesDone(agent)).filter((a) => a.action === 'apply-stage'), [], 'no stage applied while paused');
      await handle.signal(resumeSignal, { by: 'ivan' });
      const result = await handle.result();
      assert.equal(result.outcome, 'migrated');
      assert.deepEqual([...((await sim.agent(agent)).changes[result.change] ?? [])].sort(), [1, 2, 3]);
    });
  });
});
