import { z } from 'zod';
import { durationMs, identifier } from '../../config/schema/common';
import type { Inventory } from '../../config/schema/inventory';
import type { FleetMember } from '../../decisions/validation';
import { formatDuration } from '../../render/durations';
import type { ValidationInput } from '../../workflows/validation';
import type { StepKind } from './kind';

/** The validation window (168 h in the seeds) and how finely it is accounted. */
export const validateStepSchema = z
  .strictObject({
    durationMs,
    /** Each machine summarises its heartbeats once per window; the history grows per window. */
    windowMs: z.number().int().min(10_000).max(24 * 3_600_000).default(300_000),
    uptimeFloorPct: z.number().gt(0).lt(100).default(99.9),
    uptimeTargetPct: z.number().gt(0).lt(100).default(99.95),
    /** A window is complete once a heartbeat this much later has arrived ... */
    latenessMs: z.number().int().min(0).max(600_000).default(2000),
    /** ... or after this long without one (a silent machine). */
    maxWaitMs: z.number().int().min(1000).max(600_000).default(10_000),
    /** Continue as new at this history length, well before the server suggests it (4096 events). */
    maxEventsPerRun: z.number().int().min(200).max(4000).default(2000),
  })
  .refine((v) => v.windowMs <= v.durationMs, { message: 'windowMs must not be longer than durationMs', path: ['windowMs'] })
  .refine((v) => v.uptimeTargetPct >= v.uptimeFloorPct, { message: 'uptimeTargetPct must be at least uptimeFloorPct', path: ['uptimeTargetPct'] });
export type ValidationSettings = z.infer<typeof validateStepSchema>;

/** The validation workflow's input: the settings, and the whole fleet listed (by the client). */
export const validationInputSchema = z.strictObject({
  version: z.literal(1),
  label: z.string().min(1).max(200),
  phase: identifier.optional(),
  week: identifier.optional(),
  durationMs,
  windowMs: z.number().int().min(10_000).max(24 * 3_600_000),
  fleet: z
    .array(
      z.union([
        z.strictObject({ kind: z.literal('agent'), name: identifier, machine: identifier, hub: identifier, failoverHub: identifier }),
        z.strictObject({ kind: z.literal('hub'), name: identifier, machine: identifier }),
      ]),
    )
    .min(1),
  heartbeats: z.strictObject({
    agentIntervalMs: z.number().int().min(100),
    hubIntervalMs: z.number().int().min(100),
    machineIntervalMs: z.number().int().min(100).optional(),
    linkSilentAfterMs: z.number().int().min(1000).optional(),
  }),
  uptimeFloorPct: z.number().gt(0).lt(100),
  uptimeTargetPct: z.number().gt(0).lt(100),
  latenessMs: z.number().int().min(0).max(600_000),
  maxWaitMs: z.number().int().min(1000).max(600_000),
  maxEventsPerRun: z.number().int().min(200).max(4000),
  carried: z.unknown().optional(),
}) as unknown as z.ZodType<ValidationInput, unknown>;

/** The whole fleet as the validation accounts for it: every agent and every hub, by machine. */
export function validationFleet(inventory: Inventory): FleetMember[] {
  return [
    ...inventory.agents.map((a): FleetMember => ({ kind: 'agent', name: a.name, machine: a.machine, hub: a.hub, failoverHub: a.failoverHub })),
    ...inventory.hubs.map((h): FleetMember => ({ kind: 'hub', name: h.name, machine: h.machine })),
  ];
}

/** The validation workflow's input from a plan's validate step and the inventory. */
export function validationInput(settings: ValidationSettings, inventory: Inventory, label: string, where: { phase?: string; week?: string } = {}): ValidationInput {
  return {
    version: 1,
    label,
    ...where,
    durationMs: settings.durationMs,
    windowMs: settings.windowMs,
    fleet: validationFleet(inventory),
    heartbeats: { ...inventory.heartbeats },
    uptimeFloorPct: settings.uptimeFloorPct,
    uptimeTargetPct: settings.uptimeTargetPct,
    latenessMs: settings.latenessMs,
    maxWaitMs: settings.maxWaitMs,
    maxEventsPerRun: settings.maxEventsPerRun,
  };
}

export const validate = {
  schema: validateStepSchema,
  inputSchema: validationInputSchema,
  compile: (v, ctx) => validationInput(v, ctx.inventory, `${ctx.plan.id}/${ctx.week}/${ctx.step}`, { phase: ctx.plan.id, week: ctx.week }),
  planProblems: () => [],
  inputProblems: () => [],
  machines: (v) => [...new Set(v.fleet.map((m) => m.machine))],
  longestMs: (v) => v.durationMs,
  preview: (v) => ({ summary: `validate ${formatDuration(v.durationMs)} over ${v.fleet.length} agents and hubs`, durationMs: v.durationMs }),
} satisfies StepKind<ValidationSettings, ValidationInput>;
