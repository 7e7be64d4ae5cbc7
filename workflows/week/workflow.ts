import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  patched,
  setDefaultSignalHandler,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseWorkflowInput } from '../../config/schema/workflow-inputs';
import { weekWorkflow as weekV1 } from '../legacy/v1/week';
import { refuseStepsUnknownToFleet } from '../lib/fleet-check-input';
import { runScopedPatch } from '../lib/patches';
import { personAnsweredSignal, personNeededSignal } from '../lib/person';
import { abortSignal, machineUnreachableSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, unknownSignalRefuser } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import { checkUndoResolution } from '../agent-migration/messages';
import { queueWaitExpired, WeekRun } from './context';
import { checkGateDecision, recordGateDecision, runGate, type GateEnd } from './gate';
import { decideGateUpdate, resolveWeekUndoUpdate, weekStatusQuery, type WeekInput, type WeekStatus } from './messages';
import { runStep } from './steps';

/**
 * Runs one week of a phase: its steps in order (steps/), migrations in batches, then the
 * go/no-go gate (gate.ts). A gate decided "rollback-week", a failure budget that says so, or
 * an abort at level 2 or 3 undoes every change of the week with the rollback engine; a
 * level-1 abort undoes what the migrations in flight left applied. Never closes while a
 * migration of its own is open.
 */
export async function weekWorkflow(given: WeekInput): Promise<WeekStatus> {
  // Histories begun before run-scoped ids and the rollback engine replay on the code that made them.
  if (!patched(runScopedPatch)) return weekV1(given as never) as unknown as Promise<WeekStatus>;
  const parsed = parseWorkflowInput('week', given);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`weekWorkflow input refused before any action: ${parsed.problem}`, 'InvalidInput');
  // A week its phase started was checked with the phase; one started by hand is checked here.
  if (!workflowInfo().parent) await refuseStepsUnknownToFleet('weekWorkflow', [parsed.value.week]);
  const run = new WeekRun(parsed.value as WeekInput);
  const { status, notify } = run;

  setHandler(weekStatusQuery, () => status);
  // A malformed or unknown signal is reported and ignored, never acted on.
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setDefaultSignalHandler(unknownSignalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry })));
  setHandler(pauseSignal, async (arg) => void (refused('pause', arg) || (await run.pause(arg))));
  setHandler(resumeSignal, async (arg) => void (refused('resume', arg) || (await run.resume(arg))));
  setHandler(abortSignal, async (arg) => void (refused('abort', arg) || (await run.requestAbort(arg))));
  setHandler(machineUnreachableSignal, async (u) => {
    if (refused('machineUnreachable', u)) return;
    const agent = status.agents.find((a) => a.workflowId === u.workflowId)?.agent;
    await run.machineLost(u.machine, queueWaitExpired(u), { what: u.what, ...(agent ? { agent } : {}) });
  });
  setHandler(personNeededSignal, (w) => run.persons.childNeeds(w));
  setHandler(personAnsweredSignal, (a) => run.persons.childAnswered(a));
  setHandler(decideGateUpdate, (d) => (recordGateDecision(run, d), status), { validator: (d) => checkGateDecision(run, d) });
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
  // Cancelling the week (the Temporal CLI or UI, or its phase closing) is an abort at level 1.
  CancellationScope.current().cancelRequested.catch(() => void run.requestAbort({ level: 1, by: 'temporal', reason: 'workflow cancellation requested' }));

  upsertSearchAttributes([
    { key: searchAttributes.phase, value: run.input.phase },
    { key: searchAttributes.week, value: run.input.week.id },
    { key: searchAttributes.status, value: 'running' },
  ]);
  upsertMemo({ summary: `${run.input.phase} / ${run.input.week.id}: ${run.input.week.title}` });

  return CancellationScope.nonCancellable(async () => {
    const end = await rollOut(run);
    let outcome: NonNullable<WeekStatus['outcome']> = end.kind === 'go' ? 'passed' : 'aborted';
    if (end.kind === 'rollback-week') {
      await run.rollBack(2, end.reason, [...status.applied]);
      outcome = 'rolled-back';
    } else if (end.kind === 'aborted') {
      const a = status.abort!;
      const why = `aborted at level ${a.level} by ${a.by}${a.reason ? `: ${a.reason}` : ''}`;
      if (a.level >= 2) {
        await run.rollBack(2, why, [...status.applied]);
      } else {
        // Level 1: the agents in flight. Each rolled itself back; one that finished migrating
        // before the abort reached it is undone here.
        const left = status.applied.filter((c) => c.kind === 'migration' && !c.acceptedAsIs && status.agents.some((p) => p.agent === c.agent && run.inFlightAtAbort.has(p.workflowId)));
        if (left.length) await run.rollBack(1, why, left);
      }
    }
    status.outcome = outcome;
    run.setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }, { key: searchAttributes.openGate, value: null }]);
    await notify.flush();
    await condition(allHandlersFinished);
    return status;
  });
}

/** The steps in order, then the gate; an abort stops at the next step boundary. */
async function rollOut(run: WeekRun): Promise<GateEnd> {
  for (const step of run.input.week.steps) {
    if (run.aborted) return { kind: 'aborted' };
    run.status.currentStep = step.id;
    await run.waitWhilePaused();
    if (run.aborted) return { kind: 'aborted' };
    run.notify.emit('step.started', { step: step.id, title: step.title });
    const end = await runStep(run, step);
    if (run.aborted) return { kind: 'aborted' };
    if (end) return end;
  }
  run.status.currentStep = null;
  if (run.aborted) return { kind: 'aborted' };
  return runGate(run);
}
