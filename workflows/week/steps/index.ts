import type { WeekRun } from '../run';
import type { WeekStep } from '../messages';
import { migrate } from './migrate';
import { observe } from './observe';
import { operation } from './operation';
import { validate } from './validate';

/** How a step ended: null to carry on, or a reason to roll the week back. */
export type StepEnd = null | { kind: 'rollback-week'; reason: string };

/** One function per step kind; a step has exactly one kind (config/schema/plan.ts). */
export const stepKinds = {
  migrate,
  operation,
  observe,
  validate,
} satisfies Record<Exclude<keyof WeekStep, 'id' | 'title'>, (run: WeekRun, step: WeekStep) => Promise<StepEnd>>;

/** Runs a step by its kind. */
export function runStep(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  const kind = (Object.keys(stepKinds) as Array<keyof typeof stepKinds>).find((k) => step[k] !== undefined);
  if (!kind) throw new Error(`step ${step.id} has no kind`);
  return stepKinds[kind](run, step);
}
