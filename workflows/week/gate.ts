import { condition, upsertSearchAttributes } from '@temporalio/workflow';
import { evaluateGate } from '../../decisions/gates';
import { recordGateWait } from '../lib/metrics';
import { requireObject } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import type { WeekRun } from './run';
import type { GateDecision } from './messages';

/** How the gate ended: go, roll the week back (a person's decision), or an abort closed it. */
export type GateEnd = { kind: 'go' } | { kind: 'rollback-week'; reason: string } | { kind: 'aborted' };

/** The decideGate update's validator: only the open gate, a known decision, once. */
export function checkGateDecision(run: WeekRun, d: GateDecision): void {
  requireObject(d, 'a gate decision');
  if (!run.status.gate.open) throw new Error(`gate ${run.gateId} is not open (week state: ${run.status.state})`);
  if (d.gate !== run.gateId) throw new Error(`gate "${d.gate}" is not the open gate; the open gate is "${run.gateId}"`);
  if (!['go', 'hold', 'rollback-week'].includes(d.decision)) throw new Error('decision must be go, hold or rollback-week');
  if (typeof d.by !== 'string' || !d.by.trim() || d.by.length > 200) throw new Error('"by" must name who decided (a string of at most 200 characters)');
  if (d.reason !== undefined && (typeof d.reason !== 'string' || d.reason.length > 2000)) throw new Error('"reason" must be a string of at most 2000 characters');
  if (run.decision) throw new Error(`gate ${run.gateId} was already decided (${run.decision.decision} by ${run.decision.by})`);
}

/** The decideGate update's handler: recorded; hold keeps the gate open. */
export function recordGateDecision(run: WeekRun, d: GateDecision): void {
  run.status.gate.decisions.push({ ...d, at: new Date().toISOString() });
  if (d.decision !== 'hold') run.decision = d;
}

/**
 * The go/no-go gate: its report from what the week measured, then a person's decision (or
 * the scripted run's), with a level-1 reminder while it waits. An abort closes it.
 */
export async function runGate(run: WeekRun): Promise<GateEnd> {
  const { status, input, notify } = run;
  const counts = (state: string) => status.agents.filter((a) => a.state === state).length;
  status.gate.report = evaluateGate(input.week.gate.criteria, {
    agents: status.agents.map((a) => ({ agent: a.agent, machine: a.machine, outcome: a.state })),
    rollbacks: counts('rolled-back'),
    acceptedAsIs: counts('accepted-as-is'),
    uptimePercent: status.validation?.uptimePercent ?? null,
    ...(status.validation ? { validationKpis: status.validation.kpis } : {}),
  });
  status.gate.open = true;
  run.setState('gate-open');
  upsertSearchAttributes([{ key: searchAttributes.openGate, value: run.gateId }]);
  notify.emit('gate.opened', { gate: run.gateId, report: status.gate.report });
  const openedAt = Date.now();
  notify.alert(1, `${run.gateId} is open`, `${status.gate.report.met ? 'all criteria met' : 'criteria NOT met'}: ${status.gate.report.criteria.map((c) => c.detail).join('; ')}`);
  if (input.autoApproveGate) {
    recordGateDecision(run, { gate: run.gateId, decision: status.gate.report.met ? 'go' : 'rollback-week', by: input.autoApproveGate.by, reason: 'scripted run' });
  }
  const reminderMs = input.gateReminderMs ?? 4 * 3_600_000;
  while (!(await condition(() => run.decision !== null || run.aborted, reminderMs))) {
    notify.alert(1, `${run.gateId} still waits for a decision`, 'decide with the decideGate update: go, hold or rollback-week');
  }
  status.gate.open = false;
  upsertSearchAttributes([{ key: searchAttributes.openGate, value: null }]);
  const d = run.decision as GateDecision | null;
  if (!d) return { kind: 'aborted' };
  notify.emit('gate.decided', { gate: run.gateId, decision: d.decision, by: d.by, reason: d.reason, waitedMs: Date.now() - openedAt });
  recordGateWait(Date.now() - openedAt, d.decision);
  return d.decision === 'rollback-week' ? { kind: 'rollback-week', reason: `gate decision by ${d.by}: ${d.reason ?? 'no reason given'}` } : { kind: 'go' };
}
