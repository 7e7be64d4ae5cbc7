import type { z } from 'zod';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Inventory } from '../../config/schema/inventory';
import type { Thresholds, Timings } from '../../config/schema/plan';

/**
 * What a kind of week step is, for everything but running it: its field in a plan and its
 * schema, how the client compiles it into the week workflow's input, what it needs of the
 * fleet's configuration, the machines it works on, the longest it can take, and its preview.
 * One file per kind here (plan/steps/<kind>.ts), and one that runs it
 * (workflows/week/steps/<kind>.ts). Pure: the workflows use the schemas and machines too.
 */
export interface StepKind<Plan, Input> {
  /** The step's field in a plan (config/schema/plan.ts builds the step schema from these). */
  schema: z.ZodType<Plan, unknown>;
  /** The compiled field, as the week workflow checks its input (config/schema/workflow-inputs.ts). */
  inputSchema: z.ZodType<Input, unknown>;
  compile(p: Plan, ctx: CompileContext): Input;
  /** Names in the plan the fleet's configuration lacks; fields relative to the step's kind field. */
  planProblems(p: Plan, fleet: Fleet): FieldIssue[];
  /** The same for a compiled input written by hand (checked by the control worker before any action). */
  inputProblems(i: Input, fleet: Fleet): FieldIssue[];
  /** Machines the step works on (the link watch watches them while it runs). */
  machines(i: Input): string[];
  /** The longest the step can take, gates aside. */
  longestMs(i: Input, ctx: EstimateContext): number;
  /** What `plan check` shows of it: a line, and for some kinds more data (a migration's batches). */
  preview(i: Input): { summary: string } & Record<string, unknown>;
  /** Agents it acts on, by change (a week must not act on the same agent and change twice). */
  agentChanges?(i: Input): Array<{ agent: string; change: string }>;
}

export interface Fleet {
  inventory: Inventory;
  catalogues: Record<string, Catalogue>;
}

export interface CompileContext {
  plan: { id: string };
  week: string;
  step: string;
  inventory: Inventory;
}

export interface EstimateContext {
  thresholds: Thresholds;
  timings: Timings;
  catalogues: Record<string, Catalogue>;
}

export interface FieldIssue {
  field: string;
  reason: string;
}
