import { CancellationScope, condition, log } from '@temporalio/workflow';
import { whyWeekStuck } from '../../decisions/deadlines';
import { formatDuration } from '../../render/durations';
import { countDeadlinePassed } from '../lib/metrics';
import { pause, requestAbort } from './holds';
import type { WeekRun } from './run';

/**
 * The week's progress deadline (plan: timings.deadlines.weekMs; decisions/deadlines.ts): from
 * the week's start until its gate opens, not counting time paused. Its time is kept in the
 * status, so a new run of the week (new-run.ts) watches the same deadline. A plan without one
 * adds no timer.
 */
export function watchWeekDeadline(run: WeekRun): void {
  const weekMs = run.input.settings.timings.deadlines?.weekMs;
  if (weekMs === undefined) return;
  run.status.deadline ??= { at: new Date(Date.now() + weekMs).toISOString(), passed: false };
  if (run.status.deadline.passed) return;
  void CancellationScope.nonCancellable(() => watch(run, weekMs)).catch((err: unknown) => log.error('week deadline watch failed', { error: String(err) }));
}

async function watch(run: WeekRun, weekMs: number): Promise<void> {
  const { status } = run;
  const deadline = status.deadline!;
  // The gate's report is written as it opens and never cleared; an abort or a rollback ends the rollout too.
  const over = () => status.gate.report !== null || run.aborted || status.outcome !== null || status.state === 'rolling-back';
  for (;;) {
    const waitMs = Date.parse(deadline.at) - Date.now();
    if (waitMs > 0 && (await condition(() => over() || run.held, waitMs))) {
      if (over()) return;
      const from = Date.now();
      await condition(() => over() || !run.held);
      if (over()) return;
      deadline.at = new Date(Date.parse(deadline.at) + Date.now() - from).toISOString();
      continue;
    }
    if (over()) return;
    await weekDeadlinePassed(run, weekMs);
    return;
  }
}

/** The one place a passed week deadline becomes an action: recorded, counted, a level-2 alert, then pause or a level-2 abort. */
async function weekDeadlinePassed(run: WeekRun, weekMs: number): Promise<void> {
  const { status, notify } = run;
  const action = run.input.settings.timings.deadlines?.onPassed ?? 'pause';
  const why = whyWeekStuck(status);
  status.deadline = { ...status.deadline!, passed: true, why, action };
  countDeadlinePassed('week', action);
  const then = action === 'rollback' ? 'the week is aborted at level 2 and every change of it undone' : 'the week pauses (migrations in flight hold after their current stage); send resume once it is dealt with';
  notify.alert(2, `${run.label} has not reached its gate within its deadline`, `${formatDuration(weekMs)} since it started (time paused not counted): ${why}; ${then}`, { scope: 'week', action });
  notify.emit('deadline.passed', { scope: 'week', what: `${run.label} before its gate`, why, action });
  const reason = `week deadline of ${formatDuration(weekMs)} passed: ${why}`.slice(0, 2000);
  if (action === 'rollback') await requestAbort(run, { level: 2, by: 'phasegate', reason });
  else if (!run.paused) await pause(run, { by: 'phasegate', reason });
}
