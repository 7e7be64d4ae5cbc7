import { kindOf, type StepKindName } from '../../../plan/steps';
import type { WeekRun } from '../run';
import type { WeekStep } from '../messages';
import { check } from './check';
import { migrate } from './migrate';
import { observe } from './observe';
import { operation } from './operation';
import { validate } from './validate';

/** How a step ended: null to carry on, or a reason to roll the week back. */
export type StepEnd = null | { kind: 'rollback-week'; reason: string };

/**
 * What runs each kind of step (plan/steps/ has the rest of each kind: schema, compile,
 * estimate); a step has exactly one kind. The type makes a kind without a runner a build error.
 */
const runners: Record<StepKindName, (run: WeekRun, step: WeekStep) => Promise<StepEnd>> = {
  migrate,
  operation,
  observe,
  validate,
  check,
};

/** Runs a step by its kind. */
export function runStep(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  return runners[kindOf(step)](run, step);
}
