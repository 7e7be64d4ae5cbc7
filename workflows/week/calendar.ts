import { CancellationScope, condition, log } from '@temporalio/workflow';
import type { DeployCalendar } from '../../decisions/calendar';
import { calendars } from '../lib/lazy-modules';
import { forwardHold } from './holds';
import type { WeekRun } from './run';

/**
 * The deployment's calendar (deploy windows and freezes; decisions/calendar.ts) as the week
 * lives it: looked at when the week starts, again at each change it predicts, and whenever an
 * operator sends a new one (calendarChanged). Closed, nothing new starts (holds.ts
 * waitWhilePaused) and the running migrations hold after their current stage; observations,
 * validations and deadlines keep their own clocks. Without a calendar the week adds no timer.
 */
export function watchCalendar(run: WeekRun): void {
  if (run.calendarWatched || !run.input.settings.calendar) return;
  run.calendarWatched = true;
  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      if (run.status.outcome !== null) return;
      const calendar = run.input.settings.calendar;
      if (!calendar) {
        // The calendar was taken away: whatever it held is open now.
        run.calendarWatched = false;
        if (run.status.calendar && !run.status.calendar.open) run.notify.emit('calendar.opened', { why: 'the deployment has no calendar any more', until: null });
        delete run.status.calendar;
        if (!run.held && run.status.state === 'paused') run.setState('running');
        await forwardHold(run);
        return;
      }
      const now = Date.now();
      const state = calendars().calendarState(calendar, now);
      const was = run.status.calendar;
      if (!was || was.open !== state.open || was.why !== state.why) {
        run.status.calendar = { open: state.open, why: state.why, since: new Date(now).toISOString(), changesAt: state.changesAtMs === null ? null : new Date(state.changesAtMs).toISOString() };
        if (was || !state.open) run.notify.emit(state.open ? 'calendar.opened' : 'calendar.closed', { why: state.why, until: run.status.calendar.changesAt });
        if (!run.held && run.status.state === 'paused') run.setState('running');
        await forwardHold(run);
      } else run.status.calendar = { ...was, changesAt: state.changesAtMs === null ? null : new Date(state.changesAtMs).toISOString() };
      const waitMs = Math.max(1000, (state.changesAtMs ?? now + calendars().calendarHorizonMs) - now);
      const seen = run.calendarChanges;
      // Woken early by a new calendar (histories from before calendarChanged never change it).
      if ((await condition(() => run.status.outcome !== null || run.calendarChanges !== seen, waitMs)) && run.status.outcome !== null) return;
    }
  }).catch((err: unknown) => log.error('calendar watch failed', { error: String(err) }));
}

/** An operator sent the deployment's calendar as it is now (`phasegate calendar apply`): the week lives by it from now on, and so does its next run. */
export async function calendarChanged(run: WeekRun, arg: { calendar: DeployCalendar | null; by: string }): Promise<void> {
  if (arg.calendar) run.input.settings.calendar = arg.calendar;
  else delete run.input.settings.calendar;
  run.calendarChanges++;
  run.notify.emit('calendar.changed', { by: arg.by, calendar: arg.calendar });
  watchCalendar(run);
}
