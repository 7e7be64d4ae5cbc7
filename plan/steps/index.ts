import type { z } from 'zod';
import { check } from './check';
import type { StepKind } from './kind';
import { migrate } from './migrate';
import { observe } from './observe';
import { operation } from './operation';
import { validate } from './validate';

/**
 * Every kind of week step, by its field name in a plan. A step has exactly one of them.
 * Adding a kind: its file here (schema, compile, checks, estimate, preview) and the file that
 * runs it (workflows/week/steps/), each with its line in its index.
 */
export const stepKinds = { migrate, operation, observe, validate, check } as const;

export type StepKindName = keyof typeof stepKinds;
export const stepKindNames = Object.keys(stepKinds) as StepKindName[];

/** The compiled input of a kind (what the week workflow gets). */
export type StepInput<K extends StepKindName> = (typeof stepKinds)[K] extends StepKind<unknown, infer I> ? I : never;
/** The plan's field of a kind. */
export type StepPlan<K extends StepKindName> = z.output<(typeof stepKinds)[K]['schema']>;

/** The kind of a step, plan or compiled. */
export function kindOf(step: Partial<Record<StepKindName, unknown>>): StepKindName {
  const kinds = stepKindNames.filter((k) => step[k] !== undefined);
  if (kinds.length !== 1) throw new Error(`a step has exactly one kind (${stepKindNames.join(', ')}); this one has ${kinds.length ? kinds.join(', ') : 'none'}`);
  return kinds[0]!;
}

/** Calls a function of the step's kind with the step's own field. */
export function ofKind<R>(step: Partial<Record<StepKindName, unknown>>, f: (kind: StepKind<unknown, unknown>, value: unknown, name: StepKindName) => R): R {
  const name = kindOf(step);
  return f(stepKinds[name] as unknown as StepKind<unknown, unknown>, step[name], name);
}
