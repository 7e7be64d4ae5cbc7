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

/**
 * What each action's request carries (activities/machine/catalogue-runner.ts): a placeholder
 * an action's command uses must be one its request gives, or the action could never run.
 */
export const placeholdersOfAction: Readonly<Record<ActionName, readonly string[]>> = {
  backup: ['agent', 'change', 'stage', 'idempotencyKey'],
  'apply-stage': ['agent', 'change', 'stage', 'idempotencyKey'],
  'undo-stage': ['agent', 'change', 'stage', 'idempotencyKey'],
  'verify-marker': ['agent', 'change', 'stage'],
  'integration-check': ['agent'],
};
/** Operations run for the machine, not an agent: only the key comes with the request. */
const placeholdersOfOperation: readonly string[] = ['idempotencyKey'];

const placeholdersIn = (c: CatalogueCommand): string[] => [c.command, ...c.args].flatMap((t) => [...t.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!));

/** A command runs as given (execFile, no PATH search of a name the worker's PATH could shadow): an absolute path, or a placeholder of the machine's own configuration. */
function commandProblem(c: CatalogueCommand): string | null {
  if (c.command.startsWith('/')) return null;
  if (/^\{[A-Za-z]+\}$/.test(c.command) && (machinePlaceholders as readonly string[]).includes(c.command.slice(1, -1))) return null;
  return `"${c.command.slice(0, 80)}" is neither an absolute path nor one of ${machinePlaceholders.map((p) => `{${p}}`).join(', ')}`;
}

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
    /**
     * Fixed nvidia-smi queries: `args` for each GPU's memory (uuid,memory.used,memory.total),
     * `appsArgs` for the processes on them (pid,used_memory,gpu_uuid), so that an agent is judged
     * on the GPU its own processes use. Absent means the machine has no GPU and the GPU trigger
     * does not apply; present, the machine worker refuses to start without the command.
     */
    gpu: commandSchema
      .extend({
        appsArgs: z.array(argument).max(64).optional(),
        /**
         * Opt-in: one long-lived `command args --loop-ms=<loopMs>` per worker serves every
         * reading (activities/machine/gpu-reader.ts), and the process query is asked at most
         * every 10 s, instead of processes per sample.
         */
        loopMs: z.number().int().min(100).max(60_000).optional(),
      })
      .optional(),
    /**
     * Where system load comes from: the machine's own 1-minute load average (`load-average`,
     * the default: the kernel's figure that `uptime` prints), or the simulator's (the simulated
     * fleet's machines, as the shipped catalogues say: at rest unless a drill sets a value). `systeminformation` is the old name of
     * `load-average` (it used to read the largest of the 1-, 5- and 15-minute averages per core).
     */
    /** The Prometheus that a plan's queries (thresholds.queries) are asked, from this machine. */
    prometheus: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }).max(400),
        timeoutMs: z.number().int().min(100).max(60_000).default(2000),
      })
      .optional(),
    load: z
      .enum(['load-average', 'systeminformation', 'simulator'])
      .default('load-average')
      .transform((v) => (v === 'systeminformation' ? 'load-average' : v)),
  }),
}).superRefine((c, ctx) => {
  const check = (cmd: CatalogueCommand, path: PropertyKey[], allowed: readonly string[], what: string) => {
    const problem = commandProblem(cmd);
    if (problem) ctx.addIssue({ code: 'custom', path: [...path, 'command'], message: problem });
    for (const name of placeholdersIn(cmd)) {
      if ((machinePlaceholders as readonly string[]).includes(name) || allowed.includes(name) || !allPlaceholders.includes(name)) continue;
      ctx.addIssue({ code: 'custom', path: [...path, 'args'], message: `{${name}} is not given to ${what} (its request carries ${allowed.map((p) => `{${p}}`).join(', ') || 'nothing'}, besides the machine's own values)` });
    }
  };
  for (const name of actionNames) check(c.actions[name], ['actions', name], placeholdersOfAction[name], `the ${name} action`);
  for (const [name, op] of Object.entries(c.operations)) {
    check(op.run, ['operations', name, 'run'], placeholdersOfOperation, 'an operation');
    check(op.undo, ['operations', name, 'undo'], placeholdersOfOperation, 'an operation');
  }
});
export type Catalogue = z.infer<typeof catalogueSchema>;
