import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { createMachineActivities, type MachineActivities } from '../../activities/machine';
import { loadConfig, type PhasegateConfig } from '../../config/load';
import { thresholdsSchema } from '../../config/schema/plan';
import { createLogger } from '../../lib/logger';
import { projectRoot } from '../../lib/paths';
import { FleetSimulator } from '../../simulator/server';
import { makeTestConfig, simulatorClient } from '../support/harness';
import { fakeNvidiaSmi } from '../support/migration';

/**
 * The machine activities on their own: createMachineActivities against a real simulator (in
 * this process, on loopback) and real child processes, through the SDK's mock activity
 * context, with no Temporal server. Each trigger's reading, the marker read-back, commands
 * stopped by cancellation: the parts the end-to-end tests rely on, checked in seconds.
 */
describe('machine activities against the simulator, without a Temporal server', () => {
  let config: PhasegateConfig;
  let simulator: FleetSimulator;
  let sim: ReturnType<typeof simulatorClient>;
  let acts: { mainpc: MachineActivities; pc2: MachineActivities };
  const gpu = fakeNvidiaSmi(mkdtempSync(path.join(tmpdir(), 'phasegate-gpu-')));
  const thresholds = (() => {
    const { sampleIntervalMs: _s, ...t } = thresholdsSchema.parse({});
    return t;
  })();
  const run = <R>(f: () => Promise<R>): Promise<R> => new MockActivityEnvironment().run(f) as Promise<R>;

  before(async () => {
    const test = await makeTestConfig({ edit: ({ catalogues }) => (catalogues.pc2.probes.load = 'simulator') });
    config = loadConfig(test.configDir);
    const logger = createLogger('test', 'warn');
    simulator = new FleetSimulator({ inventory: config.inventory, machines: ['mainpc', 'pc2'], adminHost: '127.0.0.1', adminPort: test.ports.admin, failoverDetectMs: 1000, logger });
    await simulator.start();
    sim = simulatorClient(simulator.adminUrl);
    process.env.PATH = `${gpu.binDir}${path.delimiter}${process.env.PATH ?? ''}`;
    const make = (machine: string) =>
      createMachineActivities({
        machine,
        inventory: config.inventory,
        catalogue: config.catalogues[machine]!,
        values: { node: process.execPath, projectRoot, machine, simulatorAdmin: simulator.adminUrl },
        logger,
        nats: () => Promise.reject(new Error('no NATS in this test')),
      });
    acts = { mainpc: make('mainpc'), pc2: make('pc2') };
  });
  after(async () => simulator?.stop());

  const window = (machine: 'mainpc' | 'pc2', agent: string, baseline: { p50: number; p95: number } | null = null, durationMs = 600) =>
    run(() =>
      acts[machine].verifyWindow({
        agent,
        durationMs,
        sampleIntervalMs: 200,
        thresholds,
        baseline: baseline ? { responseP50Ms: baseline.p50, responseP95Ms: baseline.p95, responseStdDevMs: 1, gpuMemoryPct: null, load: 0 } : null,
        checkIntegration: true,
      }),
    );

  it('a healthy agent passes its window', async () => {
    const w = await window('mainpc', 'ChitchatAgent');
    assert.equal(w.verdict, 'pass', JSON.stringify(w));
    assert.ok(w.samples >= 2);
  });

  const triggers: Array<[string, 'mainpc' | 'pc2', string, () => Promise<unknown>, () => Promise<unknown>]> = [
    [
      'GPU memory over 95 % on the GPU the agent\'s process uses (the fake nvidia-smi reports 96 %)',
      'mainpc',
      'gpu-memory',
      async () => {
        gpu.set(78643, 81920);
        gpu.apps([{ pid: (await sim.agent('ChitchatAgent')).pid, usedMiB: 2048 }]);
      },
      async () => {
        gpu.set(40960, 81920);
        gpu.apps([]);
      },
    ],
    ['load over 10 (the simulator reports 12)', 'pc2', 'system-load', () => sim.load('pc2', 12), () => sim.load('pc2', 0.5)],
    ['a failing integration check', 'mainpc', 'integration-failure', () => sim.fault('GoalManagerAgent', { integrationFailing: true }), () => sim.fault('GoalManagerAgent', { integrationFailing: false })],
    ['an agent that is down', 'pc2', 'agent-down', () => sim.fault('TaskQueueAgent', { crashed: true }), () => sim.fault('TaskQueueAgent', { crashed: false })],
  ];
  for (const [name, machine, kind, inject, clear] of triggers) {
    it(`fails the window with the evidence: ${name}`, async () => {
      const agent = kind === 'integration-failure' ? 'GoalManagerAgent' : kind === 'agent-down' ? 'TaskQueueAgent' : machine === 'mainpc' ? 'ChitchatAgent' : 'CacheManagerAgent';
      await inject();
      try {
        const w = await window(machine, agent);
        assert.equal(w.verdict, 'fail', JSON.stringify(w));
        assert.equal(w.trigger?.kind, kind);
      } finally {
        await clear();
      }
    });
  }

  it('response time over its threshold (here 300 ms, with a 400 ms slow agent)', async () => {
    await sim.fault('ChitchatAgent', { latencyMs: 400 });
    try {
      const w = await run(() => acts.mainpc.verifyWindow({ agent: 'ChitchatAgent', durationMs: 1000, sampleIntervalMs: 200, thresholds: { ...thresholds, responseTimeMs: 300 }, baseline: null, checkIntegration: false }));
      assert.equal(w.verdict, 'fail', JSON.stringify(w));
      assert.equal(w.trigger?.kind, 'response-time');
      assert.equal(w.trigger?.threshold, 300);
      assert.ok(w.trigger!.measured > 300);
    } finally {
      await sim.fault('ChitchatAgent', { latencyMs: 0 });
    }
  });

  it('a full GPU is not the concern of an agent whose processes hold none of it: not applicable, and says why', async () => {
    gpu.set(78643, 81920);
    gpu.apps([{ pid: (await sim.agent('ModelManagerAgent')).pid, usedMiB: 70000 }]);
    try {
      const w = await window('mainpc', 'ChitchatAgent');
      assert.equal(w.verdict, 'pass', JSON.stringify(w));
      assert.ok(w.notApplicable.some((n) => /gpuMemoryPct: the agent's processes \(\d+\) hold no GPU memory/.test(n)), JSON.stringify(w.notApplicable));
      const busy = await window('mainpc', 'ModelManagerAgent');
      assert.equal(busy.trigger?.kind, 'gpu-memory', JSON.stringify(busy));
      assert.match(busy.trigger!.detail, /GPU memory 96 % used/);
    } finally {
      gpu.set(40960, 81920);
      gpu.apps([]);
    }
  });

  it('degradation: the window is judged against the baseline ticks and the controls measured beside it', async () => {
    // ResponderAgent and its controls answer in about 100 ms; after the "change" it answers in 200.
    const controls = ['ChitchatAgent', 'GoalManagerAgent'];
    const settle = async (ms: Record<string, number>) => Promise.all(Object.entries(ms).map(([a, l]) => sim.fault(a, { latencyMs: l })));
    await settle({ ResponderAgent: 100, ChitchatAgent: 80, GoalManagerAgent: 120 });
    try {
      const b = await run(() => acts.mainpc.measureBaseline({ agent: 'ResponderAgent', samples: 10, intervalMs: 100, responseThresholdMs: 5000, controls }));
      assert.equal(b.baseline.ticks?.length, 10);
      // Both kept (three may be), closest in speed first: GoalManagerAgent (120 ms) before ChitchatAgent (80 ms).
      assert.deepEqual(b.baseline.controls, ['GoalManagerAgent', 'ChitchatAgent']);
      assert.ok(b.baseline.ticks!.every((t) => t.controlsMs.length === 2 && t.controlsMs.every((c) => c >= 80)), JSON.stringify(b.baseline.ticks));
      const judged = (durationMs: number) =>
        run(() => acts.mainpc.verifyWindow({ agent: 'ResponderAgent', durationMs, sampleIntervalMs: 100, thresholds, baseline: b.baseline, checkIntegration: false }));
      const same = await judged(3000);
      assert.equal(same.verdict, 'pass', JSON.stringify(same.degradation));
      assert.equal(same.degradation?.verdict, 'not-degraded');
      assert.equal(same.degradation?.method, 'against-controls');
      // Every agent on the machine 100 ms slower: a busy machine, not a bad change.
      await settle({ ResponderAgent: 200, ChitchatAgent: 180, GoalManagerAgent: 220 });
      const busy = await judged(3000);
      assert.equal(busy.verdict, 'pass', JSON.stringify(busy.degradation));
      // Only the agent slower: degraded, with the judge's figures as the evidence.
      await settle({ ResponderAgent: 200, ChitchatAgent: 80, GoalManagerAgent: 120 });
      const slow = await judged(3000);
      assert.equal(slow.verdict, 'fail', JSON.stringify(slow.degradation));
      assert.equal(slow.trigger?.kind, 'degradation');
      assert.ok(slow.trigger!.measured > 80 && slow.trigger!.measured < 120, String(slow.trigger!.measured));
      assert.match(slow.trigger!.detail, /against 2 unchanged agent\(s\) on its machine/);
      // A window too short for the judge says so, and passes on degradation.
      const short = await judged(400);
      assert.equal(short.degradation?.verdict, 'insufficient');
      assert.match(short.degradation!.detail, /needs 8/);
    } finally {
      await settle({ ResponderAgent: 0, ChitchatAgent: 0, GoalManagerAgent: 0 });
    }
  });

  it('controls the machine does not have are ignored: the worker probes only its own agents', async () => {
    const b = await run(() => acts.mainpc.measureBaseline({ agent: 'ResponderAgent', samples: 2, intervalMs: 100, responseThresholdMs: 5000, controls: ['NotificationAgent', 'no-such-agent'] }));
    assert.equal(b.baseline.controls, undefined);
    assert.ok(b.baseline.ticks!.every((t) => t.controlsMs.length === 0));
  });

  it('a probe that cannot measure is no data, and enough of it makes the window inconclusive, not failed', async () => {
    await sim.fault('NotificationAgent', { garbledHealth: true });
    try {
      const w = await run(() => acts.pc2.verifyWindow({ agent: 'NotificationAgent', durationMs: 3000, sampleIntervalMs: 100, thresholds, baseline: null, checkIntegration: false }));
      assert.equal(w.verdict, 'inconclusive', JSON.stringify(w));
      assert.ok(w.probeErrors >= thresholds.maxConsecutiveProbeErrors);
    } finally {
      await sim.fault('NotificationAgent', { garbledHealth: false });
    }
  });

  it('actions run the catalogue command; the markers are read back as the agent has them', async () => {
    const a = acts.mainpc;
    const req = (action: 'backup' | 'apply-stage' | 'undo-stage', stage: number) => ({ action, agent: 'SmartHomeAgent', change: 'unit', stage, idempotencyKey: `unit:${action}:${stage}` });
    await run(() => a.runAction(req('backup', 1)));
    await run(() => a.runAction(req('apply-stage', 1)));
    await run(() => a.runAction(req('apply-stage', 2)));
    assert.deepEqual(await run(() => a.readMarkers({ agent: 'SmartHomeAgent', change: 'unit', stages: [1, 2, 3] })), { agent: 'SmartHomeAgent', change: 'unit', present: [1, 2], absent: [3], unknown: [] });
    await run(() => a.runAction(req('undo-stage', 2)));
    await run(() => a.runAction(req('undo-stage', 1)));
    assert.deepEqual((await run(() => a.readMarkers({ agent: 'SmartHomeAgent', change: 'unit', stages: [1, 2, 3] }))).present, []);
    // An undo that fails is a retryable failure with the command's own words.
    await sim.fault('SmartHomeAgent', { undoFails: true });
    await assert.rejects(run(() => a.runAction(req('undo-stage', 3))), (err: Error) => /exited 1: undo-stage SmartHomeAgent: undo failed/.test(err.message));
    await sim.fault('SmartHomeAgent', { undoFails: false });
  });

  it('before stage 1, one activity reads the markers and takes the baseline only when the agent has none of the change', async () => {
    const a = acts.mainpc;
    const req = { agent: 'SmartHomeAgent', change: 'unit-prepare', stages: [1, 2, 3], samples: 2, intervalMs: 50, responseThresholdMs: 2000, checkIntegration: true };
    const clean = await run(() => a.prepareMigration(req));
    assert.deepEqual(clean.markers.present, [], JSON.stringify(clean.markers));
    assert.deepEqual(clean.markers.absent, [1, 2, 3]);
    assert.ok(clean.measured && clean.measured.samples === 2 && clean.measured.baseline.responseP50Ms > 0, JSON.stringify(clean.measured));
    assert.ok(clean.measured.preflight.integration, 'the pre-flight integration check ran with the baseline');
    // Another run applied stage 1: the markers say so, and nothing is measured.
    await run(() => a.runAction({ action: 'apply-stage', agent: 'SmartHomeAgent', change: 'unit-prepare', stage: 1, idempotencyKey: 'unit-prepare:s1:apply' }));
    const already = await run(() => a.prepareMigration(req));
    assert.deepEqual(already.markers.present, [1]);
    assert.equal(already.measured, null, 'an agent that already has part of the change is not measured');
    await run(() => a.runAction({ action: 'undo-stage', agent: 'SmartHomeAgent', change: 'unit-prepare', stage: 1, idempotencyKey: 'unit-prepare:s1:undo' }));
  });

  it('a marker check that cannot tell is asked again before it counts as unknown, and says how often it was asked', async () => {
    const a = acts.mainpc;
    const req = { agent: 'SmartHomeAgent', change: 'unit-marker-retry', stages: [1, 2] };
    // Two failed reads of stage 1, then answers: nothing unknown.
    await sim.fault('SmartHomeAgent', { markerReadFailures: 2 });
    const recovered = await run(() => a.readMarkers(req));
    assert.deepEqual({ present: recovered.present, absent: recovered.absent, unknown: recovered.unknown }, { present: [], absent: [1, 2], unknown: [] });
    const reads = (await sim.actions('SmartHomeAgent')).filter((r) => r.change === 'unit-marker-retry' && r.action === 'verify-marker');
    assert.deepEqual(reads.map((r) => `${r.stage}:${r.outcome}`), ['1:failed', '1:failed', '1:failed', '2:failed']);
    // Failing on every try: unknown after three, the next stage read as usual.
    await sim.fault('SmartHomeAgent', { markerReadFailures: 3 });
    const unknown = await run(() => a.readMarkers(req));
    assert.deepEqual(unknown.unknown.map((u) => u.stage), [1]);
    assert.match(unknown.unknown[0]!.detail, /\(asked 3 times\)/);
    assert.deepEqual(unknown.absent, [2]);
  });

  it("a stage's actions in one activity run in order, stop at the first that fails with its own words, and run again harmlessly by their keys", async () => {
    const a = acts.mainpc;
    const stage = (n: number) =>
      [
        { action: 'backup', agent: 'SmartHomeAgent', change: 'unit-many', stage: n, idempotencyKey: `unit-many:s${n}:backup` },
        { action: 'apply-stage', agent: 'SmartHomeAgent', change: 'unit-many', stage: n, idempotencyKey: `unit-many:s${n}:apply` },
        { action: 'verify-marker', agent: 'SmartHomeAgent', change: 'unit-many', stage: n },
      ] as const;
    const outcomes = await run(() => a.runActions([...stage(1)]));
    assert.deepEqual(
      outcomes.map((o) => o.action),
      ['backup', 'apply-stage', 'verify-marker'],
    );
    // The retry after a lost answer: the same keys, nothing applied twice.
    await run(() => a.runActions([...stage(1)]));
    const records = (await sim.actions('SmartHomeAgent')).filter((r) => r.change === 'unit-many');
    assert.deepEqual(
      records.filter((r) => r.action !== 'verify-marker').map((r) => `${r.action}:${r.outcome}`),
      ['backup:backed-up', 'apply-stage:applied', 'backup:duplicate-key', 'apply-stage:duplicate-key'],
      JSON.stringify(records),
    );
    // A marker check that finds nothing fails the activity, naming that action.
    await assert.rejects(run(() => a.runActions([{ action: 'verify-marker', agent: 'SmartHomeAgent', change: 'unit-many', stage: 3 }, ...stage(2).slice(0, 2)])), (err: Error) => /verify-marker of SmartHomeAgent stage 3 on mainpc exited 1/.test(err.message));
    assert.deepEqual((await run(() => a.readMarkers({ agent: 'SmartHomeAgent', change: 'unit-many', stages: [1, 2, 3] }))).present, [1], 'nothing after the failed action ran');
    await assert.rejects(run(() => a.runActions([])), /1 to 3 actions/);
    await assert.rejects(run(() => a.runActions([...stage(1), ...stage(2)])), /1 to 3 actions/);
    await run(() => a.runAction({ action: 'undo-stage', agent: 'SmartHomeAgent', change: 'unit-many', stage: 1, idempotencyKey: 'unit-many:s1:undo' }));
  });

  it('an action cancelled mid-command ends the activity as cancelled, once its command is gone, and its effect never lands', async () => {
    await sim.fault('UserProfileAgent', { applyDelayMs: 2000 });
    const env = new MockActivityEnvironment();
    setTimeout(() => env.cancel(), 300);
    const started = Date.now();
    await assert.rejects(env.run(() => acts.pc2.runAction({ action: 'apply-stage', agent: 'UserProfileAgent', change: 'cancel', stage: 1, idempotencyKey: 'unit:cancel' })), (err: unknown) => err instanceof CancelledFailure);
    assert.ok(Date.now() - started < 2000, 'cancelled before the apply took effect');
    await new Promise((r) => setTimeout(r, 2200));
    const records = (await sim.actions('UserProfileAgent')).filter((r) => r.change === 'cancel');
    assert.deepEqual(records.map((r) => r.outcome), ['abandoned']);
    assert.deepEqual((await sim.agent('UserProfileAgent')).changes, {});
    await sim.fault('UserProfileAgent', { applyDelayMs: 0 });
  });
});
