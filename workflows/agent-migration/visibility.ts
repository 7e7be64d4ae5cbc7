import type { SearchAttributePair } from '@temporalio/common';
import { assessRisk } from '../../decisions/risk';
import { searchAttributes } from '../lib/visibility';
import type { AgentMigrationInput } from './messages';

/**
 * The status search attribute of a migration with the brief history (messages.ts,
 * `briefHistory`) from its start through its verified stages; its week sets it as it starts it.
 */
export const briefStatusMigrating = 'migrating';

/**
 * What an operator filters a migration by in the Web UI (agent, machine, band, strategy, phase,
 * week) and its one-line memo, from its input alone. A week sets them when it starts the
 * migration (workflows/week/steps/migrate.ts); a migration started another way (a test, an
 * older week) writes them itself at its start (workflow.ts). One function, so both agree.
 */
export function migrationVisibility(input: AgentMigrationInput): { searchAttributes: SearchAttributePair[]; summary: string } {
  const assessment = assessRisk(input.agent);
  const strategy = input.strategyOverride?.strategy ?? assessment.strategy;
  return {
    searchAttributes: [
      { key: searchAttributes.agent, value: input.agent.name },
      { key: searchAttributes.machine, value: input.agent.machine },
      { key: searchAttributes.riskBand, value: assessment.band },
      { key: searchAttributes.strategy, value: strategy },
      ...(input.phase ? [{ key: searchAttributes.phase, value: input.phase }] : []),
      ...(input.week ? [{ key: searchAttributes.week, value: input.week }] : []),
    ] as SearchAttributePair[],
    summary: `${input.agent.name} on ${input.agent.machine}: ${input.change}, risk ${assessment.score} (${assessment.band}), ${strategy} migration`,
  };
}
