import { z } from 'zod';
import { maxControlCandidates } from '../../decisions/controls';
import { publicKeyProblem } from '../../decisions/signatures';
import { durationMs, identifier, personName, rating } from './common';
import { defaultRollbackUndosAtOncePerMachine, historyDefaults } from './plan-defaults';

export { defaultRollbackUndosAtOncePerMachine };

/**
 * What one agent's migration takes as its input, and the settings it shares with a plan
 * (thresholds, timings, history limits), apart from the plan's other schemas (plan.ts,
 * plan/steps/, workflow-inputs.ts) so that a migration started by hand loads only what its own
 * input needs (workflows/agent-migration/workflow.ts, workflows/lib/lazy-modules.ts). Pure (zod only).
 */

/** The five factors of the risk matrix; any factor may be left out if it can be derived. */
export const riskFactors = z.strictObject({
  fileSize: rating.optional(),
  gpu: rating,
  threading: rating,
  databases: rating,
  role: rating,
});

/** An agent as a migration needs it: name, machine and what its risk is assessed from. */
export const inventoryAgentSchema = z.strictObject({
  name: identifier,
  machine: identifier,
  risk: riskFactors,
  source: z.strictObject({ sizeKb: z.number().min(0).max(1_000_000) }).optional(),
  riskOverride: z.strictObject({ score: z.number().min(0).max(40), reason: z.string().min(3).max(500) }).optional(),
  /**
   * Unchanged agents on the same machine that may be probed beside this one, so that degradation
   * is judged against them (decisions/controls.ts, decisions/judge.ts); names only: the
   * machine's own configuration says how to reach them. The baseline keeps the closest in speed.
   */
  controls: z.array(identifier).max(maxControlCandidates).optional(),
});

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
  newRunAfterEvents: z.number().int().min(100).max(40_000).default(historyDefaults.newRunAfterEvents),
  migrationsPerRound: z.number().int().min(1).max(1000).default(historyDefaults.migrationsPerRound),
  /**
   * A week's or phase's rollback undoes its changes in child workflows of at most this many
   * changes each (about 27 events per undo; workflows/rollback/children.ts).
   */
  undosPerChild: z.number().int().min(1).max(300).default(historyDefaults.undosPerChild),
});
export type HistoryLimits = z.infer<typeof historySchema>;

export interface Problem {
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

/** People who may decide, with their public keys, as compiled from the plan and the deployment (decisions/signatures.ts). */
export const signersSchema = z.array(z.strictObject({ name: personName, publicKey: z.string().refine((k) => publicKeyProblem(k) === null, 'an Ed25519 public key: 64 hex characters') })).min(1).max(100);

export const phaseAndWeek = { phase: identifier.optional(), week: identifier.optional() };

export const agentMigrationInputSchema = z
  .strictObject({
    version: z.literal(1),
    agent: inventoryAgentSchema,
    change: identifier,
    thresholds: thresholdsSchema,
    timings: timingsSchema,
    strategyOverride: z.strictObject({ strategy: z.enum(['rapid', 'staged', 'framework', 'critical']), reason: z.string().min(3).max(500) }).optional(),
    whenAgentBusy: z.enum(['wait', 'refuse']).optional(),
    /** Who may approve its stages (critical band), and whether unsigned; anyone when absent. */
    approvals: z.strictObject({ signers: signersSchema, unsigned: z.boolean() }).optional(),
    /** Started by a week with its search attributes and memo already set (workflows/agent-migration/visibility.ts). */
    startedWithAttributes: z.literal(true).optional(),
    /** Started by a week for the brief history (workflows/lib/patches.ts, "the brief history"). */
    briefHistory: z.literal(true).optional(),
    ...phaseAndWeek,
  })
  .superRefine((input, ctx) => {
    for (const p of timingsProblems(input.timings, input.thresholds.sampleIntervalMs)) ctx.addIssue({ code: 'custom', path: ['timings', ...p.path], message: p.message });
  });

/**
 * The input as the workflow should use it (defaults filled in, as the CLI's plan would have
 * them), or why it cannot work ("field: reason; ...", at most five).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): { ok: true; value: z.infer<S> } | { ok: false; problem: string } {
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, value: r.data };
  const issues = r.error.issues.slice(0, 5).map((i) => `${fieldPath(i.path) || '(input)'}: ${i.message}`);
  return { ok: false, problem: issues.join('; ') + (r.error.issues.length > 5 ? `; and ${r.error.issues.length - 5} more` : '') };
}

function fieldPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${String(s)}` : String(s);
  return out;
}
