import { z } from 'zod';
import { stepKindNames, stepKinds, type StepKindName } from '../../plan/steps';
import { durationMs, identifier, personName } from './common';

export { migrateStepSchema } from '../../plan/steps/migrate';
export { validateStepSchema } from '../../plan/steps/validate';
import { kpiIds } from '../../decisions/validation/kpis';

/** Rollback trigger thresholds (docs/domain.md's Phase 1 defaults); any may be overridden per plan. */
export const thresholdsSchema = z.strictObject({
  gpuMemoryPct: z.number().gt(0).max(100).default(95),
  /** The machine's 1-minute load average (the seeds' "load over 10"), not divided by its cores. */
  load: z.number().gt(0).max(1000).default(10),
  /** Optional: the same average divided by the machine's cores, for plans that span machines of different sizes. */
  loadPerCore: z.number().gt(0).max(1000).optional(),
  responseTimeMs: z.number().gt(0).max(600_000).default(5000),
  degradationPct: z.number().gt(0).max(1000).default(15),
  /** Degradation below this absolute slow-down is noise (loopback latencies of 1-2 ms). */
  degradationMinDeltaMs: z.number().min(0).max(600_000).default(50),
  /**
   * The degradation judge (decisions/judge.ts): the significance level of its tests, and how
   * many samples the baseline and a window need before it judges at all.
   */
  degradationAlpha: z.number().gt(0).max(0.2).default(0.01),
  degradationMinSamples: z.number().int().min(4).max(1000).default(8),
  /** Phase 2: a metric this many standard deviations from its baseline escalates (alert, no rollback). */
  escalationSigma: z.number().gt(0).max(100).default(2),
  /** How many breaching samples in a row fire a trigger; 1 reacts at once. */
  consecutiveBreaches: z.number().int().min(1).max(100).default(1),
  /** Probe errors and timeouts in a row after which the window is inconclusive (not failed). */
  maxConsecutiveProbeErrors: z.number().int().min(1).max(1000).default(5),
  sampleIntervalMs: z.number().int().min(100).max(5000, 'probes must sample every 5 s or faster').default(1000),
  /**
   * Probes of the plan's own: PromQL instant queries against the Prometheus the machine's
   * catalogue names (probes.prometheus), `{agent}` and `{machine}` replaced by the agent's
   * labels; a result over `above` is a trigger, no result or an error is no data
   * (activities/machine/prometheus.ts).
   */
  queries: z
    .array(
      z.strictObject({
        name: identifier,
        query: z
          .string()
          .min(1)
          .max(2000)
          .refine((q) => !/[\n\r]/.test(q), 'one line of PromQL'),
        above: z.number().finite(),
      }),
    )
    .max(10)
    .default([])
    .superRefine((qs, ctx) => {
      const seen = new Set<string>();
      qs.forEach((q, i) => {
        if (seen.has(q.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate query name "${q.name}"` });
        seen.add(q.name);
      });
    }),
});
export type Thresholds = z.infer<typeof thresholdsSchema>;

/** Inputs made before the setting existed undo this many at once too. */
export const defaultRollbackUndosAtOncePerMachine = 4;

/**
 * Progress deadlines (decisions/deadlines.ts): a step or a stage of a migration that runs this
 * long past the time the plan gives it, or a week that has not reached its gate this long after
 * it started, raises a level-2 alert naming what is stuck, then pauses (default) or rolls back.
 */
export const deadlinesSchema = z
  .strictObject({
    stepMs: z.number().int().min(1000).max(30 * 24 * 3_600_000).optional(),
    stageMs: z.number().int().min(1000).max(30 * 24 * 3_600_000).optional(),
    weekMs: z.number().int().min(1000).max(90 * 24 * 3_600_000).optional(),
    onPassed: z.enum(['pause', 'rollback']).default('pause'),
  })
  .refine((d) => d.stepMs !== undefined || d.stageMs !== undefined || d.weekMs !== undefined, { message: 'set at least one of stepMs, stageMs, weekMs (or leave deadlines out)' });

/** How long each strategy watches the agent. */
export const timingsSchema = z.strictObject({
  /** Ten by default: the degradation judge needs degradationMinSamples (8) of them. */
  baselineSamples: z.number().int().min(1).max(100).default(10),
  /** rapid: one verification after the last stage. */
  rapidVerificationMs: durationMs.default(10_000),
  /** staged/framework: a verification window after each stage. */
  stageVerificationMs: durationMs.default(60_000),
  /** framework: the observation after the last stage (24 h in the playbook). */
  observationMs: durationMs.default(24 * 3600 * 1000),
  /**
   * The observation runs as back-to-back verification windows of this length (one history
   * event each instead of one per sample), with `observationGapMs` of rest between them.
   */
  observationWindowMs: durationMs.default(10 * 60 * 1000),
  observationGapMs: durationMs.default(0),
  /**
   * How long a step may wait for its machine's worker to take it. Past this the machine is
   * unreachable: the week pauses with a level-2 alert instead of rolling anything back.
   */
  machineQueueWaitMs: z.number().int().min(1000, 'at least 1000 ms: a busy worker must not look lost').max(3_600_000).default(120_000),
  /** How many times a machine's command is tried before it counts as failed (an undo then waits for a person). */
  actionAttempts: z.number().int().min(1).max(20).default(5),
  /** The longest pause between two tries (the pauses double from 1 s up to this). */
  actionRetryMaxIntervalMs: z.number().int().min(100).max(600_000).default(20_000),
  /**
   * A week's or phase's rollback undoes this many of a machine's migrations at once (each
   * agent's stages still one after another, newest agents first; workflows/rollback/children.ts).
   */
  rollbackUndosAtOncePerMachine: z.number().int().min(1).max(16).default(defaultRollbackUndosAtOncePerMachine),
  /** None unless the plan sets them: a plan without deadlines runs as before, with no timers added. */
  deadlines: deadlinesSchema.optional(),
});
export type Timings = z.infer<typeof timingsSchema>;

/**
 * How long a week's own history may grow: past `newRunAfterEvents` events the week carries on
 * in a new run of itself (continue-as-new, with its state), between two rounds of migrations of
 * at most `migrationsPerRound` agents; each migration adds about 7 events. The defaults keep
 * every run under the server's 10,240-event warning at any fleet size.
 */
export const historySchema = z.strictObject({
  newRunAfterEvents: z.number().int().min(100).max(40_000).default(5000),
  migrationsPerRound: z.number().int().min(1).max(1000).default(400),
  /**
   * A week's or phase's rollback undoes its changes in child workflows of at most this many
   * changes each (about 27 events per undo; workflows/rollback/children.ts).
   */
  undosPerChild: z.number().int().min(1).max(300).default(150),
});
export type HistoryLimits = z.infer<typeof historySchema>;

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

interface Problem {
  path: PropertyKey[];
  message: string;
}

/**
 * Timings that cannot work together: a verification window shorter than one sampling
 * interval never samples twice, so the window's length is a fiction. A window of 0 means
 * "one sample" and is allowed.
 */
export function timingsProblems(t: Pick<Timings, 'rapidVerificationMs' | 'stageVerificationMs' | 'observationMs' | 'observationWindowMs'>, sampleIntervalMs: number): Problem[] {
  const problems: Problem[] = [];
  const windows: Array<[keyof typeof t, number]> = [
    ['rapidVerificationMs', t.rapidVerificationMs],
    ['stageVerificationMs', t.stageVerificationMs],
    ...(t.observationMs > 0 ? ([['observationWindowMs', t.observationWindowMs]] as Array<[keyof typeof t, number]>) : []),
  ];
  for (const [field, ms] of windows) {
    if (ms > 0 && ms < sampleIntervalMs) problems.push({ path: [field], message: `${ms} ms is shorter than one sampling interval (sampleIntervalMs ${sampleIntervalMs} ms): the window could not sample; make it 0 (one sample) or at least ${sampleIntervalMs}` });
  }
  return problems;
}

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
