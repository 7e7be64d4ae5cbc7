import { CancellationScope, condition, log, workflowInfo } from '@temporalio/workflow';
import { nextDeadline, whyMigrationStuck, type DeadlineWatch } from '../../decisions/deadlines';
import { countDeadlinePassed } from '../lib/metrics';
import { tellParent } from '../lib/person';
import { pauseSignal } from '../lib/steering';
import type { MigrationRun } from './run';

/**
 * Runs one step while its deadlines are watched (decisions/deadlines.ts). The watch runs beside
 * the step, outside the scope an abort cancels, and ends with the step; its clock stops while
 * the migration is paused (by a person, its week, a lost machine or an earlier deadline) or held by a freeze of the line. With
 * no deadline to watch, the step runs alone: no timer, no history event added.
 */
export async function withDeadlines<T>(run: MigrationRun, watches: ReadonlyArray<DeadlineWatch | null>, body: () => Promise<T>): Promise<T> {
  if (!watches.some((w) => w && !w.passed)) return body();
  let done = false;
  void CancellationScope.nonCancellable(() => watch(run, watches, () => done)).catch((err: unknown) => log.error('deadline watch failed', { error: String(err) }));
  try {
    return await body();
  } finally {
    done = true;
  }
}

async function watch(run: MigrationRun, watches: ReadonlyArray<DeadlineWatch | null>, done: () => boolean): Promise<void> {
  for (;;) {
    const next = nextDeadline(watches, Date.now());
    if (!next || done()) return;
    if (next.waitMs > 0 && (await condition(() => done() || run.held, next.waitMs))) {
      if (done()) return;
      // Paused: the clock stops until the migration carries on.
      const from = Date.now();
      await condition(() => done() || !run.held);
      if (done()) return;
      const held = Date.now() - from;
      for (const w of watches) if (w && !w.passed) w.at += held;
      continue;
    }
    next.watch.passed = true;
    await deadlinePassed(run, next.watch);
  }
}

/**
 * The one place a passed deadline of a migration becomes an action: recorded, counted, a
 * level-2 alert naming what is stuck and why, then what the plan says. Pause: the migration
 * holds after its current action and tells its week, which pauses too (its other migrations
 * hold after their current stage). Roll back: the steps are stopped (an action in flight is
 * cancelled, its command's process group stopped, and its end waited for) and the stages
 * registered so far are undone (workflow.ts, rollback.ts).
 */
async function deadlinePassed(run: MigrationRun, w: DeadlineWatch): Promise<void> {
  const { status, agent, machine } = run;
  const action = run.input.timings.deadlines?.onPassed ?? 'pause';
  const why = whyMigrationStuck(status);
  (status.deadlinesPassed ??= []).push({ scope: w.scope, what: w.what, why, action, at: new Date().toISOString() });
  countDeadlinePassed(w.scope, action, machine);
  const inWeek = workflowInfo().parent !== undefined;
  const then = action === 'rollback' ? 'rolling the migration back (level 1)' : `the migration holds after its current action${inWeek ? ' and its week pauses' : ''}; send resume once it is dealt with`;
  run.notify.alert(2, `${agent}: ${w.what} is past its ${w.scope} deadline`, `${why}; ${then}`, { machine, scope: w.scope, action });
  run.notify.emit('deadline.passed', { scope: w.scope, what: w.what, why, action });
  if (action === 'rollback') {
    run.deadlineRollback = `${w.what} passed its ${w.scope} deadline: ${why}`;
    run.work.cancel();
    return;
  }
  run.paused = true;
  await tellParent(pauseSignal, { by: 'phasegate', reason: `${agent}: ${w.what} is past its ${w.scope} deadline (${why})`.slice(0, 2000) });
}
