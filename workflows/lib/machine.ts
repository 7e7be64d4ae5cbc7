import type { ActivityOptions } from '@temporalio/workflow';
import { proxyActivities } from '@temporalio/workflow';
import type { MachineActivities } from '../../activities/machine';

/**
 * Activities on one machine's own task queue. If that machine's worker is gone, a task waits
 * on the queue for scheduleToStartTimeout and then fails naming the machine, so the rollout
 * can stop for a human instead of waiting silently.
 */
const machineQueueWait = '2 minutes';

const base = (machine: string): ActivityOptions => ({
  taskQueue: machine,
  scheduleToStartTimeout: machineQueueWait,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidRequest'] },
});

type Args<K extends keyof MachineActivities> = Parameters<MachineActivities[K]>;
type Result<K extends keyof MachineActivities> = Awaited<ReturnType<MachineActivities[K]>>;

/** Calls a machine activity with a summary that reads like a runbook line in the Web UI. */
export function onMachine(machine: string) {
  const proxy = proxyActivities<MachineActivities>(base(machine));
  const call = <K extends keyof MachineActivities>(name: K, summary: string, options: Partial<ActivityOptions>, ...args: Args<K>): Promise<Result<K>> =>
    (proxy[name] as unknown as { executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<Result<K>> }).executeWithOptions(
      { ...base(machine), ...options, summary },
      args,
    );
  return {
    runAction: (summary: string, ...args: Args<'runAction'>) =>
      // Actions heartbeat while their command runs, so a killed worker is noticed in seconds
      // and the retry (same idempotency key) lands on the restarted worker.
      call('runAction', summary, { startToCloseTimeout: '11 minutes', heartbeatTimeout: '5 seconds' }, ...args),
    runOperation: (summary: string, ...args: Args<'runOperation'>) =>
      call('runOperation', summary, { startToCloseTimeout: '11 minutes', heartbeatTimeout: '5 seconds' }, ...args),
    measureBaseline: (summary: string, ...args: Args<'measureBaseline'>) =>
      call('measureBaseline', summary, { startToCloseTimeout: args[0].samples * args[0].intervalMs + 60_000, heartbeatTimeout: '30 seconds' }, ...args),
    verifyWindow: (summary: string, ...args: Args<'verifyWindow'>) =>
      call('verifyWindow', summary, { startToCloseTimeout: args[0].durationMs + 120_000, heartbeatTimeout: '15 seconds' }, ...args),
    describeMachine: (summary: string) => call('describeMachine', summary, { startToCloseTimeout: '20 seconds' }),
    summarizeHeartbeats: (summary: string, ...args: Args<'summarizeHeartbeats'>) =>
      call('summarizeHeartbeats', summary, { startToCloseTimeout: args[0].maxWaitMs + 120_000, heartbeatTimeout: '30 seconds' }, ...args),
    probeAgent: (summary: string, ...args: Args<'probeAgent'>) => call('probeAgent', summary, { startToCloseTimeout: '30 seconds' }, ...args),
  };
}
