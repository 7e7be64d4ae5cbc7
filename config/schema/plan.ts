import { z } from 'zod';
import { stepKindNames, stepKinds, type StepKindName } from '../../plan/steps';
import { identifier, personName } from './common';
import { historySchema, thresholdsSchema, timingsProblems, timingsSchema, type Problem } from './migration-input';

// What one agent's migration takes (thresholds, timings, history limits) lives in
// migration-input.ts, light enough for every workflow run to load; a plan re-exports it.
export { defaultRollbackUndosAtOncePerMachine, deadlinesSchema, historySchema, thresholdsSchema, timingsProblems, timingsSchema, type HistoryLimits, type Thresholds, type Timings } from './migration-input';

export { migrateStepSchema } from '../../plan/steps/migrate';
export { validateStepSchema } from '../../plan/steps/validate';
import { kpiIds } from '../../decisions/validation/kpis';


type KindFields = { [K in StepKindName]: z.ZodOptional<(typeof stepKinds)[K]['schema']> };
const kindFields = Object.fromEntries(stepKindNames.map((k) => [k, stepKinds[k].schema.optional()])) as unknown as KindFields;

/** A step: an id, a title, and exactly one kind (plan/steps/ has each kind's field). */
export const stepSchema = z
  .strictObject({
    id: identifier,
    title: z.string().max(200).optional(),
    ...kindFields,
  })
  .refine((s) => stepKindNames.filter((k) => s[k] !== undefined).length === 1, `a step has exactly one kind: ${stepKindNames.join(', ')}`);

export const gateCriterionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('all-migrated'), machines: z.array(identifier).optional() }),
  z.strictObject({ kind: z.literal('max-rollbacks'), count: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal('min-uptime'), percent: z.number().min(0).max(100) }),
  z.strictObject({
    kind: z.literal('validation-kpis'),
    kpis: z.array(z.enum(kpiIds)).min(1).optional(),
  }),
]);

/**
 * The gate decides "go" by itself once its criteria are met: after `bakeMs`, it announces the
 * promotion and promotes `vetoMs` later unless a person holds it (decisions/gates.ts).
 */
export const autoPromoteSchema = z.strictObject({
  bakeMs: z.number().int().min(0).max(30 * 24 * 3_600_000),
  vetoMs: z.number().int().min(0).max(30 * 24 * 3_600_000),
});

/** How long a gate may wait for a decision before it escalates to level 2 (workflows/week/gate.ts). */
export const gateDeadlineSchema = z.number().int().min(1000).max(90 * 24 * 3_600_000);

/** Who may decide a gate (names of the deployment's `people`; decisions/signatures.ts). */
export const decidersSchema = z.array(personName).min(1).max(100);

/**
 * Signed decisions (decisions/signatures.ts): who may approve a critical-band stage, and
 * whether decisions may be unsigned. Signed is the default: a gate or stage whose deciders the
 * plan does not name may be decided by any of the deployment's `people`, each with their own
 * signature (plan/compile.ts). `unsigned: true` is for the local demo only: anyone who can reach
 * Temporal could then decide in any name.
 */
export const decisionsSchema = z.strictObject({
  stageApprovers: decidersSchema.optional(),
  unsigned: z.boolean().default(false),
});

export const weekSchema = z.strictObject({
  id: identifier,
  title: z.string().max(200),
  steps: z.array(stepSchema).min(1, 'a week needs at least one step'),
  gate: z
    .strictObject({ criteria: z.array(gateCriterionSchema).default([]), autoPromote: autoPromoteSchema.optional(), deadlineMs: gateDeadlineSchema.optional(), deciders: decidersSchema.optional() })
    .refine((g) => !g.autoPromote || g.criteria.length > 0, { path: ['autoPromote'], message: 'auto-promotion needs at least one criterion to judge by: with none, it would promote anything' })
    .default({ criteria: [] }),
});

/**
 * Gate criteria that nothing in their week can measure: migration criteria in a week that
 * migrates nothing, uptime and KPI criteria in a week without a validation, machines that none
 * of the week's agents are on (when the machines are known).
 */
export function weekGateProblems(criteria: readonly z.infer<typeof gateCriterionSchema>[], week: { migrates: boolean; validates: boolean; machines: Set<string> | null }): Problem[] {
  const problems: Problem[] = [];
  criteria.forEach((c, i) => {
    if ((c.kind === 'all-migrated' || c.kind === 'max-rollbacks') && !week.migrates) problems.push({ path: [i, 'kind'], message: `"${c.kind}" needs a migrate step in this week; it has none, so the criterion could never be judged` });
    if ((c.kind === 'min-uptime' || c.kind === 'validation-kpis') && !week.validates) problems.push({ path: [i, 'kind'], message: `"${c.kind}" needs a validate step in this week; it has none, so the criterion could never be met` });
    if (c.kind === 'all-migrated' && c.machines && week.machines && week.migrates) {
      c.machines.forEach((m, mi) => {
        if (!week.machines!.has(m)) problems.push({ path: [i, 'machines', mi], message: `no agent of this week is on machine "${m}" (the week's agents are on ${[...week.machines!].join(', ') || 'no machine'})` });
      });
    }
  });
  return problems;
}

export const planSchema = z
  .strictObject({
    version: z.literal(1),
    id: identifier,
    title: z.string().min(1).max(200),
    thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
    timings: timingsSchema.default(timingsSchema.parse({})),
    history: historySchema.default(historySchema.parse({})),
    /**
     * Watch the cross-machine links while migrations and operations run (a link silent for
     * over inventory.heartbeats.linkSilentAfterMs pauses the week). Off only for runs on the
     * Java time-skipping test server, whose clock stops skipping after such a watch.
     */
    watchLinks: z.boolean().default(true),
    /** Who may approve critical-band stages, and whether decisions may be unsigned (signed unless it says so); gates name their own deciders. */
    decisions: decisionsSchema.default({ unsigned: false }),
    weeks: z.array(weekSchema).min(1),
  })
  .superRefine((plan, ctx) => {
    for (const p of timingsProblems(plan.timings, plan.thresholds.sampleIntervalMs)) ctx.addIssue({ code: 'custom', path: ['timings', ...p.path], message: p.message });
    plan.weeks.forEach((w, wi) => {
      const gate = { migrates: w.steps.some((s) => s.migrate), validates: w.steps.some((s) => s.validate), machines: null };
      for (const p of weekGateProblems(w.gate.criteria, gate)) ctx.addIssue({ code: 'custom', path: ['weeks', wi, 'gate', 'criteria', ...p.path], message: p.message });
    });
    const ids = new Set<string>();
    plan.weeks.forEach((w, wi) => {
      if (ids.has(w.id)) ctx.addIssue({ code: 'custom', path: ['weeks', wi, 'id'], message: `duplicate id "${w.id}"` });
      ids.add(w.id);
      w.steps.forEach((s, si) => {
        if (ids.has(s.id)) ctx.addIssue({ code: 'custom', path: ['weeks', wi, 'steps', si, 'id'], message: `duplicate id "${s.id}"` });
        ids.add(s.id);
      });
    });
  });
export type Plan = z.infer<typeof planSchema>;
export type PlanWeek = z.infer<typeof weekSchema>;
export type PlanStep = z.infer<typeof stepSchema>;
