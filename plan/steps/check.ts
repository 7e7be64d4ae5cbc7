import { z } from 'zod';
import { identifier } from '../../config/schema/common';
import { selectAgents } from '../../config/select';
import { agentSelector, agentsProblems, selectionProblems } from './migrate';
import type { StepKind } from './kind';

/**
 * A check across a selection of agents: each one's integration check (its machine's catalogue
 * `integration-check`), with a health probe; any failure fails the step, which rolls the week
 * back. For a week that must end with the fleet proven whole, e.g. after an operation.
 */
const schema = z.strictObject({ select: agentSelector });
const inputSchema = z.strictObject({ agents: z.array(z.strictObject({ name: identifier, machine: identifier })).min(1, 'a check step needs at least one agent') });
type Check = z.infer<typeof schema>;
type CheckInput = z.infer<typeof inputSchema>;

export const check = {
  schema,
  inputSchema,
  compile: (c, ctx) => ({ agents: selectAgents(ctx.inventory, c.select).map((a) => ({ name: a.name, machine: a.machine })) }),
  planProblems: (c, fleet) => selectionProblems(c.select, fleet),
  inputProblems: (c, fleet) => agentsProblems(c.agents, fleet),
  machines: (c) => [...new Set(c.agents.map((a) => a.machine))],
  // One machine's checks run one after another, the machines side by side.
  longestMs: (c, ctx) => Math.max(...[...new Set(c.agents.map((a) => a.machine))].map((m) => c.agents.filter((a) => a.machine === m).length * (ctx.catalogues[m]?.actions['integration-check'].timeoutMs ?? 0))),
  preview: (c) => ({ summary: `check the integration of ${c.agents.length} agents (${c.agents.map((a) => a.name).join(', ')})`, agents: c.agents.map((a) => a.name) }),
} satisfies StepKind<Check, CheckInput>;
