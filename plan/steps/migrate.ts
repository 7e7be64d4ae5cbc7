import { z } from 'zod';
import { identifier } from '../../config/schema/common';
import { agentCategory, type Agent } from '../../config/schema/inventory';
import { inventoryAgentSchema } from '../../config/schema/migration-input';
import { selectAgents } from '../../config/select';
import { planBatches } from '../../decisions/batches';
import { migrationSteps } from '../../decisions/migration-steps';
import { assessRisk } from '../../decisions/risk';
import type { EstimateContext, Fleet, FieldIssue, StepKind } from './kind';

export { inventoryAgentSchema };

/** Which agents a migrate step takes: every given criterion must match. */
export const agentSelector = z
  .strictObject({
    agents: z.array(identifier).min(1).optional(),
    machines: z.array(identifier).min(1).optional(),
    categories: z.array(agentCategory).min(1).optional(),
    riskBands: z.array(z.enum(['low', 'medium', 'high', 'critical'])).min(1).optional(),
    /** Agents to leave out of what the other criteria select (e.g. last week's pilots). */
    exclude: z.array(identifier).min(1).optional(),
  })
  .refine((s) => [s.agents, s.machines, s.categories, s.riskBands].some((v) => v !== undefined), 'name at least one of agents, machines, categories, riskBands');

const common = {
  /** The change being rolled out; becomes part of each agent's version and marker. */
  change: identifier,
  pilots: z.number().int().min(0).max(1000).default(0),
  batchSize: z.number().int().min(1).max(1000).default(5),
  maxConcurrentPerMachine: z.number().int().min(1).max(100).default(2),
  /**
   * When another migration (of any phase) holds an agent of this step: wait until it is done
   * (default), or refuse that agent with the reason and carry on with the others.
   */
  whenAgentBusy: z.enum(['wait', 'refuse']).default('wait'),
  failureBudget: z
    .strictObject({
      perBatch: z.number().int().min(0).default(0),
      perWeek: z.number().int().min(0).default(1),
      onExceeded: z.enum(['pause', 'rollback-week']).default('pause'),
    })
    .default({ perBatch: 0, perWeek: 1, onExceeded: 'pause' }),
};

export type AgentSelector = z.infer<typeof agentSelector>;

export const migrateStepSchema = z.strictObject({ ...common, select: agentSelector });
export type MigrateStep = z.infer<typeof migrateStepSchema>;

/** What a migration carries of an inventory entry: what risk scoring needs, nothing of how to reach it (that stays in the machine's own configuration). */
export function migrationAgent(a: Pick<Agent, 'name' | 'machine' | 'risk' | 'riskOverride'> & { source?: { sizeKb?: number } }): z.infer<typeof inventoryAgentSchema> {
  return {
    name: a.name,
    machine: a.machine,
    risk: a.risk,
    ...(a.source?.sizeKb !== undefined ? { source: { sizeKb: a.source.sizeKb } } : {}),
    ...(a.riskOverride ? { riskOverride: a.riskOverride } : {}),
  };
}

/** The compiled step: the agents selected now, in inventory order. */
export const migrateInputSchema = z.strictObject({ ...common, agents: z.array(inventoryAgentSchema).min(1, 'a migrate step needs at least one agent') });
export type MigrateInput = z.infer<typeof migrateInputSchema>;

/** Names of a selector the inventory lacks, or a selection of nobody; fields under the step's kind field. */
export function selectionProblems(select: AgentSelector, fleet: Fleet): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const agents = new Set(fleet.inventory.agents.map((a) => a.name));
  const machines = new Set(fleet.inventory.machines.map((x) => x.name));
  select.agents?.forEach((a, i) => agents.has(a) || issues.push({ field: `select.agents[${i}]`, reason: `unknown agent "${a}"` }));
  select.exclude?.forEach((a, i) => agents.has(a) || issues.push({ field: `select.exclude[${i}]`, reason: `unknown agent "${a}"` }));
  select.machines?.forEach((x, i) => machines.has(x) || issues.push({ field: `select.machines[${i}]`, reason: `unknown machine "${x}" (known: ${[...machines].join(', ')})` }));
  if (issues.length === 0 && selectAgents(fleet.inventory, select).length === 0) issues.push({ field: 'select', reason: 'selects no agent of the inventory' });
  return issues;
}

/** Agents of a compiled input that the inventory lacks, or has on another machine. */
export function agentsProblems(agents: ReadonlyArray<{ name: string; machine: string }>, fleet: Fleet): FieldIssue[] {
  const on = new Map(fleet.inventory.agents.map((a) => [a.name, a.machine]));
  return agents.flatMap((a, i): FieldIssue[] => {
    const machine = on.get(a.name);
    if (!machine) return [{ field: `agents[${i}]`, reason: `unknown agent "${String(a.name).slice(0, 80)}" (not in the inventory)` }];
    return machine === a.machine ? [] : [{ field: `agents[${i}]`, reason: `${a.name} is on ${machine}, not ${String(a.machine).slice(0, 40)}` }];
  });
}

/** One agent's longest migration: baseline, each stage's actions to their timeouts, the strategy's windows (decisions/migration-steps.ts). */
function longestAgentMs(a: MigrateInput['agents'][number], ctx: EstimateContext): number {
  const actions = ctx.catalogues[a.machine]!.actions;
  const stageActions = actions.backup.timeoutMs + actions['apply-stage'].timeoutMs + actions['verify-marker'].timeoutMs;
  let ms = ctx.timings.baselineSamples * ctx.thresholds.sampleIntervalMs;
  for (const s of migrationSteps(assessRisk(a).strategy, ctx.timings)) {
    if (s.kind === 'apply-stage') ms += stageActions;
    if (s.kind === 'verify' || s.kind === 'observe') ms += s.durationMs;
  }
  return ms;
}

export const migrate = {
  schema: migrateStepSchema,
  inputSchema: migrateInputSchema,
  compile: (m, ctx) => {
    const { select, ...rest } = m;
    return {
      ...rest,
      agents: selectAgents(ctx.inventory, select).map(migrationAgent),
    };
  },
  planProblems: (m, fleet) => selectionProblems(m.select, fleet),
  inputProblems: (m, fleet) => agentsProblems(m.agents, fleet),
  machines: (m) => [...new Set(m.agents.map((a) => a.machine))],
  longestMs: (m, ctx) => {
    let total = 0;
    for (const batch of planBatches(m.agents, m.pilots, m.batchSize)) {
      const byMachine = new Map<string, number[]>();
      for (const a of batch) byMachine.set(a.machine, [...(byMachine.get(a.machine) ?? []), longestAgentMs(a, ctx)]);
      // Lanes run side by side; each lane's agents run one after another.
      total += Math.max(...[...byMachine.values()].map((d) => Math.ceil(d.length / m.maxConcurrentPerMachine) * Math.max(...d)));
    }
    return total;
  },
  preview: (m) => {
    const batches = planBatches(m.agents, m.pilots, m.batchSize).map((batch) =>
      batch.map((a) => {
        const r = assessRisk(a);
        return { agent: a.name, machine: a.machine, score: r.score, band: r.band, strategy: r.strategy };
      }),
    );
    return {
      summary: `migrate "${m.change}" on ${m.agents.length} agents in ${batches.length} batches (pilots ${m.pilots}, batches of ${m.batchSize}, ${m.maxConcurrentPerMachine} at once per machine)`,
      change: m.change,
      pilots: m.pilots,
      batchSize: m.batchSize,
      maxConcurrentPerMachine: m.maxConcurrentPerMachine,
      batches,
    };
  },
  agentChanges: (m) => m.agents.map((a) => ({ agent: a.name, change: m.change })),
} satisfies StepKind<MigrateStep, MigrateInput>;
