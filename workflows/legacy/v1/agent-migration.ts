import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { WindowResult } from '../../../activities/machine';
import { migrationSteps, stageLabel, type MigrationStep, type StageNumber } from '../../../decisions/migration-steps';
import { assessRisk, type RiskAssessment, type RiskInput, type Strategy } from '../../../decisions/risk';
import type { Baseline, Reading, TriggerEvidence, TriggerThresholds } from '../../../decisions/triggers';
import { onMachine, type MachineUnreachable } from '../../lib/machine';
import { countAgentRollback } from '../../lib/metrics';
import { Notifier } from '../../lib/notify';
import { healthyAfter } from './lib/undo';
import { machineUnreachableSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, type RejectedSignal } from '../../lib/steering';
import { searchAttributes } from '../../lib/visibility';

/** Input of agentMigrationWorkflow, version 1. */
export interface AgentMigrationInput {
  version: 1;
  agent: RiskInput & { name: string; machine: string };
  /** The change being rolled out; part of every idempotency key and marker. */
  change: string;
  thresholds: TriggerThresholds;
  timings: {
    baselineSamples: number;
    rapidVerificationMs: number;
    stageVerificationMs: number;
    observationMs: number;
    observationWindowMs: number;
    observationGapMs: number;
    sampleIntervalMs: number;
    /** How long a task may wait for the machine's worker before the machine counts as unreachable (default 2 min). */
    machineQueueWaitMs?: number;
  };
  /** Forces a strategy (recorded); otherwise the risk band decides. */
  strategyOverride?: { strategy: Strategy; reason: string };
  phase?: string;
  week?: string;
}

export type MigrationOutcome = 'migrated' | 'rolled-back' | 'rejected' | 'cancelled';

export type MigrationState =
  | 'starting'
  | 'baseline'
  | 'paused'
  | 'machine-unreachable'
  | 'awaiting-approval'
  | 'applying'
  | 'verifying'
  | 'observing'
  | 'inconclusive'
  | 'rolling-back'
  | 'needs-human'
  | 'done';

/** A human's decision on a stage of a critical-band migration. */
export interface StageDecision {
  stage: StageNumber;
  decision: 'approve' | 'reject';
  by: string;
  reason?: string;
}

/**
 * A human's decision on a verification that could not measure (probe errors, no data):
 * run the window again, accept the stage as verified, or roll back.
 */
export interface InconclusiveResolution {
  action: 'retry-window' | 'accept' | 'rollback';
  by: string;
  reason: string;
}

/** A human's decision after an undo failed: try the undo again, or accept the agent as it is. */
export interface UndoResolution {
  action: 'retry-undo' | 'accept';
  by: string;
  reason: string;
}

/** Level 1 (one agent) rollback budget, DOMAIN.md. */
export const componentRollbackBudgetMs = 2 * 60_000;

export interface RollbackRecord {
  reason: string;
  budgetMs: number;
  withinBudget?: boolean;
  trigger?: TriggerEvidence;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  undone: StageNumber[];
  undoFailures: Array<{ stage: StageNumber; error: string; at: string }>;
  resolution?: UndoResolution & { at: string };
  healthAfter?: Reading[];
  healthyAfter?: boolean;
}

export interface AgentMigrationStatus {
  agent: string;
  machine: string;
  change: string;
  assessment: RiskAssessment;
  strategy: Strategy;
  state: MigrationState;
  currentStage: StageNumber | null;
  stagesApplied: StageNumber[];
  awaitingApprovalFor: StageNumber | null;
  approvals: Array<StageDecision & { at: string }>;
  baseline: Baseline | null;
  lastReadings: Reading[];
  lastWindow: Omit<WindowResult, 'lastReadings'> | null;
  observedMs: number;
  trigger: TriggerEvidence | null;
  rollback: RollbackRecord | null;
  inconclusive: Array<{ reason: string; probeErrors: number; at: string; resolution?: InconclusiveResolution }>;
  /** While the machine is unreachable: the step that could not start, and since when. */
  unreachable: { machine: string; what: string; since: string } | null;
  /** Malformed steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  outcome: MigrationOutcome | null;
}

export type AgentMigrationResult = AgentMigrationStatus & { outcome: MigrationOutcome };

/** Current stage, readings, approvals and rollback of the migration. */
export const agentMigrationStatusQuery = defineQuery<AgentMigrationStatus>('status');
/** Approve or reject the next stage of a critical-band migration (validated: only the stage that waits). */
export const approveStageUpdate = defineUpdate<AgentMigrationStatus, [StageDecision]>('approveStage');
/** Resolve a failed undo (validated: only while the migration needs a human). */
export const resolveFailedUndoUpdate = defineUpdate<AgentMigrationStatus, [UndoResolution]>('resolveFailedUndo');
/** Decide what to do after an inconclusive verification (validated: only while one waits). */
export const resolveInconclusiveUpdate = defineUpdate<AgentMigrationStatus, [InconclusiveResolution]>('resolveInconclusive');

/** Who decided, and why: strings of sensible length (an update validator's check). */
function checkWho(by: unknown, reason: unknown, reasonRequired = false): void {
  if (typeof by !== 'string' || !by.trim() || by.length > 200) throw new Error('"by" must name who decided (a string of at most 200 characters)');
  if (reasonRequired && (typeof reason !== 'string' || !reason.trim())) throw new Error('"reason" is required');
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 2000)) throw new Error('"reason" must be a string of at most 2000 characters');
}

/** Workflow id an operator can read: the agent and the change, under its phase and week. */
export function agentMigrationWorkflowId(input: Pick<AgentMigrationInput, 'agent' | 'change' | 'phase' | 'week'>): string {
  return [input.phase ?? 'adhoc', input.week, input.agent.name, input.change].filter(Boolean).join('.');
}

/**
 * Migrates one agent in three stages with the strategy its risk band calls for, watched by
 * probes on its own machine; on a trigger, undoes the stages done in reverse order.
 */
export async function agentMigrationWorkflow(input: AgentMigrationInput): Promise<AgentMigrationResult> {
  if (input.version !== 1) throw ApplicationFailure.nonRetryable(`unsupported input version ${String(input.version)}`, 'InvalidInput');
  const { name: agent, machine } = input.agent;
  const assessment = assessRisk(input.agent);
  const strategy = input.strategyOverride?.strategy ?? assessment.strategy;
  const m = onMachine(machine, { queueWaitMs: input.timings.machineQueueWaitMs, whenUnreachable: (u) => holdForMachine(u) });
  const notify = new Notifier({ agent, machine, change: input.change, phase: input.phase, week: input.week });
  const status: AgentMigrationStatus = {
    agent,
    machine,
    change: input.change,
    assessment,
    strategy,
    state: 'starting',
    currentStage: null,
    stagesApplied: [],
    awaitingApprovalFor: null,
    approvals: [],
    baseline: null,
    lastReadings: [],
    lastWindow: null,
    observedMs: 0,
    trigger: null,
    rollback: null,
    inconclusive: [],
    unreachable: null,
    rejectedSignals: [],
    outcome: null,
  };
  /** Undo registered before each stage runs, so a stage that timed out after taking effect is still undone. */
  const compensations: StageNumber[] = [];
  let pendingResolution: UndoResolution | null = null;
  let pendingInconclusive: InconclusiveResolution | null = null;
  let paused = false;

  const setState = (state: MigrationState) => {
    status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  };
  setHandler(agentMigrationStatusQuery, () => status);

  /**
   * No worker of the machine took a task in time: it is stopped or cut off. Nothing can run
   * there, an undo included, so the migration holds where it is rather than start a rollback
   * that would itself need the machine. Its week pauses and raises the level-2 alert (an
   * agent migrated on its own raises it itself); `resume` tries the same step again, with the
   * same idempotency key.
   */
  async function holdForMachine(u: MachineUnreachable): Promise<void> {
    paused = true;
    const before = status.state;
    status.unreachable = { machine: u.machine, what: u.what, since: new Date().toISOString() };
    setState('machine-unreachable');
    notify.emit('machine.unreachable', { what: u.what, queueWaitMs: u.queueWaitMs });
    const parent = workflowInfo().parent;
    if (parent) {
      await getExternalWorkflowHandle(parent.workflowId)
        .signal(machineUnreachableSignal, { machine: u.machine, what: u.what, queueWaitMs: u.queueWaitMs, workflowId: workflowInfo().workflowId })
        .catch(() => undefined);
    } else {
      notify.alert(2, `machine ${u.machine} unreachable: ${agent} holds`, `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s; nothing was rolled back (that would need ${u.machine}). Bring its worker back, then send resume.`, { machine: u.machine });
    }
    await condition(() => !paused);
    status.unreachable = null;
    setState(before);
  }
  // A paused rollout lets this migration finish its current stage, then hold.
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setHandler(pauseSignal, (arg) => void (refused('pause', arg) || (paused = true)));
  setHandler(resumeSignal, (arg) => void (refused('resume', arg) || (paused = false)));
  setHandler(
    approveStageUpdate,
    (d) => {
      status.approvals.push({ ...d, at: new Date().toISOString() });
      status.awaitingApprovalFor = null;
      return status;
    },
    {
      validator: (d) => {
        requireObject(d, 'a stage decision');
        if (status.awaitingApprovalFor === null) throw new Error(`no stage of ${agent} is waiting for approval (state: ${status.state})`);
        if (d.stage !== status.awaitingApprovalFor) throw new Error(`stage ${d.stage} is not the one waiting; stage ${status.awaitingApprovalFor} is`);
        if (d.decision !== 'approve' && d.decision !== 'reject') throw new Error('decision must be "approve" or "reject"');
        checkWho(d.by, d.reason);
      },
    },
  );
  setHandler(
    resolveFailedUndoUpdate,
    (r) => {
      pendingResolution = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'needs-human') throw new Error(`${agent} does not need a human now (state: ${status.state})`);
        if (r.action !== 'retry-undo' && r.action !== 'accept') throw new Error('action must be "retry-undo" or "accept"');
        checkWho(r.by, r.reason, true);
      },
    },
  );

  setHandler(
    resolveInconclusiveUpdate,
    (r) => {
      pendingInconclusive = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'inconclusive') throw new Error(`no inconclusive verification of ${agent} waits (state: ${status.state})`);
        if (!['retry-window', 'accept', 'rollback'].includes(r.action)) throw new Error('action must be "retry-window", "accept" or "rollback"');
        checkWho(r.by, r.reason, true);
      },
    },
  );

  upsertSearchAttributes([
    { key: searchAttributes.agent, value: agent },
    { key: searchAttributes.machine, value: machine },
    { key: searchAttributes.riskBand, value: assessment.band },
    { key: searchAttributes.strategy, value: strategy },
    ...(input.phase ? [{ key: searchAttributes.phase, value: input.phase }] : []),
    ...(input.week ? [{ key: searchAttributes.week, value: input.week }] : []),
  ]);
  upsertMemo({ summary: `${agent} on ${machine}: ${input.change}, risk ${assessment.score} (${assessment.band}), ${strategy} migration` });
  log.info('migration planned', { agent, machine, score: assessment.score, band: assessment.band, strategy });

  const key = (stage: StageNumber, what: string) => `${workflowInfo().workflowId}:${input.change}:s${stage}:${what}`;
  const windowRequest = (durationMs: number) => ({
    agent,
    durationMs,
    sampleIntervalMs: input.timings.sampleIntervalMs,
    thresholds: input.thresholds,
    baseline: status.baseline,
    checkIntegration: true,
  });

  /**
   * Runs one verification window; returns the trigger if one fired. A window that could not
   * measure is not a failed one: it stops for a human (retry, accept, or roll back) instead of
   * rolling back on no data.
   */
  async function verify(durationMs: number, summary: string): Promise<TriggerEvidence | 'operator-rollback' | null> {
    for (;;) {
      const w = await m.verifyWindow(summary, windowRequest(durationMs));
      const { lastReadings, ...rest } = w;
      status.lastReadings = lastReadings;
      status.lastWindow = rest;
      if (w.escalations.length) notify.alert(1, `${agent}: metric far from baseline`, w.escalations[0]!.detail, { escalations: w.escalations });
      if (w.verdict === 'fail') return w.trigger!;
      if (w.verdict === 'pass') return null;
      const previous = status.state;
      const entry: AgentMigrationStatus['inconclusive'][number] = { reason: w.reason ?? 'probe errors', probeErrors: w.probeErrors, at: new Date().toISOString() };
      status.inconclusive.push(entry);
      setState('inconclusive');
      notify.alert(2, `${agent}: verification inconclusive`, `${entry.reason}. Decide with the resolveInconclusive update: retry-window, accept or rollback.`);
      pendingInconclusive = null;
      await condition(() => pendingInconclusive !== null);
      const decision: InconclusiveResolution = pendingInconclusive!;
      entry.resolution = decision;
      notify.emit('verification.resolved', { ...decision });
      if (decision.action === 'rollback') return 'operator-rollback';
      setState(previous);
      if (decision.action === 'accept') return null;
    }
  }

  async function runStep(step: MigrationStep): Promise<TriggerEvidence | 'rejected' | 'operator-rollback' | null> {
    switch (step.kind) {
      case 'baseline': {
        setState('baseline');
        const b = await m.measureBaseline(`baseline of ${agent} on ${machine}: ${input.timings.baselineSamples} samples`, {
          agent,
          samples: input.timings.baselineSamples,
          intervalMs: Math.min(1000, input.timings.sampleIntervalMs),
          responseThresholdMs: input.thresholds.responseTimeMs,
        });
        status.baseline = b.baseline;
        notify.emit('baseline.measured', { baseline: b.baseline });
        return null;
      }
      case 'await-approval': {
        setState('awaiting-approval');
        status.awaitingApprovalFor = step.stage;
        notify.alert(1, `${agent}: ${stageLabel(step.stage)} waits for approval`, `critical-band migration (score ${assessment.score}); approve or reject with the approveStage update`);
        // Never proceeds on its own: no timeout.
        await condition(() => status.awaitingApprovalFor === null);
        const last = status.approvals[status.approvals.length - 1]!;
        notify.emit('stage.decided', { stage: step.stage, decision: last.decision, by: last.by, reason: last.reason });
        return last.decision === 'reject' ? 'rejected' : null;
      }
      case 'apply-stage': {
        setState('applying');
        status.currentStage = step.stage;
        const where = `${stageLabel(step.stage)}, on ${machine}, ${agent}`;
        compensations.push(step.stage);
        notify.emit('stage.started', { stage: step.stage });
        await m.runAction(`backup before ${where}`, { action: 'backup', agent, change: input.change, stage: step.stage, idempotencyKey: key(step.stage, 'backup') });
        await m.runAction(where, { action: 'apply-stage', agent, change: input.change, stage: step.stage, idempotencyKey: key(step.stage, 'apply') });
        await m.runAction(`check marker of ${where}`, { action: 'verify-marker', agent, change: input.change, stage: step.stage });
        status.stagesApplied.push(step.stage);
        notify.emit('stage.applied', { stage: step.stage });
        return null;
      }
      case 'verify': {
        setState('verifying');
        return verify(step.durationMs, `verify ${stageLabel(step.stage)} of ${agent} on ${machine} for ${Math.round(step.durationMs / 1000)} s`);
      }
      case 'observe': {
        setState('observing');
        notify.emit('observation.started', { durationMs: step.durationMs });
        const windowMs = Math.max(1000, input.timings.observationWindowMs);
        while (status.observedMs < step.durationMs) {
          const slice = Math.min(windowMs, step.durationMs - status.observedMs);
          const started = Date.now();
          const hours = (status.observedMs / 3_600_000).toFixed(1);
          const trigger = await verify(slice, `observe ${agent} on ${machine}: hour ${hours} of ${(step.durationMs / 3_600_000).toFixed(1)}`);
          status.observedMs += Date.now() - started;
          if (trigger) return trigger;
          const gap = Math.min(input.timings.observationGapMs, step.durationMs - status.observedMs);
          if (gap > 0) {
            await sleep(gap, { summary: `observation of ${agent}: rest before the next window` });
            status.observedMs += gap;
          }
        }
        notify.emit('observation.passed', { observedMs: status.observedMs });
        return null;
      }
    }
  }

  /** Undoes applied stages in reverse order; a failed undo stops for a human. Not cancellable. */
  async function rollBack(reason: string, trigger: TriggerEvidence | null): Promise<void> {
    const started = Date.now();
    const record: RollbackRecord = { reason, budgetMs: componentRollbackBudgetMs, ...(trigger ? { trigger } : {}), startedAt: new Date(started).toISOString(), undone: [], undoFailures: [] };
    status.rollback = record;
    status.trigger = trigger;
    setState('rolling-back');
    notify.emit('rollback.started', { reason, trigger, stages: [...compensations].reverse() });
    notify.alert(1, `${agent}: rolling back`, reason, { trigger });
    countAgentRollback(trigger?.kind ?? null, machine);
    while (compensations.length > 0) {
      const stage = compensations[compensations.length - 1]!;
      try {
        await m.runAction(`undo ${stageLabel(stage)}, on ${machine}, ${agent}`, {
          action: 'undo-stage',
          agent,
          change: input.change,
          stage,
          idempotencyKey: key(stage, `undo${record.undoFailures.length}`),
        });
        compensations.pop();
        record.undone.push(stage);
        status.stagesApplied = status.stagesApplied.filter((s) => s !== stage);
      } catch (err) {
        // A failed undo is an incident, not a log line: alert, mark for a human, and wait.
        const error = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        record.undoFailures.push({ stage, error, at: new Date().toISOString() });
        setState('needs-human');
        notify.alert(2, `${agent}: undo of stage ${stage} failed`, `${error}. Resolve with the resolveFailedUndo update (retry-undo or accept).`, { stage });
        pendingResolution = null;
        await condition(() => pendingResolution !== null);
        const resolution: UndoResolution = pendingResolution!;
        record.resolution = { ...resolution, at: new Date().toISOString() };
        notify.emit('rollback.resolution', { ...resolution });
        if (resolution.action === 'accept') break;
        setState('rolling-back');
      }
    }
    const health = await m.probeAgent(`probe ${agent} after rollback`, { agent, responseThresholdMs: input.thresholds.responseTimeMs, checkIntegration: true });
    record.healthAfter = health;
    record.healthyAfter = healthyAfter(health);
    record.finishedAt = new Date().toISOString();
    record.durationMs = Date.now() - started;
    record.withinBudget = record.durationMs <= componentRollbackBudgetMs;
    status.currentStage = null;
    notify.emit('rollback.finished', { durationMs: record.durationMs, undone: record.undone, healthyAfter: record.healthyAfter });
    if (!record.healthyAfter) notify.alert(2, `${agent}: unhealthy after rollback`, JSON.stringify(health.filter((r) => r.status === 'measured' && r.value === 0)));
  }

  const finish = async (outcome: MigrationOutcome): Promise<AgentMigrationResult> => {
    status.outcome = outcome;
    setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }]);
    upsertMemo({ summary: `${agent} on ${machine}: ${input.change} ${outcome}${status.trigger ? ` (${status.trigger.kind}: ${status.trigger.detail})` : ''}` });
    notify.emit(`migration.${outcome}`, { trigger: status.trigger, rollbackMs: status.rollback?.durationMs });
    await CancellationScope.nonCancellable(() => notify.flush());
    return { ...status, outcome };
  };

  try {
    for (const step of migrationSteps(strategy, input.timings)) {
      if (paused && step.kind === 'apply-stage') {
        const before = status.state;
        setState('paused');
        await condition(() => !paused);
        setState(before);
      }
      const result = await runStep(step);
      if (result === 'rejected') {
        await CancellationScope.nonCancellable(() => rollBack(`stage rejected by ${status.approvals.at(-1)?.by ?? 'operator'}`, null));
        return await finish('rejected');
      }
      if (result === 'operator-rollback') {
        const by = status.inconclusive.at(-1)?.resolution?.by ?? 'operator';
        await CancellationScope.nonCancellable(() => rollBack(`inconclusive verification; ${by} chose to roll back`, null));
        return await finish('rolled-back');
      }
      if (result) {
        log.warn('trigger fired', { agent, kind: result.kind, measured: result.measured, threshold: result.threshold });
        await CancellationScope.nonCancellable(() => rollBack(`${result.kind}: ${result.detail}`, result));
        return await finish('rolled-back');
      }
    }
    status.currentStage = null;
    return await finish('migrated');
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => rollBack('migration cancelled', null));
      await finish('cancelled');
      throw err;
    }
    // An action that failed for good (retries spent) leaves the agent half-migrated: undo.
    const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    await CancellationScope.nonCancellable(() => rollBack(`a step failed: ${message}`, null));
    return await finish('rolled-back');
  }
}
