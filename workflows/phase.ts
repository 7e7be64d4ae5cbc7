import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  defineQuery,
  defineUpdate,
  ParentClosePolicy,
  patched,
  setDefaultSignalHandler,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { defaultRollbackUndosAtOncePerMachine, historyDefaults } from '../config/schema/plan-defaults';
import { workflowInputs } from './lib/lazy-modules';
import { checkUndoResolution } from './agent-migration/messages';
import { phaseWorkflow as phaseV1 } from './legacy/v1/phase';
import { refuseStepsUnknownToFleet } from './lib/fleet-check-input';
import { runKey, weekWorkflowId } from './lib/ids';
import { retryOf, type MachineCallOptions } from './lib/machine';
import type { PlanSettings } from './lib/migration-input';
import { countWideRollback } from './lib/metrics';
import { Notifier, publishAllAndSettle } from './lib/notify';
import { joinLinePatch, rollbackInChildrenPatch, runScopedPatch, signedUnlessUnsignedPatch } from './lib/patches';
import { lineWorkflowId, registerPhaseSignal } from './line';
import { personAnsweredSignal, personNeededSignal, PersonWaits, type PersonWait } from './lib/person';
import { abortSignal, calendarSignal, forwardedAbort, lineHoldSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, unknownSignalRefuser, type AbortRequest, type LineHold, type RejectedSignal } from './lib/steering';
import { searchAttributes } from './lib/visibility';
import { undoInChildren } from './rollback/children';
import { leftAfter, newRollbackRecord, rollBack, type AppliedChange, type RollbackRecord, type UndoResolution } from './rollback/engine';
import { weekWorkflow, type WeekInput, type WeekStatus } from './week';

export { weekWorkflowId } from './lib/ids';

/** Input of phaseWorkflow, version 1: a validated plan with each migrate step's agents selected. */
export interface PhaseInput {
  version: 1;
  phase: string;
  title: string;
  settings: PlanSettings;
  weeks: Array<WeekInput['week']>;
  autoApproveGates?: { by: string };
  gateReminderMs?: number;
}

export interface PhaseStatus {
  phase: string;
  title: string;
  state: 'running' | 'paused' | 'rolling-back' | 'done';
  /** Set while an operator holds the phase. */
  paused: { by: string; reason?: string } | null;
  /** The line's freeze while it holds (workflows/line.ts); a resume does not lift it. */
  line?: LineHold | null;
  currentWeek: string | null;
  weeks: Array<{ id: string; title: string; workflowId: string; outcome: WeekStatus['outcome'] | 'not-started' | 'running' | 'failed' }>;
  /** Every change the phase's weeks applied that is still in place (a person may have accepted some half-undone). */
  applied: AppliedChange[];
  abort: (AbortRequest & { at: string }) | null;
  /** The level-3 rollback (rollback/engine.ts), once one started. */
  rollback: RollbackRecord | null;
  /** Every wait for a person in the phase (its weeks' and migrations', and its own), with the command that resolves it. */
  waitingForPerson: PersonWait[];
  /** Machines the phase rollback found unreachable; it holds until resumed. */
  unreachableMachines: string[];
  /** Malformed or unknown steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  outcome: 'completed' | 'stopped' | 'aborted' | null;
}

/** Weeks done and the one running; the running week's own status query has the detail. */
export const phaseStatusQuery = defineQuery<PhaseStatus>('status');
/** Resolve a failed undo of the phase's own rollback (validated: only while one waits). */
export const resolvePhaseUndoUpdate = defineUpdate<PhaseStatus, [UndoResolution]>('resolveFailedUndo');

/**
 * Runs the weeks of a phase in order, each as a child workflow that ends at its go/no-go
 * gate. Pause, resume and abort are passed on to the running week and never fail the phase;
 * an abort at level 3 then undoes every change of the phase's earlier weeks with the rollback
 * engine, newest first.
 */
export async function phaseWorkflow(given: PhaseInput): Promise<PhaseStatus> {
  // Histories begun before run-scoped ids and the rollback engine replay on the code that made them.
  if (!patched(runScopedPatch)) return phaseV1(given as never) as unknown as Promise<PhaseStatus>;
  const inputs = workflowInputs();
  const parsed = inputs.parseWorkflowInput('phase', given);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`phaseWorkflow input refused before any action: ${parsed.problem}`, 'InvalidInput');
  const input = parsed.value as PhaseInput;
  // Asked only when the input breaks the rule, so other histories carry no marker.
  const autoApproval = inputs.autoApprovalProblem(input);
  if (autoApproval && patched(signedUnlessUnsignedPatch)) throw ApplicationFailure.nonRetryable(`phaseWorkflow input refused before any action: ${autoApproval}`, 'InvalidInput');
  const phaseId = workflowInfo().workflowId;
  const notify = new Notifier({ phase: input.phase });
  const status: PhaseStatus = {
    phase: input.phase,
    title: input.title,
    state: 'running',
    paused: null,
    currentWeek: null,
    weeks: input.weeks.map((w) => ({ id: w.id, title: w.title, workflowId: weekWorkflowId(phaseId, w.id), outcome: 'not-started' })),
    applied: [],
    abort: null,
    rollback: null,
    waitingForPerson: [],
    unreachableMachines: [],
    rejectedSignals: [],
    outcome: null,
  };
  const persons = new PersonWaits(status.waitingForPerson);
  let current: ChildWorkflowHandle<typeof weekWorkflow> | null = null;
  let pendingUndo: UndoResolution | null = null;
  /** Passed on to the running week; a week that closed meanwhile is no error. */
  const toWeek = async (send: (w: ChildWorkflowHandle<typeof weekWorkflow>) => Promise<void>) => {
    if (current) await send(current).catch(() => undefined);
  };
  const setState = (state: PhaseStatus['state']) => {
    status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  };
  setHandler(phaseStatusQuery, () => status);
  // Steering the phase steers the week that is running. A malformed or unknown signal is
  // reported and ignored, never passed on to the week.
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setDefaultSignalHandler(unknownSignalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry })));
  setHandler(pauseSignal, async (arg) => {
    if (refused('pause', arg)) return;
    status.paused = arg;
    await toWeek((w) => w.signal(pauseSignal, arg));
  });
  setHandler(resumeSignal, async (arg) => {
    if (refused('resume', arg)) return;
    status.paused = null;
    status.unreachableMachines = [];
    if (status.state === 'paused') setState('rolling-back');
    await toWeek((w) => w.signal(resumeSignal, arg));
  });
  const abort = async (arg: AbortRequest) => {
    // A later abort may raise the level (1, then 3 once the operator wants the phase undone) until the phase has its outcome.
    if (status.outcome || (status.abort && arg.level <= status.abort.level)) return;
    status.abort = { ...arg, at: new Date().toISOString() };
    await toWeek((w) => w.signal(abortSignal, forwardedAbort(arg)));
  };
  setHandler(abortSignal, async (arg) => void (refused('abort', arg) || (await abort(arg))));
  // A freeze of the line (line.ts): recorded, passed on to the running week; only unfreeze lifts it.
  setHandler(lineHoldSignal, async (arg) => {
    if (refused('lineHold', arg)) return;
    status.line = arg.hold;
    upsertSearchAttributes([{ key: searchAttributes.frozen, value: arg.hold ? `${arg.hold.by}: ${arg.hold.reason}`.slice(0, 1000) : null }]);
    await toWeek((w) => w.signal(lineHoldSignal, arg));
  });
  // The deployment's calendar as it is now (phasegate calendar apply): kept for the weeks to
  // come, passed on to the running one.
  let calendarChanges = 0;
  /** The week the latest change was sent to, so that a week that got it as it started is not sent it twice. */
  let calendarSentTo: { week: ChildWorkflowHandle<typeof weekWorkflow>; change: number } | null = null;
  setHandler(calendarSignal, async (arg) => {
    if (refused('calendar', arg)) return;
    if (arg.calendar) input.settings.calendar = arg.calendar;
    else delete input.settings.calendar;
    calendarChanges++;
    notify.emit('calendar.changed', { by: arg.by, calendar: arg.calendar });
    if (current) calendarSentTo = { week: current, change: calendarChanges };
    await toWeek((w) => w.signal(calendarSignal, arg));
  });
  setHandler(personNeededSignal, (w) => persons.childNeeds(w));
  setHandler(personAnsweredSignal, (a) => persons.childAnswered(a));
  setHandler(
    resolvePhaseUndoUpdate,
    (r) => {
      pendingUndo = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (!status.waitingForPerson.some((w) => w.workflowId === phaseId && (w.what === 'failed-undo' || w.what === 'read-back'))) {
          throw new Error(`phase ${input.phase} has no failed undo of its own waiting for a person${status.waitingForPerson.length ? ` (resolve the one listed on ${status.waitingForPerson[0]!.workflowId})` : ''}`);
        }
        checkUndoResolution(r);
      },
    },
  );
  // Cancelling the phase (the Temporal CLI or UI) is an abort at level 1 of its running week.
  CancellationScope.current().cancelRequested.catch(() => void abort({ level: 1, by: 'temporal', reason: 'workflow cancellation requested' }));

  /**
   * Level 3: every week of the phase back to the configuration before the phase, newest first.
   * A machine that takes no task holds it (level-2 alert; resume once it is back).
   */
  async function rollBackPhase(a: AbortRequest): Promise<void> {
    const record = newRollbackRecord(3, `abort at level 3 by ${a.by}${a.reason ? `: ${a.reason}` : ''}`);
    status.rollback = record;
    setState('rolling-back');
    countWideRollback(3);
    const changes = [...status.applied];
    const machine: MachineCallOptions = {
      queueWaitMs: input.settings.timings.machineQueueWaitMs,
      retry: retryOf(input.settings.timings),
      whenUnreachable: async (u) => {
        if (!status.unreachableMachines.includes(u.machine)) {
          status.unreachableMachines.push(u.machine);
          notify.alert(2, `${input.phase}: machine ${u.machine} unreachable, phase rollback holds`, `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s. Bring it back, then resume the phase.`, { machine: u.machine });
        }
        status.paused = { by: 'phasegate', reason: `machine ${u.machine} unreachable during the phase rollback` };
        setState('paused');
        await condition(() => status.paused === null);
      },
    };
    // The undos in child workflows, machines at once (workflows/rollback/children.ts).
    const runner = patched(rollbackInChildrenPatch)
      ? undoInChildren({ idPrefix: `${workflowInfo().workflowId}.rollback3`, perChild: input.settings.history?.undosPerChild ?? historyDefaults.undosPerChild, atOncePerMachine: input.settings.timings.rollbackUndosAtOncePerMachine ?? defaultRollbackUndosAtOncePerMachine, phase: input.phase })
      : undefined;
    await rollBack(
      changes,
      {
        level: 3,
        reason: record.reason,
        label: input.phase,
        keyPrefix: runKey('level3-rollback'),
        responseThresholdMs: input.settings.thresholds.responseTimeMs,
        notify,
        machine,
        askPerson: async (p) => {
          pendingUndo = null;
          const agent = p.change.kind === 'migration' ? p.change.agent : undefined;
          return persons.wait({ ...(agent ? { agent } : {}), machine: p.change.machine, what: p.kind, detail: p.error }, () => pendingUndo);
        },
      },
      record,
      runner,
    );
    status.applied = leftAfter(changes, record);
  }

  // Its steps against the fleet's configuration, before any action (the query answers meanwhile).
  await refuseStepsUnknownToFleet('phaseWorkflow', input.weeks);
  upsertSearchAttributes([{ key: searchAttributes.phase, value: input.phase }, { key: searchAttributes.status, value: 'running' }]);
  upsertMemo({ summary: `${input.phase}: ${input.title} (${input.weeks.length} weeks)` });
  notify.emit('phase.started', { weeks: input.weeks.map((w) => w.id) });
  // Join the line, so that a freeze reaches this phase; no line yet means no freeze.
  // The line answers at once with its state; a phase started while frozen holds before its first week does anything.
  if (patched(joinLinePatch)) {
    const joined = await getExternalWorkflowHandle(lineWorkflowId)
      .signal(registerPhaseSignal, { workflowId: phaseId })
      .then(() => true)
      .catch(() => false);
    if (joined) await condition(() => status.line !== undefined, 30_000);
  }

  return CancellationScope.nonCancellable(async () => {
    for (const [i, week] of input.weeks.entries()) {
      if (status.abort) break;
      const entry = status.weeks[i]!;
      status.currentWeek = week.id;
      entry.outcome = 'running';
      upsertSearchAttributes([{ key: searchAttributes.week, value: week.id }]);
      const calendarSeen = calendarChanges;
      try {
        current = await startChild(weekWorkflow, {
          workflowId: entry.workflowId,
          args: [
            {
              version: 1,
              phase: input.phase,
              week,
              settings: input.settings,
              ...(input.autoApproveGates ? { autoApproveGate: input.autoApproveGates } : {}),
              ...(input.gateReminderMs ? { gateReminderMs: input.gateReminderMs } : {}),
              ...(status.line ? { line: status.line } : {}),
            },
          ],
          // A phase closed for good (terminated) cancels its week, which takes that as an abort.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
      } catch (err) {
        entry.outcome = 'failed';
        notify.alert(2, `${input.phase}: ${week.id} could not start`, String(err));
        status.outcome = 'stopped';
        break;
      }
      // Steering that came while the week was starting reaches it now.
      if (status.paused) await current.signal(pauseSignal, status.paused).catch(() => undefined);
      if (status.line) await current.signal(lineHoldSignal, { hold: status.line }).catch(() => undefined);
      const calendarReached = calendarSentTo?.week === current && calendarSentTo.change === calendarChanges;
      if (calendarChanges !== calendarSeen && !calendarReached) await current.signal(calendarSignal, { calendar: input.settings.calendar ?? null, by: 'phasegate' }).catch(() => undefined);
      if (status.abort) await current.signal(abortSignal, forwardedAbort(status.abort)).catch(() => undefined);
      let result: WeekStatus | null = null;
      try {
        result = await current.result();
      } catch (err) {
        notify.alert(2, `${input.phase}: ${week.id} ended without a result`, `${String(err)}; what it applied is not known to the phase`);
      }
      current = null;
      entry.outcome = result?.outcome ?? 'failed';
      // What the week left applied: all of it if it passed, what a person accepted if it rolled back.
      if (result) status.applied.push(...result.applied);
      // A level-3 abort sent to the week itself (`phasegate abort <week> --level 3`) is the
      // phase's: its earlier weeks are undone too, as level 3 says.
      if (result?.outcome === 'aborted' && result.abort?.level === 3 && !status.abort) status.abort = { ...result.abort };
      if (result?.outcome !== 'passed') {
        status.outcome = result?.outcome === 'aborted' ? 'aborted' : 'stopped';
        break;
      }
    }
    if (status.abort) {
      status.outcome = 'aborted';
      if (status.abort.level === 3) await rollBackPhase(status.abort);
    }
    status.currentWeek = null;
    status.state = 'done';
    status.outcome ??= 'completed';
    upsertSearchAttributes([{ key: searchAttributes.status, value: 'done' }, { key: searchAttributes.outcome, value: status.outcome }]);
    notify.emit(`phase.${status.outcome}`, { weeks: status.weeks.map((w) => ({ id: w.id, outcome: w.outcome })) });
    await publishAllAndSettle(notify);
    return status;
  });
}
