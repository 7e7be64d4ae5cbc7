import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, patched, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { weekWorkflow as weekV1 } from '../legacy/v1/week';
import { refuseStepsUnknownToFleet } from '../lib/fleet-check-input';
import { migrationWorkflowId } from '../lib/ids';
import { runScopedPatch } from '../lib/patches';
import { searchAttributes } from '../lib/visibility';
import { watchCalendar } from './calendar';
import { watchWeekDeadline } from './deadline';
import { runGate, type GateEnd } from './gate';
import { registerHandlers } from './handlers';
import { workflowInputs } from '../lib/lazy-modules';
import { waitWhilePaused } from './holds';
import type { WeekInput, WeekStatus } from './messages';
import { startNewRun } from './new-run';
import { rollBackWeek } from './rollback';
import { WeekRun } from './run';
import { runStep } from './steps';
import { publishAllAndSettle } from '../lib/notify';

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
  const parsed = workflowInputs().parseWorkflowInput('week', given);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`weekWorkflow input refused before any action: ${parsed.problem}`, 'InvalidInput');
  const run = new WeekRun(parsed.value as WeekInput);
  const { status, notify } = run;
  registerHandlers(run);
  // A week its phase started was checked with the phase; one started by hand is checked here (once, not again in a new run).
  if (!workflowInfo().parent && !run.input.resume) await refuseStepsUnknownToFleet('weekWorkflow', [parsed.value.week]);
  upsertSearchAttributes([
    { key: searchAttributes.phase, value: run.input.phase },
    { key: searchAttributes.week, value: run.input.week.id },
    { key: searchAttributes.status, value: 'running' },
  ]);
  upsertMemo({ summary: `${run.input.phase} / ${run.input.week.id}: ${run.input.week.title}` });
  watchWeekDeadline(run);
  watchCalendar(run);
  // Started while the line is frozen (its phase says so in the input): marked and held from the start.
  if (run.input.line && !run.input.resume) {
    upsertSearchAttributes([{ key: searchAttributes.frozen, value: `${run.input.line.by}: ${run.input.line.reason}`.slice(0, 1000) }]);
    notify.emit('line.frozen', { ...run.input.line });
  }

  return CancellationScope.nonCancellable(async () => {
    const rolledOut = await rollOut(run);
    if (rolledOut.kind === 'new-run') return startNewRun(run, rolledOut);
    // A gate decided "go" and an abort in the same workflow task: the abort wins, since the
    // operator who sent it expects the week undone, not passed.
    const end: GateEnd = rolledOut.kind === 'go' && run.aborted ? { kind: 'aborted' } : rolledOut;
    let outcome: NonNullable<WeekStatus['outcome']> = end.kind === 'go' ? 'passed' : 'aborted';
    if (end.kind === 'rollback-week') {
      await rollBackWeek(run, 2, end.reason, [...status.applied]);
      outcome = 'rolled-back';
    } else if (end.kind === 'aborted') {
      const a = status.abort!;
      const why = `aborted at level ${a.level} by ${a.by}${a.reason ? `: ${a.reason}` : ''}`;
      if (a.level >= 2) {
        await rollBackWeek(run, 2, why, [...status.applied]);
      } else {
        // Level 1: the agents in flight. Each rolled itself back; one that finished migrating
        // before the abort reached it is undone here.
        const weekId = workflowInfo().workflowId;
        const left = status.applied.filter((c) => c.kind === 'migration' && !c.acceptedAsIs && run.inFlightAtAbort.has(migrationWorkflowId(weekId, c.agent, c.change)));
        if (left.length) await rollBackWeek(run, 1, why, left);
      }
    }
    status.outcome = outcome;
    if (status.history) status.history.largestRunEvents = Math.max(status.history.largestRunEvents, workflowInfo().historyLength);
    run.setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }, { key: searchAttributes.openGate, value: null }]);
    await publishAllAndSettle(notify);
    return status;
  });
}

/**
 * The steps in order, then the gate; an abort stops at the next step boundary. A new run of
 * the week starts at the step and round the last run handed over (new-run.ts).
 */
async function rollOut(run: WeekRun): Promise<GateEnd | { kind: 'new-run'; step: number; round: number; failedInBatch: number }> {
  const resume = run.input.resume;
  const steps = run.input.week.steps;
  for (let si = resume?.step ?? 0; si < steps.length; si++) {
    const step = steps[si]!;
    const from = resume && si === resume.step ? { round: resume.round, failedInBatch: resume.failedInBatch } : null;
    if (run.aborted) return { kind: 'aborted' };
    run.status.currentStep = step.id;
    if (!from) {
      await waitWhilePaused(run);
      if (run.aborted) return { kind: 'aborted' };
      run.notify.emit('step.started', { step: step.id, title: step.title });
    }
    const end = await runStep(run, step, from);
    if (run.aborted) return { kind: 'aborted' };
    if (end?.kind === 'new-run') return { ...end, step: si };
    if (end) return end;
  }
  run.status.currentStep = null;
  if (run.aborted) return { kind: 'aborted' };
  return runGate(run);
}
