import { assessRisk } from '../decisions/risk';
import type { Agent, Inventory } from './schema/inventory';
import type { MigrateStep } from '../plan/steps/migrate';

export type AgentSelector = MigrateStep['select'];

/** Agents matching every given criterion of a selector, in inventory order. */
export function selectAgents(inventory: Inventory, select: AgentSelector): Agent[] {
  return inventory.agents.filter(
    (a) =>
      (!select.agents || select.agents.includes(a.name)) &&
      (!select.machines || select.machines.includes(a.machine)) &&
      (!select.categories || select.categories.includes(a.category)) &&
      (!select.riskBands || select.riskBands.includes(assessRisk(a).band)) &&
      !select.exclude?.includes(a.name),
  );
}
