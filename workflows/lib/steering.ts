import { defineSignal } from '@temporalio/workflow';

/** Stop the rollout: level 1 undoes the agents in flight, 2 also the whole week, 3 also every earlier week. */
export interface AbortRequest {
  level: 1 | 2 | 3;
  by: string;
  reason?: string;
}

/**
 * Hold: no new migration starts, and migrations in flight stop after their current stage.
 * The same signal steers a phase, a week and an agent's migration.
 */
export const pauseSignal = defineSignal<[{ by: string; reason?: string }]>('pause');
/** Carry on after a pause. */
export const resumeSignal = defineSignal<[{ by: string }]>('resume');
/** Stop the rollout and roll back to the given level (phase and week). */
export const abortSignal = defineSignal<[AbortRequest]>('abort');

/** A machine that took no task in time, as a migration tells its week. */
export interface MachineUnreachableReport {
  machine: string;
  /** The step that could not start there. */
  what: string;
  queueWaitMs: number;
  /** The migration that waits. */
  workflowId: string;
}

/** From a migration to its week: the machine is unreachable; the week pauses and raises a level-2 alert. */
export const machineUnreachableSignal = defineSignal<[MachineUnreachableReport]>('machineUnreachable');
