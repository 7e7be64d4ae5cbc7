import { CancellationScope, setDefaultSignalHandler, setHandler, workflowInfo } from '@temporalio/workflow';
import { checkUndoResolution } from '../agent-migration/messages';
import { personAnsweredSignal, personNeededSignal } from '../lib/person';
import { abortSignal, calendarSignal, lineHoldSignal, machineUnreachableSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, unknownSignalRefuser } from '../lib/steering';
import { calendarChanged } from './calendar';
import { checkGateDecision, gateDecisionCheck, recordGateDecision } from './gate';
import { lineChanged, machineLost, pause, queueWaitExpired, requestAbort, resume } from './holds';
import { decideGateUpdate, resolveWeekUndoUpdate, weekStatusQuery } from './messages';
import type { WeekRun } from './run';

/**
 * The week's query, signals and updates: steering from the operator (or its phase), reports
 * from its migrations (a lost machine, a wait for a person), the gate decision, the answer to
 * a failed undo of its own rollback. A malformed or unknown signal is refused and recorded.
 */
export function registerHandlers(run: WeekRun): void {
  const { status, notify } = run;
  setHandler(weekStatusQuery, () => status);
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setDefaultSignalHandler(unknownSignalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry })));
  setHandler(pauseSignal, async (arg) => void (refused('pause', arg) || (await pause(run, arg))));
  setHandler(resumeSignal, async (arg) => void (refused('resume', arg) || (await resume(run, arg))));
  setHandler(abortSignal, async (arg) => void (refused('abort', arg) || (await requestAbort(run, arg))));
  setHandler(machineUnreachableSignal, async (u) => {
    if (refused('machineUnreachable', u)) return;
    const agent = status.agents.find((a) => a.workflowId === u.workflowId)?.agent;
    await machineLost(run, u.machine, queueWaitExpired(u), { what: u.what, ...(agent ? { agent } : {}) }, u.workflowId);
  });
  setHandler(lineHoldSignal, async (arg) => void (refused('lineHold', arg) || (await lineChanged(run, arg.hold))));
  setHandler(calendarSignal, async (arg) => void (refused('calendar', arg) || (await calendarChanged(run, arg))));
  setHandler(personNeededSignal, (w) => run.persons.childNeeds(w));
  setHandler(personAnsweredSignal, (a) => run.persons.childAnswered(a));
  setHandler(decideGateUpdate, (d) => (recordGateDecision(run, d, gateDecisionCheck(run, d)), status), { validator: (d) => checkGateDecision(run, d) });
  setHandler(
    resolveWeekUndoUpdate,
    (r) => {
      run.pendingUndo = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (!status.waitingForPerson.some((w) => w.workflowId === workflowInfo().workflowId && (w.what === 'failed-undo' || w.what === 'read-back'))) {
          throw new Error(`week ${status.week} has no failed undo waiting for a person${status.waitingForPerson.length ? ` (its migrations do: resolve those on the migration, ${status.waitingForPerson[0]!.workflowId})` : ''}`);
        }
        checkUndoResolution(r);
      },
    },
  );
  // Cancelling the week (the Temporal CLI or UI, or its phase closing for good) is an abort at level 1.
  CancellationScope.current().cancelRequested.catch(() => void requestAbort(run, { level: 1, by: 'temporal', reason: 'workflow cancellation requested' }));
}
