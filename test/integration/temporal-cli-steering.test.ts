import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot, toolPath } from '../../lib/paths';
import type { PhaseStatus } from '../../workflows/phase';
import type { WeekStatus } from '../../workflows/week';
import type { AgentMigrationStatus } from '../../workflows/agent-migration';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

const run = promisify(execFile);

const plan = {
  version: 1,
  id: 'cli-test',
  title: 'steered from the temporal CLI',
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 1000, stageVerificationMs: 1000, observationMs: 0 },
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  weeks: [
    {
      id: 'week1',
      title: 'pilots on both machines',
      steps: [{ id: 'pilots', migrate: { change: 'registry', select: { agents: ['GPUMonitorAgent', 'ChitchatAgent', 'NotificationAgent', 'WebSearchAgent'] }, pilots: 1, batchSize: 3, maxConcurrentPerMachine: 1 } }],
      gate: { criteria: [{ kind: 'all-migrated' }] },
    },
  ],
};

describe('steering a phase with the real `temporal` CLI, as the README shows', () => {
  let env: TestStack;
  let temporal: (...args: string[]) => Promise<string>;

  before(async () => {
    env = await startTestStack();
    const address = `127.0.0.1:${(env.config.deployment.temporal as { port: number }).port}`;
    temporal = async (...args) => (await run(toolPath('temporal'), [...args, '--address', address])).stdout;
  });
  after(async () => env?.stop());

  const query = async <T>(id: string): Promise<T> => {
    const out = await temporal('workflow', 'query', '--workflow-id', id, '--type', 'status', '--output', 'json');
    return (JSON.parse(out) as { queryResult: [T] }).queryResult[0];
  };
  const until = async <T>(id: string, ok: (s: T) => boolean, what: string): Promise<T> => {
    for (let i = 0; i < 300; i++) {
      const s = await query<T>(id).catch(() => null);
      if (s && ok(s)) return s;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('start, query, pause, resume and approve the gate', async () => {
    const planFile = path.join(env.dataDir, 'plan.json');
    const inputFile = path.join(env.dataDir, 'phase.json');
    writeFileSync(planFile, JSON.stringify(plan));
    const { stdout } = await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'plan', 'input', planFile, '--config', env.config.configDir]);
    writeFileSync(inputFile, stdout);

    const sim = simulatorClient(env.simulatorAdmin);
    await sim.fault('GPUMonitorAgent', { applyDelayMs: 1500 });
    const id = 'phase.cli-test.manual';
    const week = `${id}.week1`;
    await temporal('workflow', 'start', '--task-queue', 'phasegate-control', '--type', 'phaseWorkflow', '--workflow-id', id, '--input-file', inputFile);
    // Pause in the middle of the batch, while the pilot is applying its first stage (slowed
    // down in the simulator so the moment is certain).
    const inFlight = await until<WeekStatus>(week, (s) => s.agents.some((a) => a.state === 'running'), 'a migration in flight');
    const running = inFlight.agents.find((a) => a.state === 'running')!;
    await until<AgentMigrationStatus>(running.workflowId, (s) => s.state === 'applying' && s.currentStage === 1, `${running.agent} applying stage 1`);
    await temporal('workflow', 'signal', '--workflow-id', id, '--name', 'pause', '--input', '{"by":"alice","reason":"drill"}');

    const phase = await query<PhaseStatus>(id);
    assert.equal(phase.phase, 'cli-test');
    assert.equal(phase.currentWeek, 'week1');
    assert.equal(phase.paused?.by, 'alice');
    const paused = await until<WeekStatus>(week, (s) => s.state === 'paused', 'the week to pause');
    assert.equal(paused.pauseReason, 'paused by alice: drill');
    // The migration in flight finishes its current stage, then holds.
    const held = await until<AgentMigrationStatus>(running.workflowId, (s) => s.state === 'paused', `${running.agent} to hold after its current stage`);
    assert.deepEqual(held.stagesApplied, [1]);
    const startedWhenPaused = (await query<WeekStatus>(week)).agents.filter((a) => a.state !== 'waiting').length;
    await new Promise((r) => setTimeout(r, 1500));
    const stillPaused = await query<WeekStatus>(week);
    assert.equal(stillPaused.state, 'paused');
    assert.equal(stillPaused.agents.filter((a) => a.state !== 'waiting').length, startedWhenPaused, 'no new migration starts while paused');
    assert.deepEqual((await query<AgentMigrationStatus>(running.workflowId)).stagesApplied, [1], 'no further stage while paused');

    await temporal('workflow', 'signal', '--workflow-id', id, '--name', 'resume', '--input', '{"by":"alice"}');
    const open = await until<WeekStatus>(week, (s) => s.state === 'gate-open', 'the gate to open');
    assert.equal(open.gate.report?.met, true);
    assert.equal(open.gate.id, 'cli-test.week1.gate');

    await assert.rejects(
      temporal('workflow', 'update', 'execute', '--workflow-id', week, '--name', 'decideGate', '--input', '{"gate":"cli-test.week9.gate","decision":"go","by":"alice"}'),
      /is not the open gate/,
    );
    await temporal('workflow', 'update', 'execute', '--workflow-id', week, '--name', 'decideGate', '--input', '{"gate":"cli-test.week1.gate","decision":"go","by":"alice","reason":"pilots clean"}');
    const result = JSON.parse(await temporal('workflow', 'result', '--workflow-id', id, '--output', 'json')) as { result: PhaseStatus };
    assert.equal(result.result.outcome, 'completed');

    const done = await query<WeekStatus>(week);
    assert.deepEqual(done.gate.decisions.map((d) => [d.decision, d.by]), [['go', 'alice']]);
    for (const a of plan.weeks[0]!.steps[0]!.migrate.select.agents) assert.equal((await sim.agent(a)).version, '1.0.0+registry');
  });
});
