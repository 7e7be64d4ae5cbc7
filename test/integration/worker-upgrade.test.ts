import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createControlActivities } from '../../activities/control';
import { planSchema } from '../../config/schema/plan';
import { createLogger } from '../../lib/logger';
import { toolPath } from '../../lib/paths';
import { temporalTarget } from '../../lib/temporal';
import { phaseInput } from '../../plan/compile';
import { controlWorkerVersioning } from '../../workers/versioning';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery } from '../../workflows/week';
import { until } from '../support/drills';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';

Runtime.install({ logger: new DefaultLogger('WARN') });
const run = promisify(execFile);

/**
 * Upgrading phasegate in the middle of a phase, with Worker Versioning (workers/versioning.ts;
 * docs/operating.md). A phase starts on build A of the control worker (a version of a Worker
 * Deployment, current); while week 1's gate waits, build B (a workflow change that records a
 * command build A never makes, behind patched(): test/support/upgrade/build-b.ts) starts
 * polling, is made current, and build A stops. The running week and phase move to build B at
 * their next task (auto-upgrade) and finish there; the agents are migrated as the gates said.
 * The replay guard: week 1's history replays on build B, and not on build A.
 */
describe('a worker upgrade in the middle of a phase, with Worker Versioning, on the real dev server', () => {
  let env: TestStack;
  let connection: NativeConnection;
  let bundleA: WorkflowBundleWithSourceMap;
  let bundleB: WorkflowBundleWithSourceMap;
  const workers: Array<{ worker: Worker; running: Promise<void> }> = [];
  const deploymentName = 'phasegate-upgrade-drill';

  async function startControlWorker(buildId: string, workflowBundle: WorkflowBundleWithSourceMap): Promise<{ worker: Worker; running: Promise<void> }> {
    const logger = createLogger(`control-${buildId}`, 'warn');
    const worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue: env.config.deployment.controlTaskQueue,
      workflowBundle,
      activities: createControlActivities({
        js: env.nats.jetstream(),
        nats: env.nats,
        fleet: { inventory: env.config.inventory, catalogues: env.config.catalogues },
        links: { machines: env.config.inventory.machines.map((m) => m.name), silentAfterMs: env.config.inventory.heartbeats.linkSilentAfterMs },
        logger,
      }),
      identity: `control-${buildId}`,
      ...controlWorkerVersioning({ workers: { ...env.config.deployment.workers, deploymentVersion: { deploymentName, buildId } } }),
    });
    const w = { worker, running: worker.run() };
    workers.push(w);
    return w;
  }
  /** Makes a build the deployment's current version, once its worker has polled (the server knows the version then). */
  async function makeCurrent(buildId: string): Promise<void> {
    const address = temporalTarget(env.config.deployment).address;
    await until(`${buildId} made current`, 30_000, async () =>
      run(toolPath('temporal'), ['worker', 'deployment', 'set-current-version', '--deployment-name', deploymentName, '--build-id', buildId, '--yes', '--address', address]).then(
        () => true,
        () => undefined,
      ),
    );
  }

  before(async () => {
    env = await startTestStack();
    // The stack's own control worker is unversioned; this drill runs the control worker itself.
    await env.stack.kill('worker-control', 'SIGTERM');
    connection = await NativeConnection.connect({ address: temporalTarget(env.config.deployment).address });
    bundleA = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') });
    bundleB = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), workflowInterceptorModules: [require.resolve('../support/upgrade/build-b')], logger: new DefaultLogger('WARN') });
  });
  after(async () => {
    for (const w of workers) {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await w.running.catch(() => undefined);
    }
    await connection?.close().catch(() => undefined);
    await env?.stop();
  });

  it('a phase started on build A finishes on build B; its histories say which build did what; week 1 replays on B and not on A', async () => {
    const a = await startControlWorker('build-a', bundleA);
    await makeCurrent('build-a');
    const plan = planSchema.parse({
      decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
      version: 1,
      id: 'upgrade',
      title: 'across a worker upgrade',
      thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
      timings: { baselineSamples: 1, rapidVerificationMs: 500, stageVerificationMs: 500, observationMs: 0 },
      weeks: [
        { id: 'week1', title: 'before the upgrade', steps: [{ id: 'm1', migrate: { change: 'upgrade-w1', select: { agents: ['GPUThermalAgent'] } } }], gate: { criteria: [{ kind: 'all-migrated' }] } },
        { id: 'week2', title: 'after it', steps: [{ id: 'm2', migrate: { change: 'upgrade-w2', select: { agents: ['CalendarAgent'] } } }], gate: { criteria: [{ kind: 'all-migrated' }] } },
      ],
    });
    const phase = await env.client.workflow.start(phaseWorkflow, { taskQueue: env.config.deployment.controlTaskQueue, workflowId: 'phase.upgrade', args: [phaseInput(plan, env.config.inventory)] });
    const week1 = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week1'));
    const week2 = env.client.workflow.getHandle(weekWorkflowId(phase.workflowId, 'week2'));
    await until('week 1 gate open on build A', 90_000, async () => ((await week1.query(weekStatusQuery).catch(() => null))?.gate.open ? true : undefined));

    // The upgrade: build B polls, becomes current, build A stops.
    await startControlWorker('build-b', bundleB);
    await makeCurrent('build-b');
    a.worker.shutdown();
    await a.running;

    await week1.executeUpdate(decideGateUpdate, { args: [{ gate: 'upgrade.week1.gate', decision: 'go', by: 'ops', reason: 'pilot clean' }] });
    await until('week 2 gate open on build B', 90_000, async () => ((await week2.query(weekStatusQuery).catch(() => null))?.gate.open ? true : undefined));
    await week2.executeUpdate(decideGateUpdate, { args: [{ gate: 'upgrade.week2.gate', decision: 'go', by: 'ops' }] });
    const result = await phase.result();
    assert.equal(result.outcome, 'completed');

    // The machines: both agents carry their week's change.
    const sim = simulatorClient(env.simulatorAdmin);
    assert.deepEqual([...((await sim.agent('GPUThermalAgent')).changes['upgrade-w1'] ?? [])].sort(), [1, 2, 3]);
    assert.deepEqual([...((await sim.agent('CalendarAgent')).changes['upgrade-w2'] ?? [])].sort(), [1, 2, 3]);

    // Which build completed each workflow task: week 1 began on A and ended on B; week 2 ran on B alone.
    const builds = async (h: typeof week1) =>
      ((await h.fetchHistory()).events ?? []).flatMap((e) => {
        const t = e.workflowTaskCompletedEventAttributes;
        return t ? [t.deploymentVersion?.buildId ?? t.workerDeploymentVersion ?? '(unversioned)'] : [];
      });
    const w1 = await builds(week1);
    assert.equal(w1[0], 'build-a', w1.join(' '));
    assert.equal(w1.at(-1), 'build-b', w1.join(' '));
    assert.ok(w1.indexOf('build-b') > w1.lastIndexOf('build-a'), `A, then B, never back: ${w1.join(' ')}`);
    assert.deepEqual([...new Set(await builds(week2))], ['build-b']);
    assert.equal((await week1.describe()).memo?.gateDecidedOnBuild, 'build-b', "build B's change took effect on the running week");

    // The replay guard covers both builds: week 1's history replays on B; on A, B's change is a determinism violation.
    const history = await week1.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: bundleB, replayName: 'week1 on build B' }, history, week1.workflowId);
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: bundleA, replayName: 'week1 on build A' }, history, week1.workflowId), (err: Error) => /determinism|Nondeterminism|DeterminismViolation/i.test(`${err.name} ${err.message}`));
    console.log(`worker upgrade: week 1 workflow tasks by build ${w1.join(' ')}`);
  });
});
