import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { WeekInput, WeekStatus } from './messages';
import type { WeekRun } from './run';
import { publishAllAndSettle } from '../lib/notify';

/**
 * A week's history grows with every migration it starts (about 7 events each), so a week of
 * thousands of agents would pass the server's limits (a warning at 10,240 events, the end of
 * the workflow at 51,200). Past the plan's `history.newRunAfterEvents` the week carries on in a
 * new run of itself (continue-as-new) with its whole status, between two rounds of migrations
 * (steps/migrate.ts), when none of its own is running. The phase, the CLI and the Web UI find
 * the week by its workflow id, which stays the same; its status counts the runs.
 *
 * Behind a patch: a week that began on code without this replays without it.
 */
export const newRunBetweenRoundsPatch = 'week-new-run-between-rounds';

export function historyIsLong(run: WeekRun): boolean {
  const info = workflowInfo();
  return info.historyLength >= run.history.newRunAfterEvents || info.continueAsNewSuggested;
}

/** Hands the week to a new run: every event and alert published, every handler done, then continue-as-new from this step and round. */
export async function startNewRun(run: WeekRun, at: { step: number; round: number; failedInBatch: number }): Promise<never> {
  const events = workflowInfo().historyLength;
  const before = run.status.history ?? { runs: 1, largestRunEvents: 0 };
  run.status.history = { runs: before.runs + 1, largestRunEvents: Math.max(before.largestRunEvents, events) };
  run.notify.emit('week.new-run', { step: run.input.week.steps[at.step]?.id, round: at.round + 1, events, runs: run.status.history.runs });
  await publishAllAndSettle(run.notify);
  const { resume: _previous, ...input } = run.input;
  const next: WeekInput = {
    ...input,
    resume: { status: run.status, paused: run.paused, step: at.step, round: at.round, failedInBatch: at.failedInBatch },
  };
  return continueAsNew<(input: WeekInput) => Promise<WeekStatus>>(next);
}
