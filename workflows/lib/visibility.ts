import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes an operator filters by in the Web UI's query box, e.g.
 * `PhasegateAgent = "tutoring_agent" AND PhasegateOutcome = "rolled-back"`.
 * scripts and the local stack register them on the dev server at start.
 */
export const searchAttributes = {
  phase: defineSearchAttributeKey('PhasegatePhase', SearchAttributeType.KEYWORD),
  week: defineSearchAttributeKey('PhasegateWeek', SearchAttributeType.KEYWORD),
  agent: defineSearchAttributeKey('PhasegateAgent', SearchAttributeType.KEYWORD),
  machine: defineSearchAttributeKey('PhasegateMachine', SearchAttributeType.KEYWORD),
  riskBand: defineSearchAttributeKey('PhasegateRiskBand', SearchAttributeType.KEYWORD),
  strategy: defineSearchAttributeKey('PhasegateStrategy', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('PhasegateStatus', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('PhasegateOutcome', SearchAttributeType.KEYWORD),
  openGate: defineSearchAttributeKey('PhasegateOpenGate', SearchAttributeType.KEYWORD),
  /** What the workflow waits for a person for (stage-approval, inconclusive, failed-undo, read-back); cleared once answered. */
  waitingFor: defineSearchAttributeKey('PhasegateWaitingFor', SearchAttributeType.KEYWORD),
  /**
   * While the line is frozen (workflows/line.ts): who froze it and why; cleared by unfreeze.
   * Text, not Keyword: the dev server's SQLite visibility holds at most 10 Keyword attributes.
   * Filter with `PhasegateFrozen IS NOT NULL`.
   */
  frozen: defineSearchAttributeKey('PhasegateFrozen', SearchAttributeType.TEXT),
} as const;

/** Names and types for `temporal server start-dev --search-attribute NAME=TYPE`. */
export const searchAttributeRegistrations: Record<string, 'Keyword' | 'Text'> = Object.fromEntries(
  Object.values(searchAttributes).map((k) => [k.name, k.type === SearchAttributeType.TEXT ? ('Text' as const) : ('Keyword' as const)]),
);

/** IndexedValueType of Temporal's API (temporal.api.enums.v1): TEXT 1, KEYWORD 2. */
export const indexedValueTypes = { Text: 1, Keyword: 2 } as const;
