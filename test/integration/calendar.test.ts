import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readStatus, renderStatus } from '../../cli/status';
import { planSchema } from '../../config/schema/plan';
import { weekdays, type DeployCalendar } from '../../decisions/calendar';
import { streams } from '../../lib/nats';
import { phaseInput } from '../../plan/compile';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery } from '../../workflows/week';
import { simulatorClient, startTimeSkippingStack } from '../support/harness';
import { messagesOf } from '../support/phase-run';

const hour = 3_600_000;
const day = 24 * hour;

/**
 * Deploy windows and calendar freezes (deployment.json `calendar`, decisions/calendar.ts) on
 * the time-skipping test server, across a weekend: the windows are every day but the next two
 * (UTC), and a release freeze holds the six hours after them. A week whose first step (a timed
 * observation) runs into the weekend finishes that step there (its clock keeps running), then
 * holds its migration through the weekend and the freeze; the agent is migrated only once both
 * are over, as the simulator's record shows.
 */
describe('deploy windows and a calendar freeze, across a weekend on the time-skipping server', () => {
  let env: Awaited<ReturnType<typeof startTimeSkippingStack>>;
  before(async () => {
    env = await startTimeSkippingStack();
  });
  after(async () => env?.stop());

  it('new work waits out the weekend and the freeze; the observation running into the weekend keeps its clock; the agent is migrated after both', async () => {
    const now = Date.now();
    const midnight = Math.floor(now / day) * day + day;
    const today = new Date(now).getUTCDay();
    const weekend = [(today + 1) % 7, (today + 2) % 7];
    const reopen = midnight + 2 * day + 6 * hour;
    const calendar: DeployCalendar = {
      timeZone: 'UTC',
      windows: [{ days: weekdays.filter((_, i) => !weekend.includes(i)), from: '00:00', to: '24:00' }],
      freezes: [{ from: new Date(midnight + 2 * day).toISOString(), to: new Date(reopen).toISOString(), reason: 'release freeze' }],
    };
    const agent = 'GPUThermalAgent';
    const plan = planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id: 'calendar',
      title: 'across a weekend',
      watchLinks: false,
      thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
      weeks: [
        {
          id: 'week1',
          title: 'an observation into the weekend, then a migration',
          steps: [
            { id: 'soak', observe: { durationMs: midnight - now + hour } },
            { id: 'migrate', migrate: { change: 'calendar-change', select: { agents: [agent] } } },
          ],
        },
      ],
    });
    const handle = await env.client.workflow.start(phaseWorkflow, {
      taskQueue: env.config.deployment.controlTaskQueue,
      workflowId: 'phase.calendar',
      args: [{ ...phaseInput(plan, env.config.inventory, { calendar }), autoApproveGates: { by: 'calendar-test' } }],
    });
    const week = env.client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));
    const sim = simulatorClient(env.simulatorAdmin);

    // Saturday, so to speak: the observation has ended inside the weekend, the migration waits.
    await env.server.sleep(midnight - Date.now() + 3 * hour);
    const weekend1 = await week.query(weekStatusQuery);
    assert.equal(weekend1.currentStep, 'migrate', 'the observation ended in the weekend: its clock kept running');
    assert.equal(weekend1.state, 'paused');
    assert.equal(weekend1.calendar?.open, false);
    assert.match(weekend1.calendar?.why ?? '', /^outside the deploy windows \(/);
    assert.deepEqual(weekend1.agents.filter((a) => a.state !== 'waiting'), [], 'no migration started in the weekend');
    assert.deepEqual((await sim.agent(agent)).changes, {});
    assert.match(renderStatus(await readStatus(env.client, week.workflowId)), /CALENDAR CLOSED since .*: outside the deploy windows/);

    // The weekend is over, the release freeze is on.
    await env.server.sleep(2 * day);
    const freeze = await week.query(weekStatusQuery);
    assert.match(freeze.calendar?.why ?? '', /^calendar freeze until .*: release freeze$/);
    assert.deepEqual(freeze.agents.filter((a) => a.state !== 'waiting'), [], 'no migration started in the freeze');
    assert.deepEqual((await sim.agent(agent)).changes, {});

    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    const done = await week.query(weekStatusQuery);
    assert.equal(done.agents[0]?.state, 'migrated');
    const migration = await env.client.workflow.getHandle(done.agents[0]!.workflowId).describe();
    assert.ok(migration.startTime.getTime() >= reopen, `the migration started at ${migration.startTime.toISOString()}, after the window reopened and the freeze ended (${new Date(reopen).toISOString()})`);
    assert.deepEqual([...((await sim.agent(agent)).changes['calendar-change'] ?? [])].sort(), [1, 2, 3]);
    // The week said so as it went: closed at its start of the weekend, then the freeze, then open.
    const kinds = (await messagesOf(env, streams.events.name, week.workflowId)).map((e) => e.kind as string).filter((k) => k.startsWith('calendar.'));
    assert.deepEqual(kinds, ['calendar.closed', 'calendar.closed', 'calendar.opened']);
  });
});
