import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { loadConfig } from '../../config/load';
import { streams } from '../../lib/nats';
import { projectRoot } from '../../lib/paths';
import { phaseInput } from '../../plan/compile';
import { Stack } from '../../lib/stack';
import { temporalTarget } from '../../lib/temporal';
import { phaseWorkflow, weekWorkflowId } from '../../workflows/phase';
import { weekStatusQuery } from '../../workflows/week';
import { checkEventDelivery } from '../support/events';
import { makeTestConfig, simulatorClient } from '../support/harness';
import { createMachineLink, relayToLoopback, type MachineLink } from '../../lib/netns';
import { drillPlan, migrationPastFirstStage, until } from '../support/drills';
import { checkRecordsAgree } from '../support/records';
import { recordReliability } from '../support/reliability-summary';

const run = promisify(execFile);

/**
 * A partition between the machines. pc2's worker and simulator run in their own network
 * namespace, joined to this "mainpc" (Temporal, NATS, the control and mainpc workers, mainpc's
 * simulator) by a veth pair on loopback-range addresses. The link is cut for 15 s in the middle
 * of a week. docs/domain.md: a link silent for over 10 s counts as a failure, so the week pauses with
 * a level-2 alert naming pc2, rolls nothing back, says when the link is back, and carries on
 * when resumed, with nothing lost.
 */
const cutMs = 15_000;
const plan = drillPlan('partition', 'a rollout across a partition between mainpc and pc2', 'splitproof');

describe('partition between mainpc and pc2 (pc2 in its own network namespace, link cut for 15 s)', () => {
  let link: MachineLink;
  let relay: { close(): Promise<void> } | undefined;
  let stack: Stack;
  let connection: Connection;
  let client: Client;
  let nats: NatsConnection;
  let dataDir: string;
  let configDir: string;
  const admins: string[] = [];

  before(async () => {
    link = createMachineLink();
    // NATS listens on the host end of the link; Temporal stays on 127.0.0.1 with a relay on the
    // host end (the dev server dials its own services on 127.0.0.1). pc2's processes reach both
    // through the link, and its simulator's admin API listens on the namespace's end.
    const cfg = await makeTestConfig({
      edit: ({ deployment }) => {
        deployment.nats.host = link.hostAddress;
      },
    });
    dataDir = cfg.dataDir;
    configDir = cfg.configDir;
    const pc2ConfigDir = `${configDir}-pc2`;
    cpSync(configDir, pc2ConfigDir, { recursive: true });
    const deploymentFile = path.join(pc2ConfigDir, 'deployment.json');
    const deployment = JSON.parse(readFileSync(deploymentFile, 'utf8'));
    deployment.simulator.adminHost = link.nsAddress;
    deployment.temporal.host = link.hostAddress;
    writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2));

    const config = loadConfig(configDir);
    stack = new Stack({ config, dataDir, startSimulator: false, startWorkers: false });
    await stack.start();
    relay = await relayToLoopback(link.hostAddress, cfg.ports.temporal);
    const pc2 = { prefix: link.prefix, configDir: pc2ConfigDir };
    await stack.startSimulator(['mainpc']);
    await stack.startSimulator(['pc2'], pc2);
    await Promise.all([stack.startControlWorker(), stack.startMachineWorker('mainpc'), stack.startMachineWorker('pc2', pc2)]);
    admins.push(`http://127.0.0.1:${cfg.ports.admin}`, `http://${link.nsAddress}:${cfg.ports.admin}`);
    const target = temporalTarget(config.deployment);
    connection = await Connection.connect({ address: target.address });
    client = new Client({ connection, namespace: target.namespace });
    nats = await connect({ servers: `nats://${link.hostAddress}:${cfg.ports.nats}` });
  });

  after(async () => {
    await nats?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await stack?.stop();
    await relay?.close();
    link?.destroy();
    if (!process.exitCode && dataDir) {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(`${configDir}-pc2`, { recursive: true, force: true });
    }
  });

  it('pc2 really is behind the link: its agents answer only through the namespace', async () => {
    const agents = await simulatorClient(admins[1]!).agents();
    assert.deepEqual(agents.map((a) => a.machine).filter((m) => m !== 'pc2'), []);
    assert.equal(agents.length, 40);
    const inventory = loadConfig(configDir).inventory;
    const host = inventory.machines.find((m) => m.name === 'pc2')!.host;
    const port = inventory.agents.find((a) => a.name === agents[0]!.name)!.healthPort;
    // From this (mainpc) namespace nothing listens at pc2's agent address.
    await assert.rejects(fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(2000) }));
  });

  it('a 15-second cut: the week pauses with a level-2 alert naming pc2, rolls nothing back, reports the link back, and finishes after resume with nothing lost', async () => {
    const config = loadConfig(configDir);
    const input = { ...phaseInput(plan, config.inventory), autoApproveGates: { by: 'partition-test' } };
    const handle = await client.workflow.start(phaseWorkflow, { taskQueue: config.deployment.controlTaskQueue, workflowId: 'phase.partition', args: [input] });
    const weekHandle = client.workflow.getHandle(weekWorkflowId(handle.workflowId, 'week1'));

    await migrationPastFirstStage(client, weekHandle, 'pc2');
    link.cut();
    const cutAt = Date.now();
    const paused = await until('the week paused for the pc2 link', 30_000, async () => {
      const week = await weekHandle.query(weekStatusQuery);
      return week.state === 'paused' && week.links?.state === 'silent' ? week : undefined;
    });
    const detectedMs = Date.now() - cutAt;
    // Silence is counted from the last heartbeat heard (up to one 1-s interval before the cut).
    assert.ok(detectedMs >= 8_500, `a link is failed only after 10 s of silence (paused ${detectedMs} ms after the cut)`);
    assert.ok(Date.parse(paused.links!.since) <= cutAt, `silent since ${paused.links!.since}, before the cut`);
    assert.equal(paused.links?.machine, 'pc2');
    assert.deepEqual(paused.unreachableMachines, ['pc2']);
    await new Promise((r) => setTimeout(r, Math.max(0, cutMs - (Date.now() - cutAt))));
    link.heal();
    const cutFor = Date.now() - cutAt;

    const restored = await until('the link reported back', 90_000, async () => {
      const week = await weekHandle.query(weekStatusQuery);
      return week.links?.state === 'restored' ? week : undefined;
    });
    assert.equal(restored.state, 'paused', 'the week stays paused until a human resumes it');
    assert.ok(restored.agents.every((a) => a.state !== 'rolled-back' && a.state !== 'failed'), JSON.stringify(restored.agents));

    const js = nats.jetstream();
    const level2 = await js.consumers.get(streams.alerts.name, { filterSubjects: ['phasegate.alerts.level2'] });
    const alert = await until('the level-2 alert', 30_000, async () => {
      const m = await level2.next({ expires: 2000 });
      const a = m?.json<{ title: string; detail: string; data: { machine?: string } }>();
      return a && /unreachable/.test(a.title) ? a : undefined;
    });
    assert.match(alert.title, /machine pc2 unreachable, week paused/);
    assert.match(alert.detail, /the link to it is cut/);
    assert.ok(Number(/nothing heard from pc2 for (\d+) s/.exec(alert.detail)![1]) >= 10, alert.detail);
    assert.equal(alert.data.machine, 'pc2');

    await run(process.execPath, [path.join(projectRoot, 'dist/cli/main.js'), 'resume', handle.workflowId, '--by', 'on-call', '--config', configDir]);
    const result = await handle.result();
    assert.equal(result.outcome, 'completed', JSON.stringify(result.weeks));
    const final = await weekHandle.query(weekStatusQuery);
    assert.equal(final.agents.filter((a) => a.state === 'migrated').length, 10, JSON.stringify(final.agents));
    const records = await checkRecordsAgree(admins, final, 'splitproof');
    const undos = (await Promise.all(admins.map((a) => simulatorClient(a).actions()))).flat().filter((a) => a.action === 'undo-stage');
    assert.deepEqual(undos, [], 'nothing was rolled back');
    const delivery = await checkEventDelivery(client, nats);
    assert.deepEqual(delivery.lost, []);
    assert.deepEqual(delivery.duplicated, []);
    recordReliability({
      suite: 'partition',
      faultsInjected: 1,
      phasesFinished: 1,
      actionsChecked: records.actionsChecked,
      inputsRejected: 0,
      eventsLost: delivery.lost.length,
      detail: `mainpc-pc2 link cut ${(cutFor / 1000).toFixed(1)} s (netns ${link.ns}); paused with a level-2 alert ${(detectedMs / 1000).toFixed(1)} s after the cut; link reported back; resumed, 10 of 10 migrated, 0 undos`,
    });
    console.log(
      `partition: link cut ${(cutFor / 1000).toFixed(1)} s; failure detected ${(detectedMs / 1000).toFixed(1)} s after the cut (over 10 s after the last heartbeat heard); week paused, 0 undos; link back, resumed; 10 of 10 migrated; ${records.actionsChecked} actions checked; events ${delivery.asked} asked, ${delivery.stored} stored, 0 lost`,
    );
  });
});
