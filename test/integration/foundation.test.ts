import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AckPolicy, DeliverPolicy } from 'nats';
import { toolPath } from '../../lib/paths';
import { streams } from '../../lib/nats';
import { fleetCheckWorkflow } from '../../workflows/fleet-check';
import { isAlive, simulatorClient, startTestStack, type TestStack } from '../support/harness';

const run = promisify(execFile);

describe('foundation: real dev server, NATS JetStream, per-machine workers, simulated fleet', () => {
  let env: TestStack;
  const pids: number[] = [];

  before(async () => {
    env = await startTestStack();
    for (const p of env.stack.processes.values()) pids.push(p.child.pid!);
  });

  after(async () => {
    await env?.stop();
  });

  it('runs one activity on the mainpc queue and one on the pc2 queue, served by two worker processes', async () => {
    const handle = await env.client.workflow.start(fleetCheckWorkflow, {
      taskQueue: env.config.deployment.controlTaskQueue,
      workflowId: `fleet-check-${Date.now()}`,
      args: [{ machines: ['mainpc', 'pc2'] }],
    });
    const result = await handle.result();
    assert.deepEqual(result.machines.map((m) => m.machine), ['mainpc', 'pc2']);
    const [mainpc, pc2] = result.machines;
    assert.equal(mainpc!.pid, env.stack.processes.get('worker-mainpc')!.child.pid);
    assert.equal(pc2!.pid, env.stack.processes.get('worker-pc2')!.child.pid);
    assert.notEqual(mainpc!.pid, pc2!.pid);
    assert.equal(mainpc!.agents, 37);
    assert.equal(pc2!.agents, 40);

    // The workflow's event is in the JetStream stream; read it back by its sequence.
    const jsm = await env.nats.jetstreamManager();
    const msg = await jsm.streams.getMessage(streams.events.name, { seq: result.event.seq });
    const event = msg.json<{ kind: string; workflowId: string }>();
    assert.equal(event.kind, 'fleet-check.completed');
    assert.equal(event.workflowId, handle.workflowId);

    // And the run is visible to the `temporal` CLI an operator would use.
    const { stdout } = await run(toolPath('temporal'), [
      'workflow', 'list', '--address', `127.0.0.1:${(env.config.deployment.temporal as { port: number }).port}`, '--output', 'json',
    ]);
    assert.match(stdout, new RegExp(handle.workflowId));
  });

  it('the simulator serves a real health endpoint per agent and publishes heartbeats to JetStream', async () => {
    const inv = env.config.inventory;
    const agent = inv.agents.find((a) => a.name === 'tutoring_agent')!;
    const host = inv.machines.find((m) => m.name === agent.machine)!.host;
    const res = await fetch(`http://${host}:${agent.healthPort}/health`);
    const body = (await res.json()) as { version: string; activeHub: string };
    assert.equal(res.status, 200);
    assert.equal(body.version, '1.0.0');
    assert.equal(body.activeHub, 'EdgeHub');

    const js = env.nats.jetstream();
    const jsm = await env.nats.jetstreamManager();
    await jsm.consumers.add(streams.heartbeats.name, { durable_name: 'foundation-test', ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: 'fleet.heartbeat.pc2.tutoring_agent' });
    const consumer = await js.consumers.get(streams.heartbeats.name, 'foundation-test');
    const hb = await consumer.next({ expires: 5000 });
    assert.ok(hb, 'a heartbeat of tutoring_agent arrived');
    const body2 = hb.json<{ kind: string; name: string; hub: string; seq: number }>();
    assert.equal(body2.kind, 'agent');
    assert.equal(body2.name, 'tutoring_agent');
    assert.equal(body2.hub, 'EdgeHub');
    assert.ok(body2.seq >= 1);
  });

  it('an action through the simulator changes the agent and is recorded with its idempotency key', async () => {
    const sim = simulatorClient(env.simulatorAdmin);
    const post = (key: string) =>
      fetch(`${env.simulatorAdmin}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'apply-stage', agent: 'ChitchatAgent', change: 'probe', stage: 1, key }),
      });
    assert.equal((await post('k-1')).status, 200);
    assert.equal((await post('k-1')).status, 200);
    const records = await sim.actions('ChitchatAgent');
    assert.deepEqual(records.map((r) => r.outcome), ['applied', 'duplicate-key']);
    assert.deepEqual((await sim.agent('ChitchatAgent')).changes, { probe: [1] });
  });

  it('leaves no server or worker process behind when stopped', async () => {
    await env.stop();
    assert.ok(pids.length >= 6, `started ${pids.length} processes`);
    for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} is gone`);
  });
});
