import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { planSchema } from '../../config/schema/plan';
import { projectRoot, toolPath } from '../../lib/paths';
import { temporalTarget } from '../../lib/temporal';
import { phaseInput } from '../../plan/compile';
import { resolveFailedUndoUpdate } from '../../workflows/agent-migration';
import { fleetCheckWorkflow } from '../../workflows/fleet-check';
import { freezeSignal, lineStatusQuery, lineWorkflow, lineWorkflowId, unfreezeSignal } from '../../workflows/line';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery } from '../../workflows/week';
import { simulatorClient, startTestStack } from '../support/harness';

/**
 * Records the histories of real runs of every workflow type on the dev server into
 * test/fixtures/histories, for the replay test that guards every workflow change. Run it
 * again (scripts/record-histories.sh) after an intended change of a workflow's commands, and
 * commit the new fixtures with that change.
 *
 * The run: a phase of two weeks. Week 1 deploys EdgeHub on pc2, migrates a rapid and a staged
 * agent and one that a fault rolls back (its undo fails once and waits for a person, who
 * retries it), is paused and resumed, and validates for 30 s; its gate is decided by Update.
 * Week 2 migrates one more agent; its gate is approved by the scripted decision. Every
 * migration holds its agent's lease. Plus a fleet check, a second phase aborted at level 2
 * (abortPlan), and the line frozen and opened again.
 */
const plan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'replay-fixture',
  title: 'every workflow type, for the replay fixtures',
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 1500, stageVerificationMs: 1500, observationMs: 3000, observationWindowMs: 1500 },
  weeks: [
    {
      id: 'week1',
      title: 'EdgeHub, three agents, a validation',
      steps: [
        { id: 'edgehub', operation: { machine: 'pc2', name: 'deploy-edgehub' } },
        { id: 'agents', migrate: { change: 'fixture', select: { agents: ['GPUMonitorAgent', 'ModelLoaderAgent', 'NotificationAgent'] }, batchSize: 3, maxConcurrentPerMachine: 2, failureBudget: { perBatch: 1, perWeek: 1, onExceeded: 'pause' } } },
        { id: 'validation', validate: { durationMs: 30_000, windowMs: 10_000 } },
      ],
      gate: { criteria: [{ kind: 'max-rollbacks', count: 1 }, { kind: 'min-uptime', percent: 99 }] },
    },
    { id: 'week2', title: 'one more agent', steps: [{ id: 'more', migrate: { change: 'fixture', select: { agents: ['ChitchatAgent'] } } }] },
  ],
});

/**
 * A second phase, aborted at level 2 once two of its four agents (two on each machine) are
 * migrated: the week's rollback undoes them (workflows/week/rollback.ts).
 */
const abortPlan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'replay-fixture-abort',
  title: 'a week aborted at level 2, for the replay fixtures',
  // One undo per child workflow of the rollback (workflows/rollback/children.ts).
  history: { undosPerChild: 1 },
  thresholds: { sampleIntervalMs: 250 },
  timings: { baselineSamples: 2, rapidVerificationMs: 1500, stageVerificationMs: 1500, observationMs: 3000, observationWindowMs: 1500 },
  weeks: [
    {
      id: 'week1',
      title: 'four agents, then a level-2 abort',
      steps: [{ id: 'four', migrate: { change: 'fixture-abort', select: { agents: ['SmartHomeAgent', 'ResponderAgent', 'CalendarAgent', 'CalendarSyncAgent'] }, batchSize: 4, maxConcurrentPerMachine: 1 } }],
      gate: { criteria: [{ kind: 'max-rollbacks', count: 0 }] },
    },
  ],
});

async function main(): Promise<void> {
  const env = await startTestStack();
  try {
    const sim = simulatorClient(env.simulatorAdmin);
    const queue = env.config.deployment.controlTaskQueue;
    await env.client.workflow.execute(fleetCheckWorkflow, { taskQueue: queue, workflowId: 'fixture.fleet-check', args: [{ machines: ['mainpc', 'pc2'] }] });

    // NotificationAgent's change breaks its integration check: caught by the first verification,
    // rolled back; its undo fails until a person fixes it and says "retry".
    await sim.fault('NotificationAgent', { integrationFailing: true, clearOnUndo: true, undoFails: true });
    const phase = await env.client.workflow.start(phaseWorkflow, { taskQueue: queue, workflowId: 'phase.replay-fixture', args: [phaseInput(plan, env.config.inventory)] });
    const week1 = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week1'));
    const week2 = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week2'));
    for (let paused = false, retried = false; ; ) {
      const s = await week1.query(weekStatusQuery).catch(() => null);
      const wait = s?.waitingForPerson.find((w) => w.what === 'failed-undo');
      if (wait && !retried) {
        await sim.fault('NotificationAgent', { undoFails: false });
        await env.client.workflow.getHandle(wait.workflowId).executeUpdate(resolveFailedUndoUpdate, { args: [{ action: 'retry-undo', by: 'fixture', reason: 'recording' }] });
        retried = true;
      }
      if (!paused && s?.currentStep === 'agents') {
        await phase.signal('pause', { by: 'fixture', reason: 'recording' });
        await new Promise((r) => setTimeout(r, 1000));
        await phase.signal('resume', { by: 'fixture' });
        paused = true;
      }
      if (s?.gate.open) {
        await week1.executeUpdate(decideGateUpdate, { args: [{ gate: s.gate.id, decision: 'go', by: 'fixture', reason: 'recording' }] });
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    for (;;) {
      const s = await week2.query(weekStatusQuery).catch(() => null);
      if (s?.gate.open) {
        await week2.executeUpdate(decideGateUpdate, { args: [{ gate: s.gate.id, decision: 'go', by: 'fixture' }] });
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const result = await phase.result();
    const w1 = await week1.query(weekStatusQuery);
    if (result.outcome !== 'completed' || w1.agents.find((a) => a.agent === 'NotificationAgent')?.state !== 'rolled-back') {
      throw new Error(`the run did not go as the fixtures need: phase ${result.outcome}, week 1 agents ${JSON.stringify(w1.agents.map((a) => [a.agent, a.state]))}`);
    }

    // The abort phase: a level-2 abort once two agents are migrated; the week undoes them.
    const aborted = await env.client.workflow.start(phaseWorkflow, { taskQueue: queue, workflowId: 'phase.replay-fixture-abort', args: [phaseInput(abortPlan, env.config.inventory)] });
    const abortWeek = env.client.workflow.getHandle(weekWorkflowId(aborted.workflowId, 'week1'));
    for (;;) {
      const s = await abortWeek.query(weekStatusQuery).catch(() => null);
      if ((s?.agents.filter((a) => a.state === 'migrated').length ?? 0) >= 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await aborted.signal('abort', { level: 2, by: 'fixture', reason: 'recording a week rollback' });
    const abortResult = await aborted.result();
    const aw = await abortWeek.query(weekStatusQuery);
    if (abortResult.outcome !== 'aborted' || aw.rollback?.level !== 2 || aw.applied.length) {
      throw new Error(`the abort run did not go as the fixtures need: phase ${abortResult.outcome}, rollback ${JSON.stringify(aw.rollback?.undone)}, applied ${aw.applied.length}`);
    }

    // The line (workflows/line.ts): frozen with no phase running, then opened again.
    const line = await env.client.workflow.signalWithStart(lineWorkflow, { taskQueue: queue, workflowId: lineWorkflowId, args: [], signal: freezeSignal, signalArgs: [{ by: 'fixture', reason: 'recording the line', phases: [] }] });
    await line.signal(unfreezeSignal, { by: 'fixture' });
    for (let i = 0; i < 50 && (await line.query(lineStatusQuery)).log.length < 2; i++) await new Promise((r) => setTimeout(r, 100));

    const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(path.join(dir, f));
    const types = new Map<string, number>();
    // Exported the way an operator would: `temporal workflow show --output json`.
    const address = temporalTarget(env.config.deployment).address;
    for await (const w of env.client.workflow.list()) {
      const { stdout } = await promisify(execFile)(toolPath('temporal'), ['workflow', 'show', '--workflow-id', w.workflowId, '--run-id', w.runId, '--output', 'json', '--address', address], { maxBuffer: 64 * 1024 * 1024 });
      writeFileSync(path.join(dir, `${w.type}.${w.workflowId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`), stdout);
      types.set(w.type, (types.get(w.type) ?? 0) + 1);
    }
    process.stdout.write(`recorded ${[...types].map(([t, n]) => `${n} ${t}`).join(', ')} into ${path.relative(projectRoot, dir)}\n`);
  } finally {
    await env.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
