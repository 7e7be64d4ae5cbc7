import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveInconclusiveUpdate, type AgentMigrationResult } from '../../workflows/agent-migration';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { fakeNvidiaSmi, startMigration, waitForStatus } from '../support/migration';

/**
 * A trigger, end to end: a fault injected while stage 2 is verified rolls the stages back in
 * reverse order, on the real dev server with the machine workers as child processes. What each
 * probe reads (response time, degradation against the baseline, GPU, load, the integration
 * check, an agent down, no data) is checked apart and faster in test/unit/machine-activities.test.ts.
 */
describe('agent migration on the real dev server: each trigger rolls the stages back in reverse order', () => {
  let env: TestStack;
  let sim: ReturnType<typeof simulatorClient>;
  const gpu = fakeNvidiaSmi(mkdtempSync(path.join(tmpdir(), 'phasegate-gpu-')));

  before(async () => {
    env = await startTestStack({
      machinePath: { mainpc: gpu.binDir },
      // pc2 reads its load from the simulator, so a test can drive it over 10.
      edit: ({ catalogues }) => (catalogues.pc2.probes.load = 'simulator'),
    });
    sim = simulatorClient(env.simulatorAdmin);
  });
  after(async () => env?.stop());

  /** Starts a staged migration, injects a fault once stage 2 is being verified, awaits the result. */
  async function drill(agent: string, inject: () => Promise<unknown>): Promise<AgentMigrationResult> {
    const handle = await startMigration(env, agent);
    await waitForStatus(handle, (s) => s.state === 'verifying' && s.currentStage === 2, 'stage 2 verification');
    await inject();
    return handle.result();
  }

  async function assertRolledBack(agent: string, result: AgentMigrationResult, kind: string): Promise<void> {
    assert.equal(result.outcome, 'rolled-back');
    assert.equal(result.strategy, 'staged');
    assert.equal(result.trigger?.kind, kind, JSON.stringify(result.trigger));
    assert.ok(Number.isFinite(result.trigger!.measured) && Number.isFinite(result.trigger!.threshold));
    assert.deepEqual(result.rollback?.changes[0]?.undoneStages, [2, 1]);
    assert.equal(result.rollback?.withinBudget, true, `level-1 rollback took ${result.rollback?.durationMs} ms of its 2 min`);
    const undos = (await sim.actions(agent)).filter((a) => a.action === 'undo-stage' && a.outcome === 'undone');
    assert.deepEqual(undos.map((a) => a.stage), [2, 1], 'undone in reverse order');
    const applied = (await sim.actions(agent)).filter((a) => a.action === 'apply-stage' && a.outcome === 'applied');
    assert.deepEqual(applied.map((a) => a.stage), [1, 2], 'stage 3 never ran');
    const view = await sim.agent(agent);
    assert.equal(view.version, '1.0.0');
    assert.deepEqual(view.changes, {});
  }

  it('GPU memory over 95 % on the GPU the agent\'s process holds (a fake nvidia-smi on the PATH reports 96 %)', async () => {
    try {
      // The health endpoint names the agent's process; nvidia-smi lists it on the GPU.
      gpu.apps([{ pid: (await sim.agent('VisionModelAgent')).pid, usedMiB: 6000 }]);
      const result = await drill('VisionModelAgent', async () => gpu.set(78643, 81920));
      await assertRolledBack('VisionModelAgent', result, 'gpu-memory');
      assert.equal(result.trigger!.measured, 96);
      assert.equal(result.trigger!.threshold, 95);
      assert.match(result.trigger!.detail, /GPU GPU-fake-0 \(the agent's\): 96 % used; the agent's processes hold 6000 MiB of it/);
    } finally {
      gpu.set(40960, 81920);
      gpu.apps([]);
    }
  });

  it('system load over 10 from the injectable load source', async () => {
    try {
      const result = await drill('CacheManagerAgent', () => sim.load('pc2', 12.5));
      await assertRolledBack('CacheManagerAgent', result, 'system-load');
      assert.equal(result.trigger!.measured, 12.5);
    } finally {
      await sim.clearFaults();
    }
  });

  it('a failing integration check', async () => {
    const result = await drill('ContextManagerAgent', () => sim.fault('ContextManagerAgent', { integrationFailing: true, clearOnUndo: true }));
    await assertRolledBack('ContextManagerAgent', result, 'integration-failure');
    assert.equal(result.rollback?.changes[0]?.healthy, true);
  });

  it('probes that cannot measure make the window inconclusive: no rollback, a human decides (retry-window)', async () => {
    const handle = await startMigration(env, 'SpeechToTextAgent');
    await waitForStatus(handle, (s) => s.state === 'verifying' && s.currentStage === 2, 'stage 2 verification');
    gpu.fail();
    try {
      const waiting = await waitForStatus(handle, (s) => s.state === 'inconclusive', 'an inconclusive window');
      assert.deepEqual(waiting.stagesApplied, [1, 2], 'no data is not a failed measurement: nothing rolled back');
      assert.equal(waiting.rollback, null);
      assert.match(waiting.inconclusive[0]!.reason, /gpuMemoryPct: nvidia-smi exited 9/);
      assert.equal((await sim.actions('SpeechToTextAgent')).filter((a) => a.action === 'undo-stage').length, 0);
    } finally {
      gpu.set(40960, 81920);
    }
    await handle.executeUpdate(resolveInconclusiveUpdate, { args: [{ action: 'retry-window', by: 'ops', reason: 'driver restarted' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    assert.equal(result.inconclusive[0]?.resolution?.action, 'retry-window');
  });

  it('on pc2 (the simulated machine\'s nvidia-smi), an agent that holds no GPU memory: the GPU trigger does not apply and says so; a healthy staged migration completes', async () => {
    const handle = await startMigration(env, 'ExperienceTrackerAgent');
    const result = await handle.result();
    assert.equal(result.outcome, 'migrated');
    assert.deepEqual(result.stagesApplied, [1, 2, 3]);
    assert.ok(result.lastWindow?.notApplicable.some((n) => /gpuMemoryPct: the agent's processes \(\d+\) hold no GPU memory/.test(n)), JSON.stringify(result.lastWindow));
    const view = await sim.agent('ExperienceTrackerAgent');
    assert.match(view.version, /^1\.0\.0\+change\d+$/);
  });
});
