import { z } from 'zod';
import { stepKindNames, stepKinds, type StepKindName } from '../../plan/steps';
import { identifier } from './common';
import { calendarSchema } from './deployment';
import { agentMigrationInputSchema, historySchema, parseInput, signersSchema, thresholdsSchema, timingsProblems, timingsSchema } from './migration-input';
import { autoPromoteSchema, gateCriterionSchema, gateDeadlineSchema, weekGateProblems } from './plan';

export { agentMigrationInputSchema };

/**
 * The inputs of the workflows, checked by the same rules as the plan they come from
 * (plan.ts): an input written by hand for `temporal workflow start` meets the same limits as
 * one the CLI compiled (a 50 ms sampling interval, an unknown field, an agent missing from a
 * step are refused), and the workflow fails at once with the reason, before any action.
 * Pure (zod only): the workflows run it inside Temporal's sandbox.
 */

const settings = z.strictObject({
  thresholds: thresholdsSchema,
  timings: timingsSchema,
  watchLinks: z.boolean().optional(),
  history: historySchema.optional(),
  decisions: z.strictObject({ stageApprovers: signersSchema.optional(), unsigned: z.boolean() }).optional(),
  calendar: calendarSchema.optional(),
});

type KindInputs = { [K in StepKindName]: z.ZodOptional<(typeof stepKinds)[K]['inputSchema']> };
const kindInputs = Object.fromEntries(stepKindNames.map((k) => [k, stepKinds[k].inputSchema.optional()])) as unknown as KindInputs;

const weekStep = z
  .strictObject({
    id: identifier,
    title: z.string().max(200).optional(),
    ...kindInputs,
  })
  .refine((s) => stepKindNames.filter((k) => s[k] !== undefined).length === 1, `a step has exactly one kind: ${stepKindNames.join(', ')}`);

const weekOfPhase = z
  .strictObject({
    id: identifier,
    title: z.string().max(200),
    steps: z.array(weekStep).min(1, 'a week needs at least one step'),
    gate: z.strictObject({ criteria: z.array(gateCriterionSchema), autoPromote: autoPromoteSchema.optional(), deadlineMs: gateDeadlineSchema.optional(), deciders: signersSchema.optional() }).refine((g) => !g.autoPromote || g.criteria.length > 0, { path: ['autoPromote'], message: 'auto-promotion needs at least one criterion to judge by' }),
  })
  .superRefine((week, ctx) => {
    const seen = new Map<string, string>();
    week.steps.forEach((s, si) =>
      s.migrate?.agents.forEach((a, ai) => {
        const k = `${a.name}/${s.migrate!.change}`;
        const first = seen.get(k);
        if (first) ctx.addIssue({ code: 'custom', path: ['steps', si, 'migrate', 'agents', ai], message: `${a.name} is migrated to "${s.migrate!.change}" twice in this week (first in step ${first})` });
        else seen.set(k, s.id);
      }),
    );
    const machines = new Set(week.steps.flatMap((s) => s.migrate?.agents.map((a) => a.machine) ?? []));
    for (const p of weekGateProblems(week.gate.criteria, { migrates: week.steps.some((s) => s.migrate), validates: week.steps.some((s) => s.validate), machines })) {
      ctx.addIssue({ code: 'custom', path: ['gate', 'criteria', ...p.path], message: p.message });
    }
  });

const checkSettings = (s: z.infer<typeof settings>, ctx: z.RefinementCtx) => {
  for (const p of timingsProblems(s.timings, s.thresholds.sampleIntervalMs)) ctx.addIssue({ code: 'custom', path: ['settings', 'timings', ...p.path], message: p.message });
};

export const weekInputSchema = z
  .strictObject({
    version: z.literal(1),
    phase: identifier,
    week: weekOfPhase,
    settings,
    autoApproveGate: z.strictObject({ by: z.string().min(1).max(200) }).optional(),
    gateReminderMs: z.number().int().min(1000).optional(),
    /** Set by the phase when the line is frozen as the week starts (workflows/line.ts). */
    line: z.strictObject({ by: z.string().min(1).max(200), reason: z.string().min(1).max(2000), at: z.string().min(1).max(100) }).optional(),
    // Written by the week itself when it continues as new (workflows/week/messages.ts, WeekResume).
    resume: z
      .strictObject({
        status: z.record(z.string(), z.unknown()),
        paused: z.boolean(),
        step: z.number().int().min(0),
        round: z.number().int().min(0),
        failedInBatch: z.number().int().min(0),
      })
      .optional(),
  })
  .superRefine((input, ctx) => checkSettings(input.settings, ctx));

export const phaseInputSchema = z
  .strictObject({
    version: z.literal(1),
    phase: identifier,
    title: z.string().min(1).max(200),
    settings,
    weeks: z.array(weekOfPhase).min(1),
    autoApproveGates: z.strictObject({ by: z.string().min(1).max(200) }).optional(),
    gateReminderMs: z.number().int().min(1000).optional(),
  })
  .superRefine((input, ctx) => {
    checkSettings(input.settings, ctx);
    const ids = new Set<string>();
    input.weeks.forEach((w, wi) => {
      if (ids.has(w.id)) ctx.addIssue({ code: 'custom', path: ['weeks', wi, 'id'], message: `duplicate week id "${w.id}"` });
      ids.add(w.id);
    });
  });

const schemas = { agentMigration: agentMigrationInputSchema, week: weekInputSchema, phase: phaseInputSchema } as const;

export type WorkflowInputKind = keyof typeof schemas;

/** The input as the workflow should use it, or why it cannot work (migration-input.ts parseInput). */
export function parseWorkflowInput<K extends WorkflowInputKind>(kind: K, input: unknown): { ok: true; value: z.infer<(typeof schemas)[K]> } | { ok: false; problem: string } {
  return parseInput(schemas[kind], input) as { ok: true; value: z.infer<(typeof schemas)[K]> } | { ok: false; problem: string };
}

/**
 * Why an input may not approve every gate by itself (`autoApproveGates`: in one name, unsigned),
 * or null: only a phase whose plan allows unsigned decisions (tests, the local demo) may, so a
 * signed plan compiled by `phasegate plan input` is not turned unsigned by mistake. It is no
 * guard against whoever may start workflows: they write the input. Checked by the phase workflow
 * behind a patch (workflows/lib/patches.ts), since phases recorded before it carry such inputs.
 */
export function autoApprovalProblem(input: { autoApproveGates?: unknown; settings: { decisions?: { unsigned: boolean } } }): string | null {
  return input.autoApproveGates && !input.settings.decisions?.unsigned
    ? 'autoApproveGates: approves every gate unsigned, but settings.decisions.unsigned is not true: this phase takes only signed decisions (a plan with "decisions": { "unsigned": true } may carry it)'
    : null;
}
