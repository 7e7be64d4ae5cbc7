import { metricMeter } from '@temporalio/workflow';

/**
 * phasegate's rollout metrics, recorded from workflows through the SDK's metric meter: the
 * control worker's Prometheus endpoint serves them beside the SDK's own. The SDK drops
 * metrics recorded while a history is replayed, so a restarted worker does not count a
 * rollback twice. Names are what the Grafana dashboard (config/production/grafana) queries.
 */

/** Every state an agent can be in within a week (WeekStatus['agents'][number]['state']). */
export const agentStates = ['waiting', 'running', 'migrated', 'rolled-back', 'accepted-as-is', 'failed', 'rejected', 'refused', 'cancelled', 'undone-with-week'] as const;

/** A trigger fired and a migration is being rolled back (level 1: that agent's own stages). */
export function countAgentRollback(triggerKind: string | null, machine: string): void {
  metricMeter.createCounter('phasegate_rollbacks', 'rollbacks', 'Rollbacks started, by level (1 agent, 2 week, 3 phase)').add(1, { level: '1', machine });
  if (triggerKind) metricMeter.createCounter('phasegate_triggers', 'triggers', 'Rollback triggers that fired, by kind').add(1, { kind: triggerKind, machine });
}

/** A week (level 2) or a whole phase (level 3) is being rolled back. */
export function countWideRollback(level: 2 | 3): void {
  metricMeter.createCounter('phasegate_rollbacks', 'rollbacks', 'Rollbacks started, by level (1 agent, 2 week, 3 phase)').add(1, { level: String(level) });
}

/** A progress deadline passed (decisions/deadlines.ts): of a migration's step or stage, or of a week. */
export function countDeadlinePassed(scope: string, action: string, machine?: string): void {
  metricMeter.createCounter('phasegate_deadlines_passed', 'deadlines', 'Progress deadlines passed, by scope (step, stage, week) and what was done').add(1, { scope, action, ...(machine ? { machine } : {}) });
}

/** How long a go/no-go gate stayed open before a person (or a scripted run) decided it. */
export function recordGateWait(waitedMs: number, decision: string): void {
  metricMeter.createHistogram('phasegate_gate_wait_ms', 'int', 'ms', 'Time a go/no-go gate waited for its decision').record(Math.max(0, Math.round(waitedMs)), { decision });
}

/**
 * Agents of a week by machine and state; every state is set, so a state that empties reads 0.
 * With `machine`, only that machine's gauges: a week calls this as each migration starts and
 * ends, and at thousands of agents on fifty machines a full pass each time made its workflow
 * tasks take seconds (one pass over the agents here, not one per machine and state).
 */
export function setAgentsByState(phase: string, week: string, agents: readonly { machine: string; state: string }[], machine?: string): void {
  const gauge = metricMeter.createGauge('phasegate_agents', 'int', 'agents', 'Agents of a running week, by machine and state');
  const counts = new Map<string, Map<string, number>>();
  if (machine !== undefined) counts.set(machine, new Map());
  for (const a of agents) {
    if (machine !== undefined && a.machine !== machine) continue;
    let byState = counts.get(a.machine);
    if (!byState) counts.set(a.machine, (byState = new Map()));
    byState.set(a.state, (byState.get(a.state) ?? 0) + 1);
  }
  for (const [m, byState] of counts) {
    for (const state of agentStates) gauge.set(byState.get(state) ?? 0, { phase, week, machine: m, state });
  }
}
