import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { planSchema } from '../../config/schema/plan';
import { streams } from '../../lib/nats';
import { projectRoot } from '../../lib/paths';
import { freeProductionPorts, ProductionStack, type ProductionPorts } from '../../lib/production-stack';
import { phaseInput } from '../../plan/compile';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { checkEventDelivery } from '../support/events';
import { until } from '../support/drills';
import { simulatorClient } from '../support/harness';
import { resumeSignal } from '../../workflows/lib/steering';
import { checkRecordsAgree } from '../support/records';
import { recordReliability } from '../support/reliability-summary';
import { liveProcessesMatching } from '../support/procs';

/**
 * The production-shaped stack (lib/production-stack.ts, issue 17): PostgreSQL with Temporal's
 * schemas, the Temporal server and its Web UI server, three nats-servers in one JetStream
 * cluster, the simulator and the workers, on free ports in a folder of the test's own. A phase
 * over all 77 agents runs on it while one NATS node is SIGKILLed and later started again; the
 * phase finishes without pausing, the simulator's record agrees with the workflows, every event
 * and alert is in JetStream exactly once, and the phase is listed by the Web UI server's API
 * with phasegate's search attributes (SQL visibility). A second start reuses what is there.
 */
const plan = planSchema.parse({
  decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
  version: 1,
  id: 'production-stack',
  title: 'all 77 agents on the production-shaped stack',
  thresholds: { sampleIntervalMs: 500, degradationMinDeltaMs: 1000 },
  timings: { baselineSamples: 1, rapidVerificationMs: 0, stageVerificationMs: 0, observationMs: 0 },
  weeks: [
    {
      id: 'week1',
      title: 'every agent, one change',
      steps: [{ id: 'all', migrate: { change: 'on-postgres', select: { machines: ['mainpc', 'pc2'] }, pilots: 2, batchSize: 25, maxConcurrentPerMachine: 6, failureBudget: { perBatch: 77, perWeek: 77, onExceeded: 'pause' } } }],
      gate: { criteria: [{ kind: 'all-migrated' }] },
    },
  ],
});

describe('the production-shaped stack: Temporal on PostgreSQL, its Web UI, a three-node NATS cluster', () => {
  const dataDir = path.join(projectRoot, '.data', 'test-runs', `production-${Date.now()}-${randomBytes(3).toString('hex')}`);
  let ports: ProductionPorts;
  let stack: ProductionStack;
  let connection: Connection;
  let client: Client;
  let nats: NatsConnection;

  before(async () => {
    ports = await freeProductionPorts();
    stack = new ProductionStack({ dataDir, ports });
    const started = Date.now();
    await stack.start();
    console.log(`production-shaped stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (first start: initdb and Temporal's schemas)`);
    connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal.frontend}` });
    client = new Client({ connection, namespace: 'default' });
    nats = await connect({ servers: ports.nats.client.map((p) => `nats://127.0.0.1:${p}`) });
  });
  after(async () => {
    await nats?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await stack?.stop();
    if (!process.exitCode) rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs the parts it says it runs: PostgreSQL, one Temporal server process with four services, the UI server, three NATS nodes with streams at three replicas', async () => {
    assert.deepEqual([...stack.processes.keys()].filter((n) => !n.startsWith('worker-') && !n.startsWith('simulator')).sort(), ['nats-1', 'nats-2', 'nats-3', 'postgres', 'temporal-server', 'temporal-ui']);
    // Each machine is its own host: its simulator and worker run in a network namespace.
    assert.equal(stack.machineHosts, 'netns');
    for (const m of ['mainpc', 'pc2']) {
      const link = stack.link(m)!;
      for (const name of [`worker-${m}`, `simulator-${m}`]) assert.ok(stack.processes.has(name), name);
      const ns = execFileSync('ip', ['netns', 'identify', String(stack.processes.get(`worker-${m}`)!.child.pid)]).toString().trim();
      assert.equal(ns, link.ns, `${m}'s worker runs in ${link.ns}`);
    }
    const system = await connection.workflowService.getSystemInfo({});
    assert.ok(system.serverVersion?.startsWith('1.29.1'), `server ${system.serverVersion}`);
    const jsm = await nats.jetstreamManager();
    for (const s of [streams.events.name, streams.alerts.name]) {
      const info = await jsm.streams.info(s);
      assert.equal(info.config.num_replicas, 3, `${s} replicas`);
      assert.equal((info.cluster?.replicas?.length ?? 0) + 1, 3, `${s}: a leader and two replicas`);
    }
    // Every write flushed before it is acknowledged (config/production/nats/cluster.conf).
    const varz = (await (await fetch(`http://127.0.0.1:${ports.nats.monitor[0]}/varz`)).json()) as { jetstream?: { config?: { sync_interval?: unknown; sync_always?: boolean } } };
    assert.equal(varz.jetstream?.config?.sync_always, true, JSON.stringify(varz.jetstream?.config));
    const ui = await fetch(stack.uiUrl);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /<html/i);
  });

  /**
   * Runs a phase over all 77 agents with fault drills that fire once enough migrations have
   * finished, watching the week: whether it paused, and the longest stretch with no migration
   * finishing. Then checks the fleet against the record, and JetStream against what was asked.
   */
  async function phaseWithFaults(id: string, change: string, faults: Array<{ afterMigrated: number; drill: () => Promise<string> }>) {
    const config = stack.phasegateConfig;
    const p = planSchema.parse({ ...plan, id, weeks: plan.weeks.map((w) => ({ ...w, steps: w.steps.map((st) => ({ ...st, migrate: { ...st.migrate!, change } })) })) });
    const input = { ...phaseInput(p, config.inventory), autoApproveGates: { by: 'production-test' } };
    const handle = await client.workflow.start(phaseWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId: `phase.${id}`, args: [input] });
    const week = client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));
    const started = Date.now();
    const states = new Set<string>();
    const done: string[] = [];
    const drills: Promise<void>[] = [];
    let lastMigrated = 0;
    let lastProgressAt = Date.now();
    let longestStallMs = 0;
    const running = async () => (await handle.describe().catch(() => null))?.status.name ?? 'RUNNING';
    while ((await running()) === 'RUNNING') {
      const st = (await week.query(weekStatusQuery).catch(() => null)) as WeekStatus | null;
      if (st) {
        states.add(st.state);
        const migrated = st.agents.filter((a) => a.state === 'migrated').length;
        if (migrated > lastMigrated) {
          longestStallMs = Math.max(longestStallMs, Date.now() - lastProgressAt);
          lastMigrated = migrated;
          lastProgressAt = Date.now();
        }
        while (faults.length && migrated >= faults[0]!.afterMigrated) {
          const at = ((Date.now() - started) / 1000).toFixed(1);
          const fault = faults.shift()!;
          drills.push(fault.drill().then((what) => void done.push(`${what} at ${at} s`)));
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await Promise.all(drills);
    const result = await handle.result();
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    assert.equal(faults.length, 0, 'every drill ran during the phase');
    assert.ok(!states.has('paused'), `the week never paused: ${[...states].join(', ')}`);
    const status = (await week.query(weekStatusQuery)) as WeekStatus;
    assert.equal(status.agents.length, 77);
    const records = await checkRecordsAgree(stack.simulatorAdmins(), status, change);
    const delivery = await checkEventDelivery(client, nats);
    assert.deepEqual(delivery.lost, [], 'events lost');
    assert.deepEqual(delivery.duplicated, [], 'events stored twice');
    assert.equal(delivery.stored, delivery.asked);
    const detail = `77 agents in ${((Date.now() - started) / 1000).toFixed(0)} s; ${done.join('; ')}; week never paused; longest stretch without a migration finishing ${(longestStallMs / 1000).toFixed(1)} s; ${delivery.retriedAttempts} activity attempts retried (all phases so far); events ${delivery.asked} asked, ${delivery.stored} stored, 0 lost, 0 twice; ${records.actionsChecked} actions checked`;
    return { detail, records, delivery, handle };
  }

  it('a 77-agent phase finishes while a NATS node is SIGKILLed and restarted: no pause, the fleet and the record agree, no event lost or stored twice', async () => {
    const r = await phaseWithFaults('production-stack', 'on-postgres', [
      {
        afterMigrated: 8,
        drill: async () => {
          await stack.kill('nats-2', 'SIGKILL');
          const down = Date.now();
          await new Promise((res) => setTimeout(res, 8000));
          await stack.startNatsNode(1);
          return `nats-2 SIGKILLed, started again ${((Date.now() - down) / 1000).toFixed(1)} s later`;
        },
      },
    ]);
    // SQL visibility with phasegate's search attributes, through the Web UI server's own API.
    const query = encodeURIComponent('PhasegatePhase="production-stack" AND WorkflowType="phaseWorkflow"');
    const listed = (await (await fetch(`${stack.uiUrl}/api/v1/namespaces/default/workflows?query=${query}`)).json()) as { executions?: Array<{ execution?: { workflowId?: string } }> };
    assert.deepEqual(listed.executions?.map((e) => e.execution?.workflowId), [r.handle.workflowId]);
    console.log(`production stack, NATS node: ${r.detail}`);
    recordReliability({ suite: 'production stack: NATS node killed', faultsInjected: 1, phasesFinished: 1, actionsChecked: r.records.actionsChecked, inputsRejected: 0, eventsLost: 0, detail: r.detail });
  });

  it('a 77-agent phase finishes while the Temporal server is SIGKILLed and restarted, and later PostgreSQL is stopped and started', async () => {
    const r = await phaseWithFaults('production-stack-2', 'through-restarts', [
      {
        afterMigrated: 8,
        drill: async () => {
          await stack.kill('temporal-server', 'SIGKILL');
          const down = Date.now();
          await new Promise((res) => setTimeout(res, 3000));
          await stack.startTemporalServer();
          return `Temporal server SIGKILLed, listening again ${((Date.now() - down) / 1000).toFixed(1)} s later`;
        },
      },
      {
        afterMigrated: 40,
        drill: async () => {
          await stack.kill('postgres', 'SIGINT');
          const down = Date.now();
          await new Promise((res) => setTimeout(res, 5000));
          await stack.startPostgres();
          return `PostgreSQL stopped (fast shutdown), started again ${((Date.now() - down) / 1000).toFixed(1)} s later`;
        },
      },
    ]);
    console.log(`production stack, Temporal and PostgreSQL: ${r.detail}`);
    recordReliability({ suite: 'production stack: Temporal server and PostgreSQL restarted', faultsInjected: 2, phasesFinished: 1, actionsChecked: r.records.actionsChecked, inputsRejected: 0, eventsLost: 0, detail: r.detail });
  });

  it("pc2's link cut for 30 s mid-phase: the week pauses with pc2 named, rolls nothing back, hears the link back, and finishes when resumed", async () => {
    const config = stack.phasegateConfig;
    const p = planSchema.parse({ ...plan, id: 'production-stack-3', weeks: plan.weeks.map((w) => ({ ...w, steps: w.steps.map((st) => ({ ...st, migrate: { ...st.migrate!, change: 'across-a-cut' } })) })) });
    const handle = await client.workflow.start(phaseWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId: 'phase.production-stack-3', args: [{ ...phaseInput(p, config.inventory), autoApproveGates: { by: 'production-test' } }] });
    const week = client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));
    await until('8 agents migrated', 120_000, async () => (((await week.query(weekStatusQuery)) as WeekStatus).agents.filter((a) => a.state === 'migrated').length >= 8 ? true : undefined));
    const link = stack.link('pc2')!;
    link.cut();
    const cutAt = Date.now();
    const paused = await until('the week paused for the pc2 link', 60_000, async () => {
      const w = (await week.query(weekStatusQuery)) as WeekStatus;
      return w.state === 'paused' && w.links?.state === 'silent' ? w : undefined;
    });
    const detectedMs = Date.now() - cutAt;
    assert.equal(paused.links?.machine, 'pc2');
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - cutAt))));
    link.heal();
    const cutFor = Date.now() - cutAt;
    const restored = await until('the link reported back', 90_000, async () => {
      const w = (await week.query(weekStatusQuery)) as WeekStatus;
      return w.links?.state === 'restored' ? w : undefined;
    });
    assert.equal(restored.state, 'paused', 'the week stays paused until a person resumes it');
    await week.signal(resumeSignal, { by: 'on-call' });
    const result = await handle.result();
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    const final = (await week.query(weekStatusQuery)) as WeekStatus;
    const records = await checkRecordsAgree(stack.simulatorAdmins(), final, 'across-a-cut');
    const undos = (await Promise.all(stack.simulatorAdmins().map((a) => simulatorClient(a).actions()))).flat().filter((a) => a.action === 'undo-stage' && a.change === 'across-a-cut');
    assert.deepEqual(undos, [], 'nothing was rolled back');
    const delivery = await checkEventDelivery(client, nats);
    assert.deepEqual(delivery.lost, []);
    assert.deepEqual(delivery.duplicated, []);
    const detail = `pc2 link (netns ${link.ns}) cut ${(cutFor / 1000).toFixed(1)} s mid-phase; paused ${(detectedMs / 1000).toFixed(1)} s after the cut; link reported back; resumed; 77 of 77 migrated (${records.migrated}), 0 undos; ${records.actionsChecked} actions checked; events ${delivery.asked} asked, 0 lost`;
    console.log(`production stack, link cut: ${detail}`);
    recordReliability({ suite: 'production stack: machine link cut', faultsInjected: 1, phasesFinished: 1, actionsChecked: records.actionsChecked, inputsRejected: 0, eventsLost: 0, detail });
  });

  it('stops with nothing left running, and a second start reuses the database, its schemas and the streams', async () => {
    await nats.close();
    await connection.close();
    await stack.stop();
    assert.deepEqual(liveProcessesMatching(dataDir), [], 'no process of the stack outlived it');
    const again = Date.now();
    stack = new ProductionStack({ dataDir, ports });
    await stack.start();
    console.log(`second start: ${((Date.now() - again) / 1000).toFixed(1)} s`);
    connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal.frontend}` });
    client = new Client({ connection, namespace: 'default' });
    nats = await connect({ servers: ports.nats.client.map((p) => `nats://127.0.0.1:${p}`) });
    const earlier = await client.workflow.getHandle('phase.production-stack').describe();
    assert.equal(earlier.status.name, 'COMPLETED', 'the first start\'s phase is still in the history');
    const info = await (await nats.jetstreamManager()).streams.info(streams.events.name);
    assert.ok(info.state.messages > 0, 'the events are still in the stream');
  });
});
