import { CancellationScope, condition, upsertSearchAttributes, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { agentMigrationWorkflow } from '../agent-migration';
import { runKey } from '../lib/ids';
import type { MachineCallOptions, MachineUnreachable } from '../lib/machine';
import { countWideRollback, setAgentsByState } from '../lib/metrics';
import { Notifier } from '../lib/notify';
import { PersonWaits } from '../lib/person';
import { abortSignal, pauseSignal, resumeSignal, type AbortRequest } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import { newRollbackRecord, rollBack, type AppliedChange, type RollbackLevel, type RollbackRecord, type UndoResolution } from '../rollback/engine';
import type { GateDecision, WeekInput, WeekStatus } from './messages';

/** Why a machine counts as unreachable when a step waited on its queue in vain. */
export const queueWaitExpired = (u: MachineUnreachable) => `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s`;

/** Thrown out of a hold for a lost machine when an abort ends the rollout meanwhile. */
export class AbortedWhileHeld extends Error {}

/**
 * Everything one run of a week shares: its input and status, its notifier, the operator's
 * steering (pause, abort, the gate decision), the migrations it has running. Handed to the
 * step kinds (steps/), the gate (gate.ts) and the holds explicitly.
 */
export class WeekRun {
  readonly status: WeekStatus;
  readonly notify: Notifier;
  readonly persons: PersonWaits;
  readonly gateId: string;
  paused = false;
  decision: GateDecision | null = null;
  pendingUndo: UndoResolution | null = null;
  /** Migrations running now, by workflow id: pause, resume and abort are passed on to them. */
  readonly running = new Map<string, ChildWorkflowHandle<typeof agentMigrationWorkflow>>();
  /** The migrations that were running when the abort came (a level-1 abort undoes what they leave applied). */
  inFlightAtAbort = new Set<string>();
  /** Waits an abort ends by cancellation (an observation's timer, the validation). */
  readonly interruptible = new CancellationScope();

  constructor(readonly input: WeekInput) {
    this.gateId = `${input.phase}.${input.week.id}.gate`;
    this.notify = new Notifier({ phase: input.phase, week: input.week.id });
    this.status = {
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
      waitingForPerson: [],
      gate: { id: this.gateId, report: null, decisions: [], open: false },
      rollback: null,
      outcome: null,
      validation: null,
    };
    this.persons = new PersonWaits(this.status.waitingForPerson);
  }

  get label(): string {
    return `${this.input.phase}/${this.input.week.id}`;
  }

  get aborted(): boolean {
    return this.status.abort !== null;
  }

  setState(state: WeekStatus['state']): void {
    this.status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  }

  agentsChanged(): void {
    setAgentsByState(this.input.phase, this.input.week.id, this.status.agents);
  }

  /** Sends a signal to every running migration; one that has just ended is no error. */
  async signalRunning(send: (h: ChildWorkflowHandle<typeof agentMigrationWorkflow>) => Promise<void>): Promise<void> {
    await Promise.all([...this.running.values()].map((h) => send(h).catch(() => undefined)));
  }

  async pause(arg: { by: string; reason?: string }): Promise<void> {
    this.paused = true;
    this.status.pauseReason = `paused by ${arg.by}${arg.reason ? `: ${arg.reason}` : ''}`;
    this.notify.emit('week.paused', { ...arg });
    if (this.status.state === 'running') this.setState('paused');
    // Migrations in flight also hold, after their current stage.
    await this.signalRunning((h) => h.signal(pauseSignal, arg));
  }

  async resume(arg: { by: string }): Promise<void> {
    this.paused = false;
    this.status.pauseReason = null;
    this.status.unreachableMachines = [];
    this.notify.emit('week.resumed', { ...arg });
    if (this.status.state === 'paused') this.setState('running');
    await this.signalRunning((h) => h.signal(resumeSignal, arg));
  }

  /**
   * Stop the rollout. Running migrations are told to roll themselves back (level 1) and the
   * week waits for each of them to finish doing so; what they and the week leave applied is
   * undone afterwards as the level says (workflow.ts). Once a rollback runs, an abort adds
   * nothing: it is noted and ignored.
   */
  async requestAbort(a: AbortRequest): Promise<void> {
    if (this.status.abort || this.status.outcome) return;
    if (this.status.rollback && this.status.state === 'rolling-back') {
      this.notify.emit('abort.ignored', { ...a, why: 'the week is already rolling back' });
      return;
    }
    this.status.abort = { ...a, at: new Date().toISOString() };
    this.inFlightAtAbort = new Set(this.running.keys());
    this.notify.alert(1, `${this.label}: aborted at level ${a.level}`, `by ${a.by}${a.reason ? `: ${a.reason}` : ''}; ${this.running.size} migration(s) in flight roll themselves back`);
    this.interruptible.cancel();
    await this.signalRunning((h) => h.signal(abortSignal, a));
  }

  /** Holds while paused; an abort ends the hold (the caller then checks `aborted`). */
  async waitWhilePaused(): Promise<void> {
    if (!this.paused || this.aborted) return;
    this.setState('paused');
    await condition(() => !this.paused || this.aborted);
    if (this.status.state === 'paused') this.setState('running');
  }

  /**
   * A machine took no task in time (its worker stopped, or cut off from the server): pause the
   * whole week and page (level 2), once per machine. Migrations that need it hold where they
   * are, without a rollback that would itself need the machine; resume carries on.
   */
  async machineLost(machine: string, why: string, data: Record<string, unknown> = {}): Promise<void> {
    if (!this.status.unreachableMachines.includes(machine)) {
      this.status.unreachableMachines.push(machine);
      this.notify.alert(
        2,
        `${this.label}: machine ${machine} unreachable, week paused`,
        `${why}. Work that needs ${machine} holds where it is; nothing is rolled back (that would need ${machine} too). Bring it back, then resume.`,
        { machine, ...data },
      );
    }
    if (this.paused) return;
    this.paused = true;
    this.status.pauseReason = `machine ${this.status.unreachableMachines.join(', ')} unreachable; resume once it is back`;
    this.notify.emit('week.paused', { by: 'phasegate', reason: this.status.pauseReason });
    if (this.status.state === 'running') this.setState('paused');
    await this.signalRunning((h) => h.signal(pauseSignal, { by: 'phasegate', reason: this.status.pauseReason! }));
  }

  /** Machine calls of the rollout: a lost machine pauses the week; an abort ends the hold. */
  rolloutMachine(): MachineCallOptions {
    return {
      queueWaitMs: this.input.settings.timings.machineQueueWaitMs,
      whenUnreachable: async (u) => {
        await this.machineLost(u.machine, queueWaitExpired(u), { what: u.what });
        await condition(() => !this.paused || this.aborted);
        if (this.aborted) throw new AbortedWhileHeld(`aborted while ${u.machine} was unreachable`);
      },
    };
  }

  /** Machine calls of a rollback: a lost machine pauses the week, and only resume ends the hold. */
  rollbackMachine(): MachineCallOptions {
    return {
      queueWaitMs: this.input.settings.timings.machineQueueWaitMs,
      whenUnreachable: async (u) => {
        await this.machineLost(u.machine, queueWaitExpired(u), { what: u.what });
        await condition(() => !this.paused);
        this.setState('rolling-back');
      },
    };
  }

  /** Undoes changes of this week with the one rollback engine; what a person accepts stays in `applied`. */
  async rollBack(level: RollbackLevel, reason: string, changes: AppliedChange[]): Promise<RollbackRecord> {
    const record = newRollbackRecord(level, reason);
    this.status.rollback = record;
    this.setState('rolling-back');
    if (level >= 2) countWideRollback(2);
    await rollBack(
      changes,
      {
        level,
        reason,
        label: this.label,
        keyPrefix: runKey(`level${level}-rollback`),
        responseThresholdMs: this.input.settings.thresholds.responseTimeMs,
        notify: this.notify,
        machine: this.rollbackMachine(),
        askPerson: async (p) => {
          this.pendingUndo = null;
          const agent = p.change.kind === 'migration' ? p.change.agent : undefined;
          return this.persons.wait({ ...(agent ? { agent } : {}), machine: p.change.machine, what: p.kind, detail: p.error }, () => this.pendingUndo);
        },
        onChange: (c, r) => {
          const i = this.status.applied.indexOf(c);
          if (r.result === 'accepted-as-is') {
            if (i >= 0) this.status.applied[i] = c.kind === 'migration' ? { ...c, stages: r.remainingStages, acceptedAsIs: true } : { ...c, acceptedAsIs: true };
          } else if (i >= 0) this.status.applied.splice(i, 1);
          const p = c.kind === 'migration' ? this.status.agents.find((a) => a.agent === c.agent && a.state !== 'refused') : undefined;
          if (p) {
            p.state = r.result === 'undone' ? 'undone-with-week' : 'accepted-as-is';
            if (r.result === 'accepted-as-is') p.stagesLeft = r.remainingStages;
            this.agentsChanged();
          }
        },
      },
      record,
    );
    return record;
  }

}
