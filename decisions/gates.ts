/** Go/no-go gate criteria, judged from what the week measured. Pure. */

export type GateCriterion =
  | { kind: 'all-migrated'; machines?: string[] }
  | { kind: 'max-rollbacks'; count: number }
  | { kind: 'min-uptime'; percent: number };

export interface WeekFacts {
  agents: Array<{ agent: string; machine: string; outcome: string }>;
  rollbacks: number;
  /** Uptime over the week's observation, once the validation issue measures it. */
  uptimePercent: number | null;
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
        return { criterion: c, met: facts.rollbacks <= c.count, detail: `${facts.rollbacks} rollbacks (at most ${c.count})` };
      case 'min-uptime':
        return facts.uptimePercent === null
          ? { criterion: c, met: false, detail: `no uptime measured yet (needs at least ${c.percent} %)` }
          : { criterion: c, met: facts.uptimePercent >= c.percent, detail: `uptime ${facts.uptimePercent} % (at least ${c.percent} %)` };
    }
  });
  return { met: results.every((r) => r.met), criteria: results };
}
