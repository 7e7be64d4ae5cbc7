import type { StepKindName } from '../../../plan/steps';
import { planSteps } from '../../lib/lazy-modules';
import type { WeekRun } from '../run';
import type { WeekStep } from '../messages';
import { check } from './check';
import { migrate } from './migrate';
import { observe } from './observe';
import { operation } from './operation';
import { validate } from './validate';

/**
 * How a step ended: null to carry on, a reason to roll the week back, or (a migrate step, between
 * two rounds) the week's history is long: carry on from this round in a new run (workflow.ts).
 */
export type StepEnd = null | { kind: 'rollback-week'; reason: string } | { kind: 'new-run'; round: number; failedInBatch: number };

/**
 * What runs each kind of step (plan/steps/ has the rest of each kind: schema, compile,
 * estimate); a step has exactly one kind. The type makes a kind without a runner a build error.
 */
const runners: Record<StepKindName, (run: WeekRun, step: WeekStep, from: { round: number; failedInBatch: number } | null) => Promise<StepEnd>> = {
  migrate,
  operation,
  observe,
  validate,
  check,
};

/** Runs a step by its kind; `from`: where a new run of the week carries on in it (only a migrate step is ever left midway). */
export function runStep(run: WeekRun, step: WeekStep, from: { round: number; failedInBatch: number } | null = null): Promise<StepEnd> {
  return runners[planSteps().kindOf(step)](run, step, from);
}
