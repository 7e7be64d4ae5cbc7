import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  getExternalWorkflowHandle,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { PlanSettings } from './lib/migration-input';
import { countWideRollback } from '../../lib/metrics';
import { Notifier } from '../../lib/notify';
import { appliedName, undoChanges, type AppliedChange } from './lib/undo';
import { searchAttributes } from '../../lib/visibility';
import { abortSignal, pauseSignal, resumeSignal, signalRefuser, type AbortRequest, type RejectedSignal } from '../../lib/steering';
import { weekWorkflow, type WeekInput, type WeekStatus } from './week';

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
  state: 'running' | 'done';
  /** Set while an operator holds the phase. */
  paused: { by: string; reason?: string } | null;
  currentWeek: string | null;
  weeks: Array<{ id: string; title: string; workflowId: string; outcome: WeekStatus['outcome'] | 'not-started' | 'running' }>;
  /** Every change the phase's passed weeks applied and that is still in place. */
  applied: AppliedChange[];
  abort: (AbortRequest & { at: string }) | null;
  rollback: { level: 3; startedAt: string; finishedAt?: string; durationMs?: number; budgetMs: number; withinBudget?: boolean; undone: string[]; unhealthyAfter: string[] } | null;
  /** Malformed steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  outcome: 'completed' | 'stopped' | 'aborted' | null;
}

/** Weeks done and the one running; the running week's own status query has the detail. */
export const phaseStatusQuery = defineQuery<PhaseStatus>('status');

const phaseRollbackBudgetMs = 5 * 60_000;

/** Workflow id of a week: readable, under its phase. */
export const weekWorkflowId = (phaseWorkflowId: string, week: string) => `${phaseWorkflowId}.${week}`;

/** Runs the weeks of a phase in order, each as a child workflow that ends at its go/no-go gate. */
export async function phaseWorkflow(input: PhaseInput): Promise<PhaseStatus> {
  if (input.version !== 1) throw ApplicationFailure.nonRetryable(`unsupported input version ${String(input.version)}`, 'InvalidInput');
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
    rejectedSignals: [],
    outcome: null,
  };
  let current: ChildWorkflowHandle<typeof weekWorkflow> | null = null;
  /** A pause holds for the phase: a week that starts while paused starts paused. */
  let pause: { by: string; reason?: string } | null = null;
  setHandler(phaseStatusQuery, () => status);
  // Steering the phase steers the week that is running.
  /** A malformed signal is reported and ignored, never passed on to the week. */
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setHandler(pauseSignal, async (arg) => {
    if (refused('pause', arg)) return;
    pause = arg;
    status.paused = arg;
    if (current) await getExternalWorkflowHandle(current.workflowId).signal(pauseSignal, arg);
  });
  setHandler(resumeSignal, async (arg) => {
    if (refused('resume', arg)) return;
    pause = null;
    status.paused = null;
    if (current) await getExternalWorkflowHandle(current.workflowId).signal(resumeSignal, arg);
  });
  setHandler(abortSignal, async (arg) => {
    if (refused('abort', arg) || status.abort || status.outcome) return;
    status.abort = { ...arg, at: new Date().toISOString() };
    if (current) await getExternalWorkflowHandle(current.workflowId).signal(abortSignal, arg);
  });
  /** Level 3: every week of the phase back to the configuration before the phase, newest first. */
  async function rollBackPhase(abort: AbortRequest): Promise<void> {
    const started = Date.now();
    const record: NonNullable<PhaseStatus['rollback']> = { level: 3, startedAt: new Date(started).toISOString(), budgetMs: phaseRollbackBudgetMs, undone: [], unhealthyAfter: [] };
    status.rollback = record;
    countWideRollback(3);
    notify.alert(2, `${input.phase}: phase rollback`, `level 3 by ${abort.by}${abort.reason ? `: ${abort.reason}` : ''}; undoing ${status.applied.length} changes`);
    await undoChanges(status.applied, 'phase', phaseId, input.settings.thresholds.responseTimeMs, (c, healthy) => {
      record.undone.push(`${c.week}/${appliedName(c)}`);
      if (!healthy) record.unhealthyAfter.push(`${c.week}/${appliedName(c)}`);
      status.applied = status.applied.filter((x) => x !== c);
    });
    record.finishedAt = new Date().toISOString();
    record.durationMs = Date.now() - started;
    record.withinBudget = record.durationMs <= phaseRollbackBudgetMs;
    if (!record.withinBudget) notify.alert(2, `${input.phase}: phase rollback over budget`, `${record.durationMs} ms against ${phaseRollbackBudgetMs} ms`);
    if (record.unhealthyAfter.length) notify.alert(2, `${input.phase}: unhealthy after the phase rollback`, record.unhealthyAfter.join(', '));
    notify.emit('phase.rolled-back', { undone: record.undone, durationMs: record.durationMs, withinBudget: record.withinBudget });
  }

  upsertSearchAttributes([{ key: searchAttributes.phase, value: input.phase }, { key: searchAttributes.status, value: 'running' }]);
  upsertMemo({ summary: `${input.phase}: ${input.title} (${input.weeks.length} weeks)` });
  notify.emit('phase.started', { weeks: input.weeks.map((w) => w.id) });

  for (const [i, week] of input.weeks.entries()) {
    if (status.abort) break;
    const entry = status.weeks[i]!;
    status.currentWeek = week.id;
    entry.outcome = 'running';
    upsertSearchAttributes([{ key: searchAttributes.week, value: week.id }]);
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
        },
      ],
    });
    if (pause) await current.signal(pauseSignal, pause);
    // An abort that arrived while the week was starting reaches it now.
    if (status.abort) await current.signal(abortSignal, status.abort);
    const result = await current.result();
    current = null;
    entry.outcome = result.outcome;
    status.applied.push(...result.applied);
    if (result.outcome !== 'passed') {
      status.outcome = result.outcome === 'aborted' ? 'aborted' : 'stopped';
      break;
    }
  }
  if (status.abort) {
    status.outcome = 'aborted';
    if (status.abort.level === 3) await CancellationScope.nonCancellable(() => rollBackPhase(status.abort!));
  }
  status.currentWeek = null;
  status.state = 'done';
  status.outcome ??= 'completed';
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'done' }, { key: searchAttributes.outcome, value: status.outcome }]);
  notify.emit(`phase.${status.outcome}`, { weeks: status.weeks.map((w) => ({ id: w.id, outcome: w.outcome })) });
  await notify.flush();
  return status;
}
