import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DefaultLogger, NativeConnection, Runtime, Worker, type InjectedSinks } from '@temporalio/worker';
import { temporalTarget } from '../../lib/temporal';
import { releaseLeaseSignal, waitForLeaseSignal } from '../../workflows/agent-lease';
import { startTestStack, type TestStack } from '../support/harness';
import type { LeaseRaceSinks } from '../support/lease-race/interceptors';
import { toldQuery } from '../support/lease-race/workflows';
import { until } from '../support/drills';

/**
 * The agent lease (workflows/agent-lease.ts) under the interleaving that used to strand a
 * migration: a second waiter asks for the lease after the lease was released and had already
 * told its waiters the agent is free. The test holds the lease's workflow task that sends
 * "leaseFreed" open (a sink the worker awaits) and signals the late waiter meanwhile, so the
 * late request is handled while the lease closes, every time. Told "held", the late waiter
 * would wait for a notice that never comes (a migration: its 10-minute guard); it must be told
 * "freed".
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

describe('agent lease: a waiter that asks while the lease closes', () => {
  let env: TestStack;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `lease-race-${randomBytes(3).toString('hex')}`;
  /** Set by the test: what to do when the lease sends "leaseFreed", while that task is open. */
  let onFreedSent: ((target: string) => Promise<void>) | null = null;

  before(async () => {
    env = await startTestStack({ startWorkers: false });
    connection = await NativeConnection.connect({ address: temporalTarget(env.config.deployment).address });
    const sinks: InjectedSinks<LeaseRaceSinks> = {
      leaseRace: {
        freedSent: {
          fn: async (_info, target) => {
            const act = onFreedSent;
            onFreedSent = null;
            if (act) await act(target);
          },
          callDuringReplay: false,
        },
      },
    };
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue,
      workflowsPath: require.resolve('../support/lease-race/workflows'),
      interceptors: { workflowModules: [require.resolve('../support/lease-race/interceptors')] },
      sinks,
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await env?.stop();
  });

  it('is told the agent is free, not that it is held, and the lease closes', async () => {
    const agent = `lease-race-agent-${randomBytes(2).toString('hex')}`;
    const leaseId = `lease.${agent}`;
    const start = (workflowId: string) => env.client.workflow.start('leaseWaiterProbeWorkflow', { taskQueue, workflowId, args: [] });
    const first = await start(`${leaseId}.waiter-1`);
    const late = await start(`${leaseId}.waiter-2`);
    const lease = await env.client.workflow.start('agentLeaseWorkflow', { taskQueue, workflowId: leaseId, args: [{ agent, holder: 'holder-migration', change: 'c1' }] });

    // The first waiter asks while the lease is held: told "held".
    await lease.signal(waitForLeaseSignal, { waiter: first.workflowId });
    await until('the first waiter told the lease is held', 20_000, async () => ((await first.query(toldQuery)).includes('leaseHeld') ? true : undefined));

    // The holder releases; as the lease tells its waiters the agent is free, the late waiter asks.
    let lateAskedWhileClosing = false;
    onFreedSent = async () => {
      await lease.signal(waitForLeaseSignal, { waiter: late.workflowId });
      lateAskedWhileClosing = true;
    };
    await lease.signal(releaseLeaseSignal);

    const timeout = <T>(p: Promise<T>, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not done within 30 s`)), 30_000))]);
    const closed = await timeout(lease.result(), 'the lease');
    assert.ok(lateAskedWhileClosing, 'the late request reached the lease while the task that tells the waiters was open');
    assert.deepEqual(await timeout(first.result(), 'the first waiter'), ['leaseHeld', 'leaseFreed']);
    const lateTold = await timeout(late.result(), 'the late waiter');
    assert.deepEqual(lateTold, ['leaseFreed'], 'the late waiter is told the agent is free and nothing else');
    assert.deepEqual(closed.waiters, [first.workflowId]);

    // What the history shows: the late request came after the first notice, and was answered "leaseFreed".
    const events = (await lease.fetchHistory()).events ?? [];
    const sent = events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes).map((e) => `${e.signalExternalWorkflowExecutionInitiatedEventAttributes!.signalName}->${e.signalExternalWorkflowExecutionInitiatedEventAttributes!.workflowExecution!.workflowId}`);
    assert.deepEqual(sent, [`leaseHeld->${first.workflowId}`, `leaseFreed->${first.workflowId}`, `leaseFreed->${late.workflowId}`]);
  });
});
