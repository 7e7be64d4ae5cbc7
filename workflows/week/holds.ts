import { condition, upsertSearchAttributes } from '@temporalio/workflow';
import { retryOf, type MachineCallOptions, type MachineUnreachable } from '../lib/machine';
import { abortSignal, forwardedAbort, lineHoldSignal, pauseSignal, resumeSignal, type AbortRequest, type LineHold } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import type { WeekRun } from './run';

/**
 * What holds a week or stops it: an operator's pause and resume, an abort, a machine whose
 * worker takes no task. The link watch, which pauses the week for a silent link, is
 * link-watch.ts.
 */

/** Why a machine counts as unreachable when a step waited on its queue in vain. */
export const queueWaitExpired = (u: MachineUnreachable) => `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s`;

/** Thrown out of a hold for a lost machine when an abort ends the rollout meanwhile. */
export class AbortedWhileHeld extends Error {}

export async function pause(run: WeekRun, arg: { by: string; reason?: string }): Promise<void> {
  run.paused = true;
  run.status.pauseReason = `paused by ${arg.by}${arg.reason ? `: ${arg.reason}` : ''}`;
  run.notify.emit('week.paused', { ...arg });
  if (run.status.state === 'running') run.setState('paused');
  // Migrations in flight also hold, after their current stage.
  await run.signalRunning((h) => h.signal(pauseSignal, arg));
}


export async function resume(run: WeekRun, arg: { by: string }): Promise<void> {
  run.paused = false;
  run.status.pauseReason = null;
  run.status.unreachableMachines = [];
  run.notify.emit('week.resumed', { ...arg });
  if (run.status.state === 'paused') run.setState('running');
  await run.signalRunning((h) => h.signal(resumeSignal, arg));
}


/**
 * Stop the rollout. Running migrations are told to roll themselves back (level 1) and the
 * week waits for each of them to finish doing so; what they and the week leave applied is
 * undone afterwards as the level says (workflow.ts). A second abort at a higher level raises
 * the level while the week's own rollback has not begun (an operator who aborted at level 1
 * and then wants the week undone); otherwise an abort adds nothing: it is noted and ignored.
 */
export async function requestAbort(run: WeekRun, a: AbortRequest): Promise<void> {
  if (run.status.outcome) return;
  const rollingBack = run.status.rollback !== null && run.status.state === 'rolling-back';
  const current = run.status.abort;
  if (current && a.level > current.level && !rollingBack) {
    run.status.abort = { ...a, at: new Date().toISOString() };
    run.notify.alert(1, `${run.label}: abort raised to level ${a.level}`, `by ${a.by}${a.reason ? `: ${a.reason}` : ''} (was level ${current.level} by ${current.by})`);
    return;
  }
  if (current || rollingBack) {
    run.notify.emit('abort.ignored', { ...a, why: rollingBack ? 'the week is already rolling back' : `already aborted at level ${current!.level}` });
    return;
  }
  run.status.abort = { ...a, at: new Date().toISOString() };
  run.inFlightAtAbort = new Set(run.running.keys());
  run.notify.alert(1, `${run.label}: aborted at level ${a.level}`, `by ${a.by}${a.reason ? `: ${a.reason}` : ''}; ${run.running.size} migration(s) in flight roll themselves back`);
  run.interruptible.cancel();
  await run.signalRunning((h) => h.signal(abortSignal, forwardedAbort(a)));
}


/** Holds while paused or while the line is frozen; an abort ends the hold (the caller then checks `aborted`). */
export async function waitWhilePaused(run: WeekRun): Promise<void> {
  if (!run.held || run.aborted) return;
  run.setState('paused');
  await condition(() => !run.held || run.aborted);
  if (run.status.state === 'paused') run.setState('running');
}

/**
 * The line froze or opened again (workflows/line.ts, by way of the phase): recorded with who and
 * why, shown in the Web UI (PhasegateFrozen), sent as an event, and passed on to the running
 * migrations, which hold after their current stage. Only this lifts it; a resume does not.
 */
export async function lineChanged(run: WeekRun, hold: LineHold | null): Promise<void> {
  const was = run.status.line ?? null;
  if ((was === null) === (hold === null) && (!hold || (was?.at === hold.at))) return;
  run.status.line = hold;
  upsertSearchAttributes([{ key: searchAttributes.frozen, value: hold ? `${hold.by}: ${hold.reason}`.slice(0, 1000) : null }]);
  run.notify.emit(hold ? 'line.frozen' : 'line.opened', hold ? { ...hold } : {});
  if (!run.held && run.status.state === 'paused') run.setState('running');
  await forwardHold(run);
}

/** Passes what holds the week now (a freeze, a closed calendar, or nothing) to its running migrations, when it changed. */
export async function forwardHold(run: WeekRun): Promise<void> {
  const hold = run.hold;
  if (JSON.stringify(hold) === JSON.stringify(run.forwardedHold)) return;
  run.forwardedHold = hold;
  await run.signalRunning((h) => h.signal(lineHoldSignal, { hold }));
}


/**
 * A machine took no task in time (its worker stopped, or cut off from the server): pause the
 * whole week and page (level 2), once per machine. Migrations that need it hold where they
 * are, without a rollback that would itself need the machine; resume carries on.
 */
export async function machineLost(run: WeekRun, machine: string, why: string, data: Record<string, unknown> = {}, reportedBy?: string): Promise<void> {
  if (!run.status.unreachableMachines.includes(machine)) {
    run.status.unreachableMachines.push(machine);
    run.notify.alert(
      2,
      `${run.label}: machine ${machine} unreachable, week paused`,
      `${why}. Work that needs ${machine} holds where it is; nothing is rolled back (that would need ${machine} too). Bring it back, then resume.`,
      { machine, ...data },
    );
  }
  if (run.paused) return;
  run.paused = true;
  run.status.pauseReason = `machine ${run.status.unreachableMachines.join(', ')} unreachable; resume once it is back`;
  run.notify.emit('week.paused', { by: 'phasegate', reason: run.status.pauseReason });
  if (run.status.state === 'running') run.setState('paused');
  // The migration that reported the machine already holds; the others hold after their current stage.
  await run.signalRunning((h) => (h.workflowId === reportedBy ? Promise.resolve() : h.signal(pauseSignal, { by: 'phasegate', reason: run.status.pauseReason! })));
}

/** Machine calls of the rollout: a lost machine pauses the week; an abort ends the hold. */
export function rolloutMachine(run: WeekRun): MachineCallOptions {
  return {
    queueWaitMs: run.input.settings.timings.machineQueueWaitMs,
    whenUnreachable: async (u) => {
      await machineLost(run, u.machine, queueWaitExpired(u), { what: u.what });
      await condition(() => !run.paused || run.aborted);
      if (run.aborted) throw new AbortedWhileHeld(`aborted while ${u.machine} was unreachable`);
    },
  };
}


/** Machine calls of a rollback: a lost machine pauses the week, and only resume ends the hold. */
export function rollbackMachine(run: WeekRun): MachineCallOptions {
  return {
    queueWaitMs: run.input.settings.timings.machineQueueWaitMs,
    whenUnreachable: async (u) => {
      await machineLost(run, u.machine, queueWaitExpired(u), { what: u.what });
      await condition(() => !run.paused);
      run.setState('rolling-back');
    },
  };
}
