import type { AgentMigrationInput } from '../agent-migration';
import type { Strategy } from '../../../../decisions/risk';

/** The parts of a plan an agent migration needs (plain data, so workflows can call this too). */
export interface PlanSettings {
  thresholds: AgentMigrationInput['thresholds'] & { sampleIntervalMs: number };
  timings: Omit<AgentMigrationInput['timings'], 'sampleIntervalMs'>;
  /** Watch the cross-machine links while a week's migrations and operations run (default true). */
  watchLinks?: boolean;
}

export interface InventoryAgent {
  name: string;
  machine: string;
  risk: AgentMigrationInput['agent']['risk'];
  source?: { sizeKb?: number };
  riskOverride?: { score: number; reason: string };
}

/** Builds the versioned input of one agent's migration from its inventory entry and the plan. */
export function migrationInput(
  agent: InventoryAgent,
  plan: PlanSettings,
  change: string,
  where: { phase?: string; week?: string; strategyOverride?: { strategy: Strategy; reason: string } } = {},
): AgentMigrationInput {
  const { sampleIntervalMs, ...thresholds } = plan.thresholds;
  return {
    version: 1,
    agent: {
      name: agent.name,
      machine: agent.machine,
      risk: agent.risk,
      ...(agent.source?.sizeKb !== undefined ? { source: { sizeKb: agent.source.sizeKb } } : {}),
      ...(agent.riskOverride ? { riskOverride: agent.riskOverride } : {}),
    },
    change,
    thresholds,
    timings: { ...plan.timings, sampleIntervalMs },
    ...(where.phase ? { phase: where.phase } : {}),
    ...(where.week ? { week: where.week } : {}),
    ...(where.strategyOverride ? { strategyOverride: where.strategyOverride } : {}),
  };
}
