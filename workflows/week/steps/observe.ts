import { isCancellation, sleep } from '@temporalio/workflow';
import type { WeekRun } from '../run';
import type { WeekStep } from '../messages';
import type { StepEnd } from './index';

/** Watches the fleet for a while (the seeds' observation days); an abort ends the wait. */
export async function observe(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  const ms = step.observe!.durationMs;
  await run.interruptible
    .run(() => sleep(ms, { summary: `observe the fleet for ${Math.round(ms / 1000)} s (${step.id})` }))
    .catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
    });
  return null;
}
