import { defineSignal, log } from '@temporalio/workflow';
import { deploymentSchemas } from './lazy-modules';
import type { DeployCalendar } from '../../decisions/calendar';

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

/**
 * The abort as it is passed on to a child (week or migration): only the request's own fields.
 * A recorded abort also carries when it came (`at`), which the child's check of the signal
 * refuses as an unknown field; a refused abort would leave the child running and its parent
 * waiting on it for ever.
 */
export function forwardedAbort(a: AbortRequest): AbortRequest {
  return { level: a.level, by: a.by, ...(a.reason !== undefined ? { reason: a.reason } : {}) };
}

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

/** A freeze of the line (workflows/line.ts): who, why, since when. */
export interface LineHold {
  by: string;
  reason: string;
  at: string;
}

/**
 * From the line to a phase, a phase to its week, a week to its migrations: the line is frozen
 * (`hold`) or open again (null). Held, nothing new starts; a resume does not lift it.
 */
export const lineHoldSignal = defineSignal<[{ hold: LineHold | null }]>('lineHold');

/** Why a lineHold signal's argument is malformed, or null. */
export function lineHoldProblem(arg: unknown): string | null {
  if (!isObject(arg) || !('hold' in arg)) return 'lineHold takes { hold: { by, reason, at } | null }';
  if (arg.hold === null) return null;
  if (!isObject(arg.hold)) return '"hold" must be an object or null';
  return text(arg.hold.by, 'hold.by', true) ?? text(arg.hold.reason, 'hold.reason', true) ?? text(arg.hold.at, 'hold.at', true);
}

/**
 * From the operator (`phasegate calendar apply`) to a phase, and a phase to its week: the
 * deployment's calendar as it is now (null: none), so that a freeze or a window added to
 * deployment.json reaches phases already running. Later weeks start with it too.
 */
export const calendarSignal = defineSignal<[{ calendar: DeployCalendar | null; by: string }]>('calendar');

/** Why a calendar signal's argument is malformed, or null (the calendar checked as deployment.json's is). */
export function calendarProblem(arg: unknown): string | null {
  if (!isObject(arg) || !('calendar' in arg)) return 'calendar takes { calendar: { timeZone, windows, freezes } | null, by }';
  const by = text(arg.by, 'by', true);
  if (by) return by;
  if (arg.calendar === null) return null;
  const r = deploymentSchemas().calendarSchema.safeParse(arg.calendar);
  return r.success ? null : r.error.issues.slice(0, 3).map((i) => `calendar.${i.path.join('.')}: ${i.message}`).join('; ');
}

/** A steering signal that was refused, kept in the workflow's status and sent as an event. */
export interface RejectedSignal {
  signal: string;
  reason: string;
  at: string;
}

const maxText = 2000;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, field: string, required: boolean): string | null => {
  if (v === undefined && !required) return null;
  if (typeof v !== 'string' || (required && v.trim() === '')) return `"${field}" must be ${required ? 'a non-empty' : 'a'} string`;
  if (v.length > maxText) return `"${field}" is ${v.length} characters; at most ${maxText}`;
  return null;
};

/**
 * Why a steering signal's argument is malformed, or null. Signals cannot be refused before
 * they reach the workflow (unlike updates), so each handler checks its argument first and a
 * malformed one is reported and ignored: never acted on, never a failed workflow task.
 */
export function steeringProblem(signal: 'pause' | 'resume' | 'abort' | 'machineUnreachable' | 'lineHold' | 'calendar', arg: unknown): string | null {
  if (signal === 'lineHold') return lineHoldProblem(arg);
  if (signal === 'calendar') return calendarProblem(arg);
  if (!isObject(arg)) return `${signal} takes an object, got ${arg === null ? 'null' : Array.isArray(arg) ? 'an array' : typeof arg}`;
  if (signal === 'machineUnreachable') {
    return (
      text(arg.machine, 'machine', true) ??
      text(arg.what, 'what', true) ??
      text(arg.workflowId, 'workflowId', true) ??
      (typeof arg.queueWaitMs === 'number' && Number.isFinite(arg.queueWaitMs) && arg.queueWaitMs >= 0 ? null : '"queueWaitMs" must be a number of milliseconds')
    );
  }
  const known = signal === 'abort' ? ['by', 'reason', 'level'] : signal === 'pause' ? ['by', 'reason'] : ['by'];
  const unknown = Object.keys(arg).filter((k) => !known.includes(k));
  if (unknown.length) return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')} (${signal} takes ${known.join(', ')})`;
  const problem = text(arg.by, 'by', true) ?? (signal === 'resume' ? null : text(arg.reason, 'reason', false));
  if (problem) return problem;
  if (signal === 'abort' && ![1, 2, 3].includes(arg.level as number)) return `"level" must be 1, 2 or 3, got ${JSON.stringify(arg.level)?.slice(0, 40)}`;
  return null;
}

/** For update validators: the argument must be an object before any field is read. */
export function requireObject(arg: unknown, what: string): void {
  if (!isObject(arg)) throw new Error(`${what} must be an object, got ${arg === null ? 'null' : Array.isArray(arg) ? 'an array' : typeof arg}`);
}

/** Keeps the last few refused signals for the status query. */
export function noteRejected(list: RejectedSignal[], signal: string, reason: string): RejectedSignal {
  const entry = { signal, reason, at: new Date().toISOString() };
  list.push(entry);
  if (list.length > 20) list.splice(0, list.length - 20);
  return entry;
}

/**
 * A check for a workflow's signal handlers: true (and the signal noted, logged and reported)
 * when the argument is malformed, so the handler returns without acting on it.
 */
export function signalRefuser(list: RejectedSignal[], report: (entry: RejectedSignal) => void) {
  return (signal: Parameters<typeof steeringProblem>[0], arg: unknown): boolean => {
    const problem = steeringProblem(signal, arg);
    if (!problem) return false;
    const entry = noteRejected(list, signal, problem);
    log.warn('malformed signal refused', { ...entry });
    report(entry);
    return true;
  };
}

/** Steering signals phasegate's workflows know; every other name is refused and recorded. */
const knownSignals = ['pause', 'resume', 'abort', 'machineUnreachable', 'lineHold', 'calendar', 'personNeeded', 'personAnswered', 'leaseHeld', 'leaseFreed', 'releaseLease', 'waitForLease'];

/**
 * For setDefaultSignalHandler: a signal whose name this workflow has no handler for (a typo,
 * `puase`) is refused and recorded like a malformed one, never buffered silently.
 */
export function unknownSignalRefuser(list: RejectedSignal[], report: (entry: RejectedSignal) => void) {
  return (name: string): void => {
    const reason = knownSignals.includes(name)
      ? `this workflow does not take "${name.slice(0, 60)}"`
      : `unknown signal "${name.slice(0, 60)}" (known: pause, resume, abort)`;
    const entry = noteRejected(list, name.slice(0, 60), reason);
    log.warn('unknown signal refused', { ...entry });
    report(entry);
  };
}
