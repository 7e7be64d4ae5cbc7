import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { planSchema } from '../../config/schema/plan';
import { streams } from '../../lib/nats';
import { projectRoot } from '../../lib/paths';
import { ProductionStack, type ProductionPorts } from '../../lib/production-stack';
import { freePort } from '../../lib/stack';
import { phaseInput } from '../../plan/compile';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery, type WeekStatus } from '../../workflows/week';
import { checkEventDelivery } from '../support/events';
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

async function freePorts(): Promise<ProductionPorts> {
  const taken = new Set<number>();
  const one = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const three = async (): Promise<[number, number, number]> => [await one(), await one(), await one()];
  return {
    postgres: await one(),
    temporal: { frontend: await one(), frontendHttp: await one(), history: await one(), matching: await one(), worker: await one(), membership: [await one(), await one(), await one(), await one()], metrics: await one() },
    ui: await one(),
    nats: { client: await three(), cluster: await three(), monitor: await three() },
    simulatorAdmin: await one(),
    metrics: { control: await one(), mainpc: await one(), pc2: await one() },
  };
}

describe('the production-shaped stack: Temporal on PostgreSQL, its Web UI, a three-node NATS cluster', () => {
  const dataDir = path.join(projectRoot, '.data', 'test-runs', `production-${Date.now()}-${randomBytes(3).toString('hex')}`);
  let ports: ProductionPorts;
  let stack: ProductionStack;
  let connection: Connection;
  let client: Client;
  let nats: NatsConnection;

  before(async () => {
    ports = await freePorts();
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
    assert.deepEqual([...stack.processes.keys()].filter((n) => !n.startsWith('worker-') && n !== 'simulator').sort(), ['nats-1', 'nats-2', 'nats-3', 'postgres', 'temporal-server', 'temporal-ui']);
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

  it('a 77-agent phase finishes while a NATS node is SIGKILLed and restarted: no pause, the fleet and the record agree, no event lost or stored twice', async () => {
    const config = stack.phasegateConfig;
    const input = { ...phaseInput(plan, config.inventory), autoApproveGates: { by: 'production-test' } };
    const handle = await client.workflow.start(phaseWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId: 'phase.production-stack', args: [input] });
    const week = client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));
    const started = Date.now();
    const states = new Set<string>();
    let lastMigrated = 0;
    let lastProgressAt = Date.now();
    let longestStallMs = 0;
    let killedAt = 0;
    let restartedAt = 0;
    const watch = (async () => {
      while ((await handle.describe()).status.name === 'RUNNING') {
        const s = (await week.query(weekStatusQuery).catch(() => null)) as WeekStatus | null;
        if (s) {
          states.add(s.state);
          const migrated = s.agents.filter((a) => a.state === 'migrated').length;
          if (migrated > lastMigrated) {
            longestStallMs = Math.max(longestStallMs, Date.now() - lastProgressAt);
            lastMigrated = migrated;
            lastProgressAt = Date.now();
          }
          // The fault: once a tenth of the fleet is through, one NATS node dies for 8 s.
          if (!killedAt && migrated >= 8) {
            killedAt = Date.now();
            await stack.kill('nats-2', 'SIGKILL');
            setTimeout(() => {
              void stack.startNatsNode(1).then(() => (restartedAt = Date.now()));
            }, 8000);
          }
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const result = await handle.result();
    await watch;
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    assert.ok(killedAt > 0 && restartedAt > 0, 'the node was killed and started again during the phase');
    assert.ok(!states.has('paused'), `the week never paused: ${[...states].join(', ')}`);

    const status = (await week.query(weekStatusQuery)) as WeekStatus;
    assert.equal(status.agents.length, 77);
    const records = await checkRecordsAgree(`http://127.0.0.1:${ports.simulatorAdmin}`, status, 'on-postgres');
    const delivery = await checkEventDelivery(client, nats);
    assert.deepEqual(delivery.lost, [], 'events lost');
    assert.deepEqual(delivery.duplicated, [], 'events stored twice');
    assert.equal(delivery.stored, delivery.asked);

    // SQL visibility with phasegate's search attributes, through the Web UI server's own API.
    const query = encodeURIComponent('PhasegatePhase="production-stack" AND WorkflowType="phaseWorkflow"');
    const listed = (await (await fetch(`${stack.uiUrl}/api/v1/namespaces/default/workflows?query=${query}`)).json()) as { executions?: Array<{ execution?: { workflowId?: string } }> };
    assert.deepEqual(listed.executions?.map((e) => e.execution?.workflowId), ['phase.production-stack']);

    const tookS = (Date.now() - started) / 1000;
    const detail = `77 agents in ${tookS.toFixed(0)} s on Temporal ${'1.29.1'}/PostgreSQL; nats-2 SIGKILLed at ${((killedAt - started) / 1000).toFixed(1)} s, back ${((restartedAt - killedAt) / 1000).toFixed(1)} s later; week never paused; longest stretch without a migration finishing ${(longestStallMs / 1000).toFixed(1)} s; ${delivery.retriedAttempts} activity attempts retried; events ${delivery.asked} asked, ${delivery.stored} stored, 0 lost, 0 twice; ${records.actionsChecked} actions checked`;
    console.log(`production stack: ${detail}`);
    recordReliability({ suite: 'production stack (NATS node killed)', faultsInjected: 1, phasesFinished: 1, actionsChecked: records.actionsChecked, inputsRejected: 0, eventsLost: delivery.lost.length, detail });
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
