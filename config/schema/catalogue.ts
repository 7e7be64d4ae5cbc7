import { z } from 'zod';
import { identifier } from './common';

/**
 * Placeholders an action's arguments may use. The first group comes from the machine's own
 * configuration; the second is validated request data (an agent of this machine's inventory,
 * a change id, a stage number, an idempotency key), never free text from a workflow.
 */
export const machinePlaceholders = ['node', 'projectRoot', 'machine', 'simulatorAdmin'] as const;
export const requestPlaceholders = ['agent', 'change', 'stage', 'idempotencyKey'] as const;
const allPlaceholders: readonly string[] = [...machinePlaceholders, ...requestPlaceholders];

/** The kinds of action a worker may be asked for; the catalogue says what each one runs. */
export const actionNames = ['backup', 'apply-stage', 'undo-stage', 'verify-marker', 'integration-check'] as const;
export type ActionName = (typeof actionNames)[number];

const argument = z
  .string()
  .max(1000)
  .superRefine((arg, ctx) => {
    for (const match of arg.matchAll(/\{([^}]*)\}/g)) {
      const name = match[1] ?? '';
      if (!allPlaceholders.includes(name)) {
        ctx.addIssue({ code: 'custom', message: `unknown placeholder "{${name}}" (allowed: ${allPlaceholders.map((p) => `{${p}}`).join(', ')})` });
      }
    }
  });

export const commandSchema = z.strictObject({
  /** An executable path or name; run with execFile, never through a shell. */
  command: z
    .string()
    .min(1)
    .max(400)
    .refine((c) => !/[;&|`$<>\n\r]/.test(c), 'must be an executable, not a shell expression'),
  args: z.array(argument).max(64).default([]),
  timeoutMs: z.number().int().min(100).max(600_000),
});
export type CatalogueCommand = z.infer<typeof commandSchema>;

export const catalogueSchema = z.strictObject({
  version: z.literal(1),
  machine: identifier,
  actions: z.strictObject({
    backup: commandSchema,
    'apply-stage': commandSchema,
    'undo-stage': commandSchema,
    'verify-marker': commandSchema,
    'integration-check': commandSchema,
  }),
  /**
   * Named operations of this machine that plans may run as `action` steps (deploying EdgeHub
   * on pc2, say), each with the command that undoes it. Only {idempotencyKey} and the
   * machine's own values may appear in their arguments.
   */
  operations: z
    .record(
      identifier,
      z.strictObject({
        description: z.string().max(200).optional(),
        run: commandSchema,
        undo: commandSchema,
      }),
    )
    .default({}),
  probes: z.strictObject({
    /** Fixed nvidia-smi query; absent means the machine has no GPU and the GPU trigger does not apply. */
    gpu: commandSchema.optional(),
    /**
     * Where system load comes from: the real machine through systeminformation, or the
     * simulator's injectable value (for drills and tests of the load trigger).
     */
    load: z.enum(['systeminformation', 'simulator']).default('systeminformation'),
  }),
});
export type Catalogue = z.infer<typeof catalogueSchema>;
