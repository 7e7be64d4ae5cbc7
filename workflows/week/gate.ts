import { condition, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { DecisionRule } from '../../decisions/signatures';
import type { DecisionCheck } from '../agent-migration/messages';
import { autoPromotionDecider, autoPromotionStep, evaluateGate, nextGateReminder, type AutoPromotionPolicy, type GateReport } from '../../decisions/gates';
import { formatDuration } from '../../render/durations';
import { signatures } from '../lib/lazy-modules';
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
  if (d.by.trim().toLowerCase() === autoPromotionDecider) throw new Error(`"by": "${autoPromotionDecider}" is the gate's own policy; a person decides under their own name`);
  if (run.decision) throw new Error(`gate ${run.gateId} was already decided (${run.decision.decision} by ${run.decision.by})`);
  const problem = signatures().decisionProblem(gateRule(run), { workflowId: workflowInfo().workflowId, subject: run.gateId, decision: d.decision, by: d.by, ...(d.reason !== undefined ? { reason: d.reason } : {}) }, d.signature, Date.now());
  if (problem) throw new Error(`${run.gateId}: ${problem}`);
}

/** How the maker of a decision the validator let through was checked, where the plan names the gate's deciders. */
export function gateDecisionCheck(run: WeekRun, d: GateDecision): DecisionCheck | undefined {
  return gateRule(run) ? (d.signature ? 'signature' : 'name only (unsigned, as the plan allows)') : undefined;
}

/** Who may decide this gate (plan: gate.deciders), or undefined when the plan names nobody. */
function gateRule(run: WeekRun): DecisionRule | undefined {
  const signers = run.input.week.gate.deciders;
  return signers ? { signers, unsigned: run.input.settings.decisions?.unsigned ?? false } : undefined;
}

/** The decideGate update's handler: recorded; hold keeps the gate open. */
export function recordGateDecision(run: WeekRun, d: GateDecision, verified?: DecisionCheck): void {
  run.status.gate.decisions.push({ ...d, at: new Date().toISOString(), ...(verified ? { verified } : {}) });
  if (d.decision !== 'hold') run.decision = d;
}

/** The gate's report from what the week measured now. */
function gateReport(run: WeekRun): GateReport {
  const { status, input } = run;
  const counts = (state: string) => status.agents.filter((a) => a.state === state).length;
  return evaluateGate(input.week.gate.criteria, {
    agents: status.agents.map((a) => ({ agent: a.agent, machine: a.machine, outcome: a.state })),
    rollbacks: counts('rolled-back'),
    acceptedAsIs: counts('accepted-as-is'),
    uptimePercent: status.validation?.uptimePercent ?? null,
    ...(status.validation ? { validationKpis: status.validation.kpis } : {}),
  });
}

/**
 * The go/no-go gate: its report from what the week measured, then a person's decision (or
 * the scripted run's, or its auto-promotion policy's), with a level-1 reminder while it waits
 * and level 2 past its deadline. An abort closes it.
 */
export async function runGate(run: WeekRun): Promise<GateEnd> {
  const { status, input, notify } = run;
  status.gate.report = gateReport(run);
  status.gate.open = true;
  run.setState('gate-open');
  upsertSearchAttributes([{ key: searchAttributes.openGate, value: run.gateId }]);
  notify.emit('gate.opened', { gate: run.gateId, report: status.gate.report });
  const openedAt = Date.now();
  notify.alert(1, `${run.gateId} is open`, `${status.gate.report.met ? 'all criteria met' : 'criteria NOT met'}: ${status.gate.report.criteria.map((c) => c.detail).join('; ')}`);
  if (input.autoApproveGate) {
    recordGateDecision(run, { gate: run.gateId, decision: status.gate.report.met ? 'go' : 'rollback-week', by: input.autoApproveGate.by, reason: 'scripted run' });
  }
  if (input.week.gate.autoPromote && !run.decision) await autoPromote(run, input.week.gate.autoPromote, openedAt);
  const reminderMs = input.gateReminderMs ?? 4 * 3_600_000;
  const deadlineMs = input.week.gate.deadlineMs;
  if (deadlineMs !== undefined) status.gate.deadline = { at: new Date(openedAt + deadlineMs).toISOString(), passed: false };
  for (;;) {
    const next = nextGateReminder(Date.now() - openedAt, reminderMs, deadlineMs);
    if (await condition(() => run.decision !== null || run.aborted, next.waitMs)) break;
    if (next.level === 1) {
      notify.alert(1, `${run.gateId} still waits for a decision`, 'decide with the decideGate update: go, hold or rollback-week');
      continue;
    }
    // Past the gate's own deadline: the week is stuck on a person, so escalate (level 2).
    status.gate.deadline!.passed = true;
    const last = status.gate.decisions[status.gate.decisions.length - 1];
    notify.alert(2, `${run.gateId} is past its deadline`, `open for ${formatDuration(Date.now() - openedAt)}, deadline ${formatDuration(deadlineMs!)}: the week waits for a person's decision (decideGate: go, hold or rollback-week)${last ? `; last: ${last.decision} by ${last.by}` : ''}`);
  }
  status.gate.open = false;
  upsertSearchAttributes([{ key: searchAttributes.openGate, value: null }]);
  const d = run.decision as GateDecision | null;
  if (!d) return { kind: 'aborted' };
  const byPolicy = status.gate.decisions[status.gate.decisions.length - 1]?.byPolicy === true;
  notify.emit('gate.decided', { gate: run.gateId, decision: d.decision, by: d.by, reason: d.reason, waitedMs: Date.now() - openedAt, ...(byPolicy ? { byPolicy: true, report: status.gate.report } : {}) });
  recordGateWait(Date.now() - openedAt, d.decision);
  return d.decision === 'rollback-week' ? { kind: 'rollback-week', reason: `gate decision by ${d.by}: ${d.reason ?? 'no reason given'}` } : { kind: 'go' };
}

/**
 * The gate's auto-promotion (decisions/gates.ts autoPromotionStep): bake, announce, wait out
 * the veto window, then decide "go" as the policy, with the report it read, unless a person
 * held, paused the week or decided meanwhile. Returns once it promoted, was vetoed or withheld, a person
 * decided, or an abort closed the gate; the gate then waits for a person as any other.
 */
async function autoPromote(run: WeekRun, policy: AutoPromotionPolicy, openedAt: number): Promise<void> {
  const { status, notify } = run;
  const at = (ms: number) => new Date(openedAt + ms).toISOString();
  const window = { vetoFrom: at(policy.bakeMs), promotesAt: at(policy.bakeMs + policy.vetoMs) };
  let announced = false;
  for (;;) {
    const decisionsSeen = status.gate.decisions.length;
    const report = gateReport(run);
    // A pause vetoes the promotion, and so does a freeze of the line or a closed calendar (run.hold).
    const heldBecause = run.paused ? (status.pauseReason ?? 'paused') : run.hold ? `held by ${run.hold.by}: ${run.hold.reason}` : null;
    const step = autoPromotionStep(policy, report, status.gate.decisions, Date.now() - openedAt, heldBecause);
    const now = new Date().toISOString();
    switch (step.kind) {
      case 'withhold':
        status.gate.autoPromotion = { state: 'withheld', reason: step.reason, at: now };
        notify.emit('gate.auto-promotion-withheld', { gate: run.gateId, reason: step.reason, report });
        return;
      case 'vetoed':
        status.gate.autoPromotion = { state: 'vetoed', by: step.by, ...(step.reason ? { reason: step.reason } : {}), at: now };
        notify.emit('gate.auto-promotion-vetoed', { gate: run.gateId, by: step.by, reason: step.reason });
        return;
      case 'promote':
        status.gate.report = report;
        recordGateDecision(run, {
          gate: run.gateId,
          decision: 'go',
          by: autoPromotionDecider,
          reason: `every criterion met (${report.criteria.map((c) => c.detail).join('; ')}); baked ${formatDuration(policy.bakeMs)}, no hold in the ${formatDuration(policy.vetoMs)} veto window`,
        });
        status.gate.decisions[status.gate.decisions.length - 1]!.byPolicy = true;
        status.gate.autoPromotion = { state: 'promoted', at: now };
        return;
      case 'wait':
        status.gate.autoPromotion = { state: step.phase, ...window };
        if (step.phase === 'veto-window' && !announced) {
          announced = true;
          notify.alert(1, `${run.gateId} promotes itself at ${window.promotesAt} unless held`, `every criterion met; to stop it, decide "hold" with the decideGate update (phasegate gate hold) before ${window.promotesAt}`);
        }
        if (await condition(() => run.decision !== null || run.aborted || run.held || status.gate.decisions.length !== decisionsSeen, step.forMs)) {
          if (run.decision || run.aborted) {
            if (run.decision) status.gate.autoPromotion = { state: 'decided-by-person', at: new Date().toISOString() };
            return;
          }
        }
    }
  }
}
