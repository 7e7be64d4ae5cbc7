import type { ActivityOptions } from '@temporalio/workflow';
import { ActivityCancellationType, ActivityFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { MachineActivities } from '../../activities/machine';
import { machineTaskQueue } from '../../config/task-queues';

/**
 * Activities on one machine's own task queue. If that machine's worker is gone (stopped, or
 * cut off from the Temporal server), a task waits on the queue for this long and then fails
 * with a schedule-to-start timeout: the machine is unreachable, which is not the same as an
 * action that failed on it.
 */
export const defaultMachineQueueWaitMs = 2 * 60_000;

/** What a caller is told when no worker of the machine took a task in time. */
export interface MachineUnreachable {
  machine: string;
  /** The summary of the activity no worker took. */
  what: string;
  queueWaitMs: number;
}

export interface MachineCallOptions {
  queueWaitMs?: number;
  /**
   * Called when the machine is unreachable; the call is tried again (same arguments, so the
   * same idempotency key) once the returned promise resolves. Without it the failure is thrown.
   */
  whenUnreachable?: (u: MachineUnreachable) => Promise<void>;
  /** How often a failed command is tried before it counts as failed (the plan's timings; default 5, backoff up to 20 s). */
  retry?: { maximumAttempts?: number; maximumIntervalMs?: number };
}

/** The retry of machine calls as a plan's timings say. */
export const retryOf = (t: { actionAttempts?: number; actionRetryMaxIntervalMs?: number }): NonNullable<MachineCallOptions['retry']> => ({
  ...(t.actionAttempts !== undefined ? { maximumAttempts: t.actionAttempts } : {}),
  ...(t.actionRetryMaxIntervalMs !== undefined ? { maximumIntervalMs: t.actionRetryMaxIntervalMs } : {}),
});

/** A schedule-to-start timeout: no worker of the task queue took the task in time. */
export function isMachineUnreachable(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
}

const base = (machine: string, queueWaitMs: number, retry: MachineCallOptions['retry'] = {}): ActivityOptions => {
  const maximumIntervalMs = retry.maximumIntervalMs ?? 20_000;
  return {
    taskQueue: machineTaskQueue(machine),
    scheduleToStartTimeout: queueWaitMs,
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: Math.min(1000, maximumIntervalMs), backoffCoefficient: 2, maximumInterval: maximumIntervalMs, maximumAttempts: retry.maximumAttempts ?? 5, nonRetryableErrorTypes: ['InvalidRequest'] },
  };
};

type Args<K extends keyof MachineActivities> = Parameters<MachineActivities[K]>;
type Result<K extends keyof MachineActivities> = Awaited<ReturnType<MachineActivities[K]>>;

/** Calls a machine activity with a summary that reads like a runbook line in the Web UI. */
export function onMachine(machine: string, opts: MachineCallOptions = {}) {
  const queueWaitMs = opts.queueWaitMs ?? defaultMachineQueueWaitMs;
  const proxy = proxyActivities<MachineActivities>(base(machine, queueWaitMs, opts.retry));
  const call = async <K extends keyof MachineActivities>(name: K, summary: string, options: Partial<ActivityOptions>, ...args: Args<K>): Promise<Result<K>> => {
    for (;;) {
      try {
        return await (proxy[name] as unknown as { executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<Result<K>> }).executeWithOptions(
          { ...base(machine, queueWaitMs, opts.retry), ...options, summary },
          args,
        );
      } catch (err) {
        if (!opts.whenUnreachable || !isMachineUnreachable(err)) throw err;
        await opts.whenUnreachable({ machine, what: summary, queueWaitMs });
      }
    }
  };
  /**
   * Actions heartbeat while their command runs, so a killed worker is noticed in seconds and
   * the retry (same idempotency key) lands on the restarted worker. A cancelled action is
   * waited for until its command's process group is gone (the activity reports that), so an
   * undo never starts while the command it undoes could still take effect.
   */
  const command: Partial<ActivityOptions> = { startToCloseTimeout: '11 minutes', heartbeatTimeout: '5 seconds', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
  return {
    runAction: (summary: string, ...args: Args<'runAction'>) => call('runAction', summary, command, ...args),
    /** Several actions in turn in one activity; each command has its own catalogue timeout, so the activity gets three commands' worth. */
    runActions: (summary: string, ...args: Args<'runActions'>) => call('runActions', summary, { ...command, startToCloseTimeout: '33 minutes' }, ...args),
    runOperation: (summary: string, ...args: Args<'runOperation'>) => call('runOperation', summary, command, ...args),
    readMarkers: (summary: string, ...args: Args<'readMarkers'>) => call('readMarkers', summary, command, ...args),
    /** The markers' commands (as readMarkers), then the baseline's samples. */
    prepareMigration: (summary: string, ...args: Args<'prepareMigration'>) =>
      call('prepareMigration', summary, { startToCloseTimeout: args[0].samples * args[0].intervalMs + 60_000 + 11 * 60_000, heartbeatTimeout: '30 seconds' }, ...args),
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
