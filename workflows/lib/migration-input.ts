import type { DeployCalendar } from '../../decisions/calendar';
import type { Signer } from '../../decisions/signatures';
import type { AgentMigrationInput } from '../agent-migration';
import type { Strategy } from '../../decisions/risk';

/** The parts of a plan an agent migration needs (plain data, so workflows can call this too). */
export interface PlanSettings {
  thresholds: AgentMigrationInput['thresholds'];
  timings: AgentMigrationInput['timings'];
  /** Watch the cross-machine links while a week's migrations and operations run (default true). */
  watchLinks?: boolean;
  /** How long a week's own history may grow before it carries on in a new run (config/schema/plan.ts). */
  history?: { newRunAfterEvents: number; migrationsPerRound: number; undosPerChild?: number };
  /** Who may approve critical-band stages, with their keys, and whether unsigned decisions are taken (decisions/signatures.ts). */
  decisions?: { stageApprovers?: Signer[]; unsigned: boolean };
  /** The deployment's deploy windows and calendar freezes (decisions/calendar.ts); a week holds outside them. */
  calendar?: DeployCalendar;
}

export interface InventoryAgent {
  name: string;
  machine: string;
  risk: AgentMigrationInput['agent']['risk'];
  source?: { sizeKb?: number };
  riskOverride?: { score: number; reason: string };
  /** Unchanged agents on its machine, probed beside it (decisions/controls.ts). */
  controls?: string[];
}

/** Builds the versioned input of one agent's migration from its entry in a week's step (plan/steps/migrate.ts) and the plan. */
export function migrationInput(
  agent: InventoryAgent,
  plan: PlanSettings,
  change: string,
  where: { phase?: string; week?: string; strategyOverride?: { strategy: Strategy; reason: string }; whenAgentBusy?: 'wait' | 'refuse' } = {},
): AgentMigrationInput {
  return {
    version: 1,
    agent,
    change,
    thresholds: plan.thresholds,
    timings: plan.timings,
    ...(where.phase ? { phase: where.phase } : {}),
    ...(where.week ? { week: where.week } : {}),
    ...(where.strategyOverride ? { strategyOverride: where.strategyOverride } : {}),
    ...(where.whenAgentBusy ? { whenAgentBusy: where.whenAgentBusy } : {}),
    ...(plan.decisions?.stageApprovers ? { approvals: { signers: plan.decisions.stageApprovers, unsigned: plan.decisions.unsigned } } : {}),
  };
}
