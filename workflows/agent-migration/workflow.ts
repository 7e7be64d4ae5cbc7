import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setDefaultSignalHandler,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parseWorkflowInput } from '../../config/schema/workflow-inputs';
import { migrationSteps, stageLabel, type MigrationStep, type StageNumber } from '../../decisions/migration-steps';
import { assessRisk } from '../../decisions/risk';
import type { TriggerEvidence } from '../../decisions/triggers';
import { agentMigrationWorkflow as agentMigrationV1 } from '../legacy/v1/agent-migration';
import { leaseFreedSignal, leaseHeldSignal, releaseAgentLease, takeAgentLease, type LeaseWaitState } from '../agent-lease';
import { runKey } from '../lib/ids';
import { onMachine, type MachineUnreachable } from '../lib/machine';
import { countAgentRollback } from '../lib/metrics';
import { Notifier } from '../lib/notify';
import { runScopedPatch } from '../lib/patches';
import { PersonWaits, tellParent } from '../lib/person';
import { abortSignal, machineUnreachableSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, unknownSignalRefuser } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import { newRollbackRecord, rollBack, type UndoResolution } from '../rollback/engine';
import {
  agentMigrationStatusQuery,
  approveStageUpdate,
  checkUndoResolution,
  checkWho,
  resolveFailedUndoUpdate,
  resolveInconclusiveUpdate,
  type AgentMigrationInput,
  type AgentMigrationResult,
  type AgentMigrationStatus,
  type InconclusiveResolution,
  type MigrationOutcome,
  type MigrationState,
} from './messages';

/** How the steps ended, before any rollback. */
type StepsEnd =
  | { kind: 'migrated' }
  | { kind: 'trigger'; trigger: TriggerEvidence }
  | { kind: 'rejected'; by: string }
  | { kind: 'operator-rollback'; by: string }
  | { kind: 'aborted'; why: string }
  | { kind: 'failed'; message: string };

/**
 * Migrates one agent in three stages with the strategy its risk band calls for, watched by
 * probes on its own machine; on a trigger, a rejection, an abort from its week or a step that
 * failed for good, undoes the stages it registered (rollback/engine.ts, level 1). Holds its
 * agent's lease (agent-lease.ts) from start to end, so no other migration acts on the agent.
 */
export async function agentMigrationWorkflow(given: AgentMigrationInput): Promise<AgentMigrationResult> {
  // Histories begun before run-scoped ids and the rollback engine replay on the code that made them.
  if (!patched(runScopedPatch)) return agentMigrationV1(given as never) as unknown as Promise<AgentMigrationResult>;
  const parsed = parseWorkflowInput('agentMigration', given);
  if (!parsed.ok) throw ApplicationFailure.nonRetryable(`agentMigrationWorkflow input refused before any action: ${parsed.problem}`, 'InvalidInput');
  const input: AgentMigrationInput = parsed.value;

  const { name: agent, machine } = input.agent;
  const assessment = assessRisk(input.agent);
  const strategy = input.strategyOverride?.strategy ?? assessment.strategy;
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
    waitingForPerson: [],
    agentHeldBy: null,
    abort: null,
    rejectedSignals: [],
    outcome: null,
  };
  const persons = new PersonWaits(status.waitingForPerson);
  /** Undo registered before each stage runs, so a stage that timed out after taking effect is still undone. */
  const compensations: StageNumber[] = [];
  let pendingUndo: UndoResolution | null = null;
  let pendingInconclusive: InconclusiveResolution | null = null;
  let paused = false;
  const lease: LeaseWaitState = { heldBy: null, freed: false };
  /** The steps; an abort from the week cancels them (the in-flight command is waited for), then the rollback runs. */
  const work = new CancellationScope();

  const setState = (state: MigrationState) => {
    status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  };
  setHandler(agentMigrationStatusQuery, () => status);

  /**
   * No worker of the machine took a task in time: it is stopped or cut off. Nothing can run
   * there, an undo included, so the migration (or its rollback) holds where it is rather than
   * start something that would itself need the machine. Its week pauses and raises the
   * level-2 alert (a migration on its own raises it itself); `resume` tries the same step
   * again, with the same idempotency key.
   */
  async function holdForMachine(u: MachineUnreachable): Promise<void> {
    paused = true;
    const before = status.state;
    status.unreachable = { machine: u.machine, what: u.what, since: new Date().toISOString() };
    setState('machine-unreachable');
    notify.emit('machine.unreachable', { what: u.what, queueWaitMs: u.queueWaitMs });
    if (workflowInfo().parent) {
      await tellParent(machineUnreachableSignal, { machine: u.machine, what: u.what, queueWaitMs: u.queueWaitMs, workflowId: workflowInfo().workflowId });
    } else {
      notify.alert(2, `machine ${u.machine} unreachable: ${agent} holds`, `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s; nothing was rolled back (that would need ${u.machine}). Bring its worker back, then send resume.`, { machine: u.machine });
    }
    await condition(() => !paused);
    status.unreachable = null;
    setState(before);
  }
  const m = onMachine(machine, { queueWaitMs: input.timings.machineQueueWaitMs, whenUnreachable: holdForMachine });

  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  // A paused rollout lets this migration finish its current stage, then hold.
  setHandler(pauseSignal, (arg) => void (refused('pause', arg) || (paused = true)));
  setHandler(resumeSignal, (arg) => void (refused('resume', arg) || (paused = false)));
  setHandler(abortSignal, (arg) => {
    if (refused('abort', arg) || status.abort || status.outcome) return;
    status.abort = { level: arg.level, by: arg.by, ...(arg.reason ? { reason: arg.reason } : {}), at: new Date().toISOString() };
    work.cancel();
  });
  setDefaultSignalHandler(unknownSignalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry })));
  setHandler(leaseHeldSignal, (h) => void (lease.heldBy = h));
  setHandler(leaseFreedSignal, () => void (lease.freed = true));
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
      pendingUndo = r;
      return status;
    },
    {
      validator: (r) => {
        requireObject(r, 'a resolution');
        if (status.state !== 'needs-human') throw new Error(`${agent} does not need a human now (state: ${status.state})`);
        checkUndoResolution(r);
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
  // Cancelling this workflow (the Temporal CLI or UI, or its week closing) is an abort: the
  // steps stop and the stages are undone, never left half-applied.
  CancellationScope.current().cancelRequested.catch(() => {
    if (status.abort || status.outcome) return;
    status.abort = { level: 1, by: 'temporal', reason: 'workflow cancellation requested', at: new Date().toISOString() };
    work.cancel();
  });

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

  const key = (stage: StageNumber, what: string) => runKey(`${input.change}:s${stage}:${what}`);
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
      const decision = await persons.wait({ agent, machine, what: 'inconclusive', detail: entry.reason }, () => pendingInconclusive);
      entry.resolution = decision;
      notify.emit('verification.resolved', { ...decision });
      if (decision.action === 'rollback') return 'operator-rollback';
      setState(previous);
      if (decision.action === 'accept') return null;
    }
  }

  async function runStep(step: MigrationStep): Promise<StepsEnd | null> {
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
        const last = await persons.wait({ agent, machine, what: 'stage-approval', detail: `${stageLabel(step.stage)} of ${input.change}`, stage: step.stage }, () =>
          status.awaitingApprovalFor === null ? status.approvals[status.approvals.length - 1]! : null,
        );
        notify.emit('stage.decided', { stage: step.stage, decision: last.decision, by: last.by, reason: last.reason });
        return last.decision === 'reject' ? { kind: 'rejected', by: last.by } : null;
      }
      case 'apply-stage': {
        if (paused) {
          const before = status.state;
          setState('paused');
          await condition(() => !paused);
          setState(before);
        }
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
        const r = await verify(step.durationMs, `verify ${stageLabel(step.stage)} of ${agent} on ${machine} for ${Math.round(step.durationMs / 1000)} s`);
        return r === 'operator-rollback' ? { kind: 'operator-rollback', by: status.inconclusive.at(-1)?.resolution?.by ?? 'operator' } : r ? { kind: 'trigger', trigger: r } : null;
      }
      case 'observe': {
        setState('observing');
        notify.emit('observation.started', { durationMs: step.durationMs });
        const windowMs = Math.max(1000, input.timings.observationWindowMs);
        while (status.observedMs < step.durationMs) {
          const slice = Math.min(windowMs, step.durationMs - status.observedMs);
          const started = Date.now();
          const hours = (status.observedMs / 3_600_000).toFixed(1);
          const r = await verify(slice, `observe ${agent} on ${machine}: hour ${hours} of ${(step.durationMs / 3_600_000).toFixed(1)}`);
          status.observedMs += Date.now() - started;
          if (r === 'operator-rollback') return { kind: 'operator-rollback', by: status.inconclusive.at(-1)?.resolution?.by ?? 'operator' };
          if (r) return { kind: 'trigger', trigger: r };
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

  async function runSteps(): Promise<StepsEnd> {
    try {
      return await work.run(async () => {
        for (const step of migrationSteps(strategy, input.timings)) {
          const end = await runStep(step);
          if (end) return end;
        }
        return { kind: 'migrated' } as const;
      });
    } catch (err) {
      if (isCancellation(err) && status.abort) return { kind: 'aborted', why: `aborted at level ${status.abort.level} by ${status.abort.by}${status.abort.reason ? `: ${status.abort.reason}` : ''}` };
      // An action that failed for good (retries spent) may leave the agent half-migrated: undo.
      const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      return { kind: 'failed', message };
    }
  }

  const finish = async (outcome: MigrationOutcome): Promise<AgentMigrationResult> => {
    status.outcome = outcome;
    setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }]);
    const left = outcome === 'accepted-as-is' ? ` (stages ${status.stagesApplied.join(', ')} left in place by ${status.rollback?.changes[0]?.resolutions.at(-1)?.by ?? 'a person'})` : '';
    upsertMemo({ summary: `${agent} on ${machine}: ${input.change} ${outcome}${left}${status.trigger ? ` (${status.trigger.kind}: ${status.trigger.detail})` : ''}` });
    notify.emit(`migration.${outcome}`, { trigger: status.trigger, rollbackMs: status.rollback?.durationMs, stagesApplied: status.stagesApplied });
    await notify.flush();
    await condition(allHandlersFinished);
    return { ...status, outcome };
  };

  return CancellationScope.nonCancellable(async () => {
    const taken = await work
      .run(() =>
        takeAgentLease({ agent, holder: workflowInfo().workflowId, change: input.change }, input.whenAgentBusy ?? 'wait', lease, (holder) => {
          status.agentHeldBy = holder;
          setState('waiting-for-agent');
          notify.emit('agent.busy', { heldBy: holder });
        }),
      )
      .catch((err: unknown) => {
        if (isCancellation(err)) return null;
        throw err;
      });
    if (!taken) return finish('cancelled');
    if ('refused' in taken) {
      status.agentHeldBy = taken.refused;
      notify.alert(1, `${agent}: migration refused`, `another migration holds ${agent}${taken.refused ? ` (${taken.refused.holder}, ${taken.refused.change})` : ''}; this plan refuses rather than waits`);
      return finish('refused');
    }
    status.agentHeldBy = null;
    let outcome: MigrationOutcome;
    try {
      outcome = await migrateAndUndoIfNeeded();
    } finally {
      await releaseAgentLease(taken.lease);
    }
    return finish(outcome);
  });

  /** The steps, then (unless migrated, or stopped before any stage) the level-1 rollback. */
  async function migrateAndUndoIfNeeded(): Promise<MigrationOutcome> {
    const end = await runSteps();
    if (end.kind === 'migrated') {
      status.currentStage = null;
      return 'migrated';
    }
    if (end.kind === 'aborted' && compensations.length === 0) return 'cancelled';
    const reason =
      end.kind === 'trigger'
        ? `${end.trigger.kind}: ${end.trigger.detail}`
        : end.kind === 'rejected'
          ? `stage rejected by ${end.by}`
          : end.kind === 'operator-rollback'
            ? `inconclusive verification; ${end.by} chose to roll back`
            : end.kind === 'aborted'
              ? end.why
              : `a step failed: ${end.message}`;
    const trigger = end.kind === 'trigger' ? end.trigger : null;
    if (trigger) log.warn('trigger fired', { agent, kind: trigger.kind, measured: trigger.measured, threshold: trigger.threshold });
    status.trigger = trigger;
    const record = newRollbackRecord(1, reason, trigger);
    status.rollback = record;
    setState('rolling-back');
    countAgentRollback(trigger?.kind ?? null, machine);
    await rollBack(
      [{ kind: 'migration', agent, machine, change: input.change, week: input.week ?? '', stages: [...compensations] }],
      {
        level: 1,
        reason,
        trigger,
        label: agent,
        keyPrefix: runKey('rollback'),
        responseThresholdMs: input.thresholds.responseTimeMs,
        notify,
        machine: { queueWaitMs: input.timings.machineQueueWaitMs, whenUnreachable: holdForMachine },
        askPerson: async (p) => {
          setState('needs-human');
          pendingUndo = null;
          const decision = await persons.wait({ agent, machine, what: p.kind, detail: p.error }, () => pendingUndo);
          setState('rolling-back');
          return decision;
        },
        onChange: (_c, r) => {
          status.stagesApplied = r.remainingStages;
        },
      },
      record,
    );
    status.currentStage = null;
    return record.acceptedAsIs.length ? 'accepted-as-is' : end.kind === 'rejected' ? 'rejected' : 'rolled-back';
  }
}
