import type { KpiId } from './validation/kpis';

/** Go/no-go gate criteria, judged from what the week measured. Pure. */

export type GateCriterion =
  | { kind: 'all-migrated'; machines?: string[] }
  | { kind: 'max-rollbacks'; count: number }
  | { kind: 'min-uptime'; percent: number }
  /** The week's validation KPIs (all, or the ones named) at least at their floor. */
  | { kind: 'validation-kpis'; kpis?: ValidationKpiId[] };

export type ValidationKpiId = KpiId;

export interface WeekFacts {
  agents: Array<{ agent: string; machine: string; outcome: string }>;
  rollbacks: number;
  /** Migrations whose undo failed and a person accepted as they are: changed, but not as planned. */
  acceptedAsIs?: number;
  /** System uptime the week's validation measured; null without one. */
  uptimePercent: number | null;
  /** The KPIs of the week's validation and their verdicts; absent without one. */
  validationKpis?: Array<{ id: ValidationKpiId; name: string; verdict: 'target' | 'floor' | 'missed' | 'not-exercised'; detail: string }>;
}

export interface CriterionResult {
  criterion: GateCriterion;
  met: boolean;
  detail: string;
}

export interface GateReport {
  met: boolean;
  criteria: CriterionResult[];
}

export function evaluateGate(criteria: readonly GateCriterion[], facts: WeekFacts): GateReport {
  const results = criteria.map((c): CriterionResult => {
    switch (c.kind) {
      case 'all-migrated': {
        const scope = facts.agents.filter((a) => !c.machines || c.machines.includes(a.machine));
        const done = scope.filter((a) => a.outcome === 'migrated').length;
        return { criterion: c, met: scope.length > 0 && done === scope.length, detail: `${done} of ${scope.length} agents${c.machines ? ` on ${c.machines.join(', ')}` : ''} migrated` };
      }
      case 'max-rollbacks':
        return {
          criterion: c,
          met: facts.rollbacks <= c.count,
          detail: `${facts.rollbacks} rollbacks (at most ${c.count})${facts.acceptedAsIs ? `; ${facts.acceptedAsIs} accepted as is after a failed undo, still changed` : ''}`,
        };
      case 'min-uptime':
        return facts.uptimePercent === null
          ? { criterion: c, met: false, detail: `no uptime measured yet (needs at least ${c.percent} %)` }
          : { criterion: c, met: facts.uptimePercent >= c.percent, detail: `uptime ${facts.uptimePercent} % (at least ${c.percent} %)` };
      case 'validation-kpis': {
        if (!facts.validationKpis) return { criterion: c, met: false, detail: 'no validation ran this week' };
        const scope = facts.validationKpis.filter((k) => !c.kpis || c.kpis.includes(k.id));
        // A KPI the window never exercised (no hub went down) is not a miss.
        const missed = scope.filter((k) => k.verdict === 'missed');
        return {
          criterion: c,
          met: missed.length === 0 && scope.length > 0,
          detail: missed.length ? `validation KPIs missed: ${missed.map((k) => `${k.name} (${k.detail})`).join('; ')}` : `${scope.length} validation KPIs at least at their floor`,
        };
      }
    }
  });
  return { met: results.every((r) => r.met), criteria: results };
}

/**
 * A gate that decides "go" by itself: once its criteria are met it bakes for `bakeMs`, then
 * announces the promotion and waits `vetoMs` for a person to hold it; with no hold by then, the
 * policy decides "go". It never promotes with a criterion unmet, and a hold (or any person's
 * decision) ends it for this gate.
 */
export interface AutoPromotionPolicy {
  bakeMs: number;
  vetoMs: number;
}

/** Who the history names as the decider of a gate the policy promoted (refused as a person's name). */
export const autoPromotionDecider = 'auto-promotion policy';

export type AutoPromotionStep =
  | { kind: 'withhold'; reason: string }
  | { kind: 'vetoed'; by: string; reason?: string }
  | { kind: 'wait'; phase: 'baking' | 'veto-window'; forMs: number }
  | { kind: 'promote' };

/**
 * What the policy does, `elapsedMs` after the gate opened, given its report and the decisions
 * recorded so far (a "hold" is a veto, and so is a pause of the week, `pausedBecause`). Pure:
 * workflows/week/gate.ts waits and acts on it.
 */
export function autoPromotionStep(policy: AutoPromotionPolicy, report: GateReport, decisions: ReadonlyArray<{ decision: string; by: string; reason?: string }>, elapsedMs: number, pausedBecause: string | null = null): AutoPromotionStep {
  const hold = decisions.find((d) => d.decision === 'hold');
  if (hold) return { kind: 'vetoed', by: hold.by, ...(hold.reason ? { reason: hold.reason } : {}) };
  // A person who paused the week while its gate waits wants no promotion either.
  if (pausedBecause !== null) return { kind: 'vetoed', by: 'a pause of the week', reason: pausedBecause };
  if (!report.criteria.length) return { kind: 'withhold', reason: 'the gate has no criteria to judge by' };
  if (!report.met) return { kind: 'withhold', reason: `criteria not met: ${report.criteria.filter((c) => !c.met).map((c) => c.detail).join('; ')}` };
  if (elapsedMs < policy.bakeMs) return { kind: 'wait', phase: 'baking', forMs: policy.bakeMs - elapsedMs };
  if (elapsedMs < policy.bakeMs + policy.vetoMs) return { kind: 'wait', phase: 'veto-window', forMs: policy.bakeMs + policy.vetoMs - elapsedMs };
  return { kind: 'promote' };
}

/**
 * The next wait of an open gate for a decision, `elapsedMs` after it opened, and the alert the
 * wait raises if nobody decides meanwhile: level-1 reminders every `reminderMs`; with a
 * deadline, the wait ends at the deadline, whose alert is level 2, and every reminder after it
 * is level 2 too. Pure: workflows/week/gate.ts waits and alerts.
 */
export function nextGateReminder(elapsedMs: number, reminderMs: number, deadlineMs?: number): { waitMs: number; level: 1 | 2 } {
  if (deadlineMs === undefined) return { waitMs: reminderMs, level: 1 };
  if (elapsedMs >= deadlineMs) return { waitMs: reminderMs, level: 2 };
  const toDeadline = deadlineMs - elapsedMs;
  return toDeadline <= reminderMs ? { waitMs: toDeadline, level: 2 } : { waitMs: reminderMs, level: 1 };
}
