import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../../../activities/control';
import { budgetExceeded, planBatches } from '../../../decisions/batches';
import { evaluateGate, type GateCriterion, type GateReport, type WeekFacts } from '../../../decisions/gates';
import { agentMigrationWorkflow, agentMigrationWorkflowId, type AgentMigrationResult } from './agent-migration';
import { migrationInput, type InventoryAgent, type PlanSettings } from './lib/migration-input';
import { countWideRollback, recordGateWait, setAgentsByState, type agentStates } from '../../lib/metrics';
import { Notifier } from '../../lib/notify';
import { onMachine, type MachineUnreachable } from '../../lib/machine';
import { abortSignal, machineUnreachableSignal, pauseSignal, requireObject, resumeSignal, signalRefuser, type AbortRequest, type RejectedSignal } from '../../lib/steering';
import { appliedName, undoChanges, type AppliedChange } from './lib/undo';
import { searchAttributes } from '../../lib/visibility';
import { validationWorkflow, type ValidationInput } from '../../validation';

/** A migrate step with its agents already selected from the inventory (by the client). */
export interface WeekMigrateStep {
  change: string;
  agents: InventoryAgent[];
  pilots: number;
  batchSize: number;
  maxConcurrentPerMachine: number;
  failureBudget: { perBatch: number; perWeek: number; onExceeded: 'pause' | 'rollback-week' };
}

export interface WeekStep {
  id: string;
  title?: string;
  migrate?: WeekMigrateStep;
  /** A named operation of one machine's catalogue (deploying EdgeHub on pc2, say), with its undo. */
  action?: { machine: string; operation: string };
  observe?: { durationMs: number };
  /** The validation's input, resolved from the inventory by the client. */
  validate?: ValidationInput;
}

/** Input of weekWorkflow, version 1. */
export interface WeekInput {
  version: 1;
  phase: string;
  week: { id: string; title: string; steps: WeekStep[]; gate: { criteria: GateCriterion[] } };
  settings: PlanSettings;
  /** For scripted runs only: decide the gate as this operator without waiting. */
  autoApproveGate?: { by: string };
  /** How often a waiting gate reminds the on-call (level-1 alert). */
  gateReminderMs?: number;
}

export type GateDecisionKind = 'go' | 'hold' | 'rollback-week';

/** A go/no-go decision on the week's gate. */
export interface GateDecision {
  gate: string;
  decision: GateDecisionKind;
  by: string;
  reason?: string;
}

export interface AgentProgress {
  agent: string;
  machine: string;
  batch: number;
  state: (typeof agentStates)[number];
  workflowId: string;
  trigger?: string;
}

export interface WeekStatus {
  phase: string;
  week: string;
  title: string;
  state: 'running' | 'paused' | 'gate-open' | 'rolling-back' | 'done';
  abort: (AbortRequest & { at: string }) | null;
  /** Changes fully applied by this week and not undone: what a week or phase rollback undoes. */
  applied: AppliedChange[];
  pauseReason: string | null;
  /** Machines whose worker took no task in time, or whose link went silent, since the last resume. */
  unreachableMachines: string[];
  /** Malformed steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  /** The last change of a cross-machine link the week watched. */
  links: { machine: string; state: 'silent' | 'restored'; since: string } | null;
  currentStep: string | null;
  batches: { total: number; done: number };
  agents: AgentProgress[];
  gate: { id: string; report: GateReport | null; decisions: Array<GateDecision & { at: string }>; open: boolean };
  rollback: { reason: string; startedAt: string; finishedAt?: string; durationMs?: number; budgetMs: number; withinBudget?: boolean; undone: string[]; unhealthyAfter: string[] } | null;
  outcome: 'passed' | 'rolled-back' | 'aborted' | null;
  /** The week's validation, once it has ended: its verdict and the system uptime it measured. */
  validation: { workflowId: string; verdict: string; uptimePercent: number | null; reason: string; kpis: NonNullable<WeekFacts['validationKpis']> } | null;
}

/** Progress of the week: batches, agents, the gate and its report. */
export const weekStatusQuery = defineQuery<WeekStatus>('status');
/** Go, hold, or roll the week back (validated: only the open gate, once per decision). */
export const decideGateUpdate = defineUpdate<WeekStatus, [GateDecision]>('decideGate');
export { abortSignal, pauseSignal, resumeSignal, type AbortRequest };

const weekRollbackBudgetMs = 5 * 60_000;

/**
 * The link watch runs as long as a step that works on the machines; it heartbeats every 250 ms, so a killed control
 * worker is noticed in seconds and the watch starts again on the next one.
 */
const links = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['InvalidRequest'] },
});

/** Why a machine counts as unreachable when a step waited on its queue in vain. */
const queueWaitExpired = (u: MachineUnreachable) => `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s`;

/** Every machine a week's steps touch: its migrations' agents, its operations, its validation. */
export function weekMachines(steps: WeekStep[]): string[] {
  const machines = new Set<string>();
  for (const s of steps) {
    s.migrate?.agents.forEach((a) => machines.add(a.machine));
    if (s.action) machines.add(s.action.machine);
    s.validate?.fleet.forEach((m) => machines.add(m.machine));
  }
  return [...machines].sort();
}

/** Runs one week of a phase: its steps in order, migrations in batches, then the go/no-go gate. */
export async function weekWorkflow(input: WeekInput): Promise<WeekStatus> {
  if (input.version !== 1) throw ApplicationFailure.nonRetryable(`unsupported input version ${String(input.version)}`, 'InvalidInput');
  const gateId = `${input.phase}.${input.week.id}.gate`;
  const notify = new Notifier({ phase: input.phase, week: input.week.id });
  const status: WeekStatus = {
    phase: input.phase,
    week: input.week.id,
    title: input.week.title,
    state: 'running',
    abort: null,
    applied: [],
    pauseReason: null,
    unreachableMachines: [],
    links: null,
    rejectedSignals: [],
    currentStep: null,
    batches: { total: 0, done: 0 },
    agents: [],
    gate: { id: gateId, report: null, decisions: [], open: false },
    rollback: null,
    outcome: null,
    validation: null,
  };
  let paused = false;
  let decision: GateDecision | null = null;
  /** Everything between the first step and the gate decision; an abort cancels it. */
  const rollout = new CancellationScope();

  const setState = (state: WeekStatus['state']) => {
    status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  };
  setHandler(weekStatusQuery, () => status);
  /** Migrations in flight also hold, after their current stage. */
  const signalRunning = async (send: (id: string) => Promise<void>) => {
    await Promise.all(status.agents.filter((a) => a.state === 'running').map((a) => send(a.workflowId).catch(() => undefined)));
  };
  /** A malformed signal is reported and ignored, never acted on. */
  const refused = signalRefuser(status.rejectedSignals, (entry) => notify.emit('signal.rejected', { ...entry }));
  setHandler(pauseSignal, async (arg) => {
    if (refused('pause', arg)) return;
    paused = true;
    status.pauseReason = `paused by ${arg.by}${arg.reason ? `: ${arg.reason}` : ''}`;
    notify.emit('week.paused', { ...arg });
    if (status.state === 'running') setState('paused');
    await signalRunning((id) => getExternalWorkflowHandle(id).signal(pauseSignal, arg));
  });
  setHandler(resumeSignal, async (arg) => {
    if (refused('resume', arg)) return;
    paused = false;
    status.pauseReason = null;
    status.unreachableMachines = [];
    notify.emit('week.resumed', { ...arg });
    if (status.state === 'paused') setState('running');
    await signalRunning((id) => getExternalWorkflowHandle(id).signal(resumeSignal, arg));
  });
  /**
   * A machine took no task in time (its worker stopped, or cut off from the server): pause the
   * whole week and page (level 2), once per machine. Migrations that need it hold where they
   * are, without a rollback that would itself need the machine; resume carries on.
   */
  const machineLost = async (machine: string, why: string, data: Record<string, unknown> = {}) => {
    if (!status.unreachableMachines.includes(machine)) {
      status.unreachableMachines.push(machine);
      notify.alert(
        2,
        `${input.phase}/${input.week.id}: machine ${machine} unreachable, week paused`,
        `${why}. Work that needs ${machine} holds where it is; nothing is rolled back (that would need ${machine} too). Bring it back, then resume.`,
        { machine, ...data },
      );
    }
    if (paused) return;
    paused = true;
    status.pauseReason = `machine ${status.unreachableMachines.join(', ')} unreachable; resume once it is back`;
    notify.emit('week.paused', { by: 'phasegate', reason: status.pauseReason });
    if (status.state === 'running') setState('paused');
    await signalRunning((id) => getExternalWorkflowHandle(id).signal(pauseSignal, { by: 'phasegate', reason: status.pauseReason! }));
  };
  setHandler(machineUnreachableSignal, async (u) => {
    if (refused('machineUnreachable', u)) return;
    const agent = status.agents.find((a) => a.workflowId === u.workflowId)?.agent;
    await machineLost(u.machine, queueWaitExpired(u), { what: u.what, ...(agent ? { agent } : {}) });
  });
  /**
   * DOMAIN.md: a cross-machine link silent for over 10 s counts as a failure. The week pauses
   * with a level-2 alert, as for a lost machine; when the link is heard again an alert says so,
   * and the week stays paused until a human resumes it.
   */
  async function watchLinks(machines: string[]): Promise<void> {
    for (;;) {
      const lost = await links.watchMachineLinks.executeWithOptions(
        { startToCloseTimeout: '30 days', heartbeatTimeout: '10 seconds', summary: `watch the links to ${machines.join(', ')} (a silent link counts as failed)` },
        [{ machines, until: 'silent' }],
      );
      const machine = lost.machine;
      if (machine === null) return; // called off
      const reading = lost.readings.find((r) => r.machine === machine)!;
      const silentS = Math.round(reading.silentMs / 1000);
      const since = new Date(Date.now() - reading.silentMs).toISOString();
      status.links = { machine, state: 'silent', since };
      notify.emit('link.silent', { machine, silentMs: reading.silentMs, readings: lost.readings });
      await machineLost(
        machine,
        `nothing heard from ${machine} for ${silentS} s (a cross-machine link silent for over ${lost.silentAfterMs / 1000} s counts as failed): its worker is down or the link to it is cut`,
        { silentMs: reading.silentMs },
      );
      const back = await links.watchMachineLinks.executeWithOptions(
        { startToCloseTimeout: '30 days', heartbeatTimeout: '10 seconds', summary: `wait for the link to ${machine} to come back` },
        [{ machines: [machine], until: 'heard' }],
      );
      if (back.machine === null) return;
      const downMs = Date.now() - Date.parse(since);
      status.links = { machine, state: 'restored', since: new Date().toISOString() };
      notify.emit('link.restored', { machine, downMs, readings: back.readings });
      notify.alert(1, `${input.phase}/${input.week.id}: link to ${machine} is back`, `heard again after ${Math.round(downMs / 1000)} s silent; the week stays ${paused ? 'paused until resumed' : 'running'}`, { machine });
    }
  }

  /**
   * Runs a step that works on the machines (migrations, operations) with the links watched.
   * Timed holds (observe, validate) are not watched: nothing is in flight there, and the
   * validation counts a silent machine itself.
   */
  async function withLinkWatch<T>(step: () => Promise<T>): Promise<T> {
    const machines = weekMachines(input.week.steps);
    // patched: weeks recorded before the link watch replay without it (test/fixtures/histories).
    if (!machines.length || input.settings.watchLinks === false || !patched('link-watch')) return step();
    const scope = new CancellationScope();
    scope.run(() => watchLinks(machines)).catch((err: unknown) => {
      if (!isCancellation(err)) log.warn('link watch stopped', { error: String(err) });
    });
    try {
      return await step();
    } finally {
      scope.cancel();
    }
  }

  /** The week's own steps on a machine (operations) hold the same way. */
  const holdForMachine = async (u: MachineUnreachable) => {
    await machineLost(u.machine, queueWaitExpired(u), { what: u.what });
    await condition(() => !paused);
  };
  setHandler(abortSignal, (a) => {
    if (refused('abort', a) || status.abort || status.outcome) return;
    status.abort = { ...a, at: new Date().toISOString() };
    notify.alert(a.level === 3 ? 2 : 1, `${input.phase}/${input.week.id}: aborted at level ${a.level}`, `by ${a.by}${a.reason ? `: ${a.reason}` : ''}`);
    // Running migrations are cancelled and undo their own stages (level 1).
    rollout.cancel();
  });
  setHandler(
    decideGateUpdate,
    (d) => {
      status.gate.decisions.push({ ...d, at: new Date().toISOString() });
      if (d.decision !== 'hold') decision = d;
      return status;
    },
    {
      validator: (d) => {
        requireObject(d, 'a gate decision');
        if (!status.gate.open) throw new Error(`gate ${gateId} is not open (week state: ${status.state})`);
        if (d.gate !== gateId) throw new Error(`gate "${d.gate}" is not the open gate; the open gate is "${gateId}"`);
        if (!['go', 'hold', 'rollback-week'].includes(d.decision)) throw new Error('decision must be go, hold or rollback-week');
        if (typeof d.by !== 'string' || !d.by.trim() || d.by.length > 200) throw new Error('"by" must name who decided (a string of at most 200 characters)');
        if (d.reason !== undefined && (typeof d.reason !== 'string' || d.reason.length > 2000)) throw new Error('"reason" must be a string of at most 2000 characters');
        if (decision) throw new Error(`gate ${gateId} was already decided (${decision.decision} by ${decision.by})`);
      },
    },
  );
  upsertSearchAttributes([
    { key: searchAttributes.phase, value: input.phase },
    { key: searchAttributes.week, value: input.week.id },
    { key: searchAttributes.status, value: 'running' },
  ]);
  upsertMemo({ summary: `${input.phase} / ${input.week.id}: ${input.week.title}` });

  const waitWhilePaused = async () => {
    if (!paused) return;
    setState('paused');
    await condition(() => !paused);
    setState('running');
  };

  async function migrateStep(stepId: string, step: WeekMigrateStep): Promise<'ok' | 'rollback-week'> {
    const batches = planBatches(step.agents, step.pilots, step.batchSize);
    status.batches.total += batches.length;
    const progress = step.agents.map((a): AgentProgress => {
      const batch = batches.findIndex((b) => b.includes(a)) + 1;
      const input2 = { agent: a, change: step.change, phase: input.phase, week: input.week.id };
      return { agent: a.name, machine: a.machine, batch, state: 'waiting', workflowId: agentMigrationWorkflowId(input2) };
    });
    status.agents.push(...progress);
    setAgentsByState(input.phase, input.week.id, status.agents);
    let failedInWeek = status.agents.filter((a) => a.state === 'rolled-back' || a.state === 'failed').length;
    for (const [i, batch] of batches.entries()) {
      await waitWhilePaused();
      notify.emit('batch.started', { step: stepId, batch: i + 1, of: batches.length, agents: batch.map((a) => a.name) });
      let failedInBatch = 0;
      // Per-machine lanes: at most maxConcurrentPerMachine migrations at once on each machine.
      const byMachine = new Map<string, InventoryAgent[]>();
      for (const a of batch) byMachine.set(a.machine, [...(byMachine.get(a.machine) ?? []), a]);
      const lanes: Promise<void>[] = [];
      for (const agents of byMachine.values()) {
        const queue = [...agents];
        for (let lane = 0; lane < Math.min(step.maxConcurrentPerMachine, queue.length); lane++) {
          lanes.push(
            (async () => {
              for (let next = queue.shift(); next; next = queue.shift()) {
                await waitWhilePaused();
                const p = progress.find((x) => x.agent === next.name)!;
                p.state = 'running';
                setAgentsByState(input.phase, input.week.id, status.agents);
                const result: AgentMigrationResult | null = await executeChild(agentMigrationWorkflow, {
                  workflowId: p.workflowId,
                  args: [migrationInput(next, input.settings, step.change, { phase: input.phase, week: input.week.id })],
                }).catch((err: unknown) => {
                  if (isCancellation(err) || status.abort) return null;
                  log.error('agent migration failed', { agent: next.name, error: String(err) });
                  return null;
                });
                p.state = result ? (result.outcome === 'cancelled' ? 'failed' : result.outcome) : status.abort ? 'rolled-back' : 'failed';
                setAgentsByState(input.phase, input.week.id, status.agents);
                if (status.abort) return;
                if (result?.trigger) p.trigger = `${result.trigger.kind}: ${result.trigger.detail}`;
                if (p.state === 'migrated') status.applied.push({ kind: 'migration', agent: next.name, machine: next.machine, change: step.change, week: input.week.id });
                else if (p.state !== 'rejected') {
                  failedInBatch++;
                  failedInWeek++;
                }
              }
            })(),
          );
        }
      }
      await Promise.all(lanes);
      status.batches.done++;
      const over = budgetExceeded({ failedInBatch, failedInWeek }, step.failureBudget);
      if (over) {
        const why = `${over === 'batch' ? `batch ${i + 1}` : 'the week'} is over its failure budget (${failedInBatch} failed in the batch, ${failedInWeek} in the week; budget ${step.failureBudget.perBatch} per batch, ${step.failureBudget.perWeek} per week)`;
        notify.alert(2, `${input.phase}/${input.week.id}: failure budget exceeded`, why);
        if (step.failureBudget.onExceeded === 'rollback-week') return 'rollback-week';
        paused = true;
        status.pauseReason = `${why}; resume to carry on, or abort`;
        await waitWhilePaused();
      }
    }
    return 'ok';
  }

  /** Undoes every change the week made, newest first, by each agent's own machine. */
  async function rollBackWeek(reason: string): Promise<void> {
    const started = Date.now();
    setState('rolling-back');
    const record: NonNullable<WeekStatus['rollback']> = { reason, startedAt: new Date(started).toISOString(), budgetMs: weekRollbackBudgetMs, undone: [], unhealthyAfter: [] };
    status.rollback = record;
    notify.alert(1, `${input.phase}/${input.week.id}: rolling the week back`, reason);
    countWideRollback(2);
    await undoChanges(status.applied, 'week', workflowInfo().workflowId, input.settings.thresholds.responseTimeMs, (c, healthy) => {
      record.undone.push(appliedName(c));
      if (!healthy) record.unhealthyAfter.push(appliedName(c));
      status.applied = status.applied.filter((x) => x !== c);
      const p = c.kind === 'migration' ? status.agents.find((a) => a.agent === c.agent) : undefined;
      if (p) {
        p.state = 'undone-with-week';
        setAgentsByState(input.phase, input.week.id, status.agents);
      }
    }, { queueWaitMs: input.settings.timings.machineQueueWaitMs, whenUnreachable: holdForMachine });
    record.finishedAt = new Date().toISOString();
    record.durationMs = Date.now() - started;
    record.withinBudget = record.durationMs <= weekRollbackBudgetMs;
    if (!record.withinBudget) notify.alert(2, `${input.phase}/${input.week.id}: week rollback over budget`, `${record.durationMs} ms against ${weekRollbackBudgetMs} ms`);
    if (record.unhealthyAfter.length) notify.alert(2, `${input.phase}/${input.week.id}: unhealthy after the week rollback`, record.unhealthyAfter.join(', '));
    notify.emit('week.rolled-back', { undone: record.undone, durationMs: record.durationMs, withinBudget: record.withinBudget });
  }

  const finish = async (outcome: NonNullable<WeekStatus['outcome']>) => {
    status.outcome = outcome;
    setState('done');
    upsertSearchAttributes([{ key: searchAttributes.outcome, value: outcome }, { key: searchAttributes.openGate, value: null }]);
    await notify.flush();
    return status;
  };

  /** Steps, then the gate; resolves to the week's outcome unless an abort cancels it. */
  async function rollOut(): Promise<'passed' | 'rolled-back'> {
    for (const step of input.week.steps) {
      status.currentStep = step.id;
      await waitWhilePaused();
      notify.emit('step.started', { step: step.id, title: step.title });
      if (step.migrate) {
        if ((await withLinkWatch(() => migrateStep(step.id, step.migrate!))) === 'rollback-week') {
          await CancellationScope.nonCancellable(() => rollBackWeek('failure budget exceeded'));
          return 'rolled-back';
        }
      } else if (step.action) {
        const { machine, operation } = step.action;
        // Registered before it runs: an operation that timed out after taking effect is still undone.
        status.applied.push({ kind: 'operation', operation, machine, week: input.week.id });
        const ok = await withLinkWatch(() => onMachine(machine, { queueWaitMs: input.settings.timings.machineQueueWaitMs, whenUnreachable: holdForMachine })
          .runOperation(`${step.title ?? operation} (${operation} on ${machine})`, { name: operation, direction: 'run', idempotencyKey: `${workflowInfo().workflowId}:${machine}:${operation}:run` })
          .then(() => true, (err: unknown) => {
            if (isCancellation(err)) throw err;
            notify.alert(2, `${input.phase}/${input.week.id}: ${operation} on ${machine} failed`, String(err));
            return false;
          }));
        if (!ok) {
          await CancellationScope.nonCancellable(() => rollBackWeek(`operation ${operation} on ${machine} failed`));
          return 'rolled-back';
        }
        notify.emit('operation.applied', { machine, operation });
      } else if (step.observe) {
        await sleep(step.observe.durationMs, { summary: `observe the fleet for ${Math.round(step.observe.durationMs / 1000)} s (${step.id})` });
      } else if (step.validate) {
        const { report } = await executeChild(validationWorkflow, {
          workflowId: `${workflowInfo().workflowId}.${step.id}`,
          args: [step.validate],
          staticSummary: `${Math.round(step.validate.durationMs / 3_600_000)}-hour validation of ${step.validate.fleet.length} agents and hubs (${step.id})`,
        });
        status.validation = {
          workflowId: `${workflowInfo().workflowId}.${step.id}`,
          verdict: report.verdict,
          uptimePercent: report.kpis.find((k) => k.id === 'system-uptime')?.value ?? null,
          reason: report.reason,
          kpis: report.kpis.map((k) => ({ id: k.id, name: k.name, verdict: k.verdict, detail: k.detail })),
        };
        notify.emit('validation.done', { step: step.id, verdict: report.verdict, reason: report.reason });
      }
    }
    status.currentStep = null;

    status.gate.report = evaluateGate(input.week.gate.criteria, {
      agents: status.agents.map((a) => ({ agent: a.agent, machine: a.machine, outcome: a.state })),
      rollbacks: status.agents.filter((a) => a.state === 'rolled-back').length,
      uptimePercent: status.validation?.uptimePercent ?? null,
      ...(status.validation ? { validationKpis: status.validation.kpis } : {}),
    });
    status.gate.open = true;
    setState('gate-open');
    upsertSearchAttributes([{ key: searchAttributes.openGate, value: gateId }]);
    notify.emit('gate.opened', { gate: gateId, report: status.gate.report });
    const gateOpenedAt = Date.now();
    notify.alert(1, `${gateId} is open`, `${status.gate.report.met ? 'all criteria met' : 'criteria NOT met'}: ${status.gate.report.criteria.map((c) => c.detail).join('; ')}`);
    if (input.autoApproveGate) {
      decision = { gate: gateId, decision: status.gate.report.met ? 'go' : 'rollback-week', by: input.autoApproveGate.by, reason: 'scripted run' };
      status.gate.decisions.push({ ...decision, at: new Date().toISOString() });
    }
    const reminderMs = input.gateReminderMs ?? 4 * 3_600_000;
    while (!(await condition(() => decision !== null, reminderMs))) {
      notify.alert(1, `${gateId} still waits for a decision`, 'decide with the decideGate update: go, hold or rollback-week');
    }
    status.gate.open = false;
    const d = decision as GateDecision | null;
    notify.emit('gate.decided', { gate: gateId, decision: d!.decision, by: d!.by, reason: d!.reason, waitedMs: Date.now() - gateOpenedAt });
    recordGateWait(Date.now() - gateOpenedAt, d!.decision);
    if (d!.decision === 'rollback-week') {
      await CancellationScope.nonCancellable(() => rollBackWeek(`gate decision by ${d!.by}: ${d!.reason ?? 'no reason given'}`));
      return 'rolled-back';
    }
    return 'passed';
  }

  let outcome: 'passed' | 'rolled-back';
  try {
    outcome = await rollout.run(rollOut);
  } catch (err) {
    if (!(isCancellation(err) && status.abort)) throw err;
    status.gate.open = false;
    const abort = status.abort;
    if (abort.level >= 2) await CancellationScope.nonCancellable(() => rollBackWeek(`aborted at level ${abort.level} by ${abort.by}${abort.reason ? `: ${abort.reason}` : ''}`));
    return CancellationScope.nonCancellable(() => finish('aborted'));
  }
  return finish(outcome);
}
