import { CancellationScope, condition, log } from '@temporalio/workflow';
import { calendarHorizonMs, calendarState } from '../../decisions/calendar';
import { forwardHold } from './holds';
import type { WeekRun } from './run';

/**
 * The deployment's calendar (deploy windows and freezes; decisions/calendar.ts) as the week
 * lives it: looked at when the week starts and again at each change it predicts. Closed,
 * nothing new starts (holds.ts waitWhilePaused) and the running migrations hold after their
 * current stage; observations, validations and deadlines keep their own clocks. Without a
 * calendar in the deployment the week adds no timer.
 */
export function watchCalendar(run: WeekRun): void {
  const calendar = run.input.settings.calendar;
  if (!calendar) return;
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      if (run.status.outcome !== null) return;
      const now = Date.now();
      const state = calendarState(calendar, now);
      const was = run.status.calendar;
      if (!was || was.open !== state.open || was.why !== state.why) {
        run.status.calendar = { open: state.open, why: state.why, since: new Date(now).toISOString(), changesAt: state.changesAtMs === null ? null : new Date(state.changesAtMs).toISOString() };
        if (was || !state.open) run.notify.emit(state.open ? 'calendar.opened' : 'calendar.closed', { why: state.why, until: run.status.calendar.changesAt });
        if (!run.held && run.status.state === 'paused') run.setState('running');
        await forwardHold(run);
      } else run.status.calendar = { ...was, changesAt: state.changesAtMs === null ? null : new Date(state.changesAtMs).toISOString() };
      const waitMs = Math.max(1000, (state.changesAtMs ?? now + calendarHorizonMs) - now);
      if (await condition(() => run.status.outcome !== null, waitMs)) return;
    }
  }).catch((err: unknown) => log.error('calendar watch failed', { error: String(err) }));
}
