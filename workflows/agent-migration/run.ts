import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { CancellationScope, condition, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { StageNumber } from '../../decisions/migration-steps';
import { assessRisk } from '../../decisions/risk';
import type { LeaseWaitState } from '../agent-lease';
import { runKey } from '../lib/ids';
import { onMachine, retryOf, type MachineUnreachable } from '../lib/machine';
import { Notifier } from '../lib/notify';
import { PersonWaits, tellParent } from '../lib/person';
import { machineUnreachableSignal } from '../lib/steering';
import { searchAttributes } from '../lib/visibility';
import type { UndoResolution } from '../rollback/engine';
import type { AgentMigrationInput, AgentMigrationStatus, InconclusiveResolution, MigrationState, PreflightResolution } from './messages';
import { briefStatusMigrating } from './visibility';

/** The states a brief run's status search attribute shows as "migrating". */
const briefStatusCovers: ReadonlySet<MigrationState> = new Set(['starting', 'baseline', 'applying', 'verifying']);

/**
 * Everything one migration run shares: its input and status, its notifier, the operator's
 * answers, the stages registered for undo, its machine. Handed to the handlers (handlers.ts),
 * the steps (steps/) and the rollback (rollback.ts) explicitly.
 */
export class MigrationRun {
  readonly agent: string;
  readonly machine: string;
  readonly status: AgentMigrationStatus;
  readonly notify: Notifier;
  readonly persons: PersonWaits;
  /** Undo registered before each stage runs, so a stage that timed out after taking effect is still undone. */
  readonly compensations: StageNumber[] = [];
  pendingUndo: UndoResolution | null = null;
  pendingInconclusive: InconclusiveResolution | null = null;
  pendingPreflight: PreflightResolution | null = null;
  paused = false;
  /** Set when a progress deadline stops the steps to roll them back (deadlines.ts): why. */
  deadlineRollback: string | null = null;
  readonly lease: LeaseWaitState = { heldBy: null, freed: false };
  /** The steps; an abort from the week cancels them (the in-flight command is waited for), then the rollback runs. */
  readonly work = new CancellationScope();
  /** Activities on the agent's own machine; a machine that takes no task holds the migration (holdForMachine). */
  readonly m: ReturnType<typeof onMachine>;
  /** The short history (lib/patches.ts, leanMigrationPatch), decided by the workflow; runs begun before it keep the long one. */
  readonly lean: boolean;
  /** Shorter still (lib/patches.ts, compactMigrationPatch): markers and baseline in one activity, a task's events in one publish. */
  readonly compact: boolean;
  /**
   * The brief history (input.briefHistory; lib/patches.ts): the status search attribute says
   * "migrating" through the baseline, the stages and their verifications, and the lease ends
   * with the run.
   */
  readonly brief: boolean;
  /** The status search attribute as last written (lean runs write it only when it changes). */
  private statusWritten: string | null = null;

  constructor(
    readonly input: AgentMigrationInput,
    lean: boolean,
    compact = false,
  ) {
    this.agent = input.agent.name;
    this.machine = input.agent.machine;
    this.brief = compact && input.briefHistory === true;
    this.lean = lean || compact;
    this.compact = compact;
    // Its week set the attribute as it started the run (workflows/week/steps/migrate.ts).
    if (this.brief) this.statusWritten = briefStatusMigrating;
    const assessment = assessRisk(input.agent);
    this.notify = new Notifier({ agent: this.agent, machine: this.machine, change: input.change, phase: input.phase, week: input.week }, { eventsInTask: this.lean, batchInTask: compact });
    this.status = {
      agent: this.agent,
      machine: this.machine,
      change: input.change,
      assessment,
      strategy: input.strategyOverride?.strategy ?? assessment.strategy,
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
      preflight: [],
      unreachable: null,
      waitingForPerson: [],
      agentHeldBy: null,
      refusedBecause: null,
      abort: null,
      rejectedSignals: [],
      outcome: null,
    };
    this.persons = new PersonWaits(this.status.waitingForPerson);
    this.m = onMachine(this.machine, { queueWaitMs: input.timings.machineQueueWaitMs, retry: retryOf(input.timings), whenUnreachable: (u) => this.holdForMachine(u) });
  }

  /**
   * The state, as the status query and the Web UI's current details show it (no history event),
   * and as the status search attribute has it: every state in a run without the brief history;
   * in a brief one, the states that last seconds to minutes between two machine actions read
   * "migrating" there, and only a change of that value costs an event.
   */
  setState(state: MigrationState, also: SearchAttributeUpdatePair[] = []): void {
    this.status.state = state;
    const stage = this.status.currentStage;
    setCurrentDetails(`${this.agent} on ${this.machine}, ${this.input.change}: ${state}${stage !== null && state !== 'done' ? `, stage ${stage}` : ''}`);
    const shown = this.brief && briefStatusCovers.has(state) ? briefStatusMigrating : state;
    if (this.lean && shown === this.statusWritten && also.length === 0) return;
    this.statusWritten = shown;
    upsertSearchAttributes([{ key: searchAttributes.status, value: shown }, ...also]);
  }

  /** The idempotency key of one action of one stage, of this run. */
  key(stage: StageNumber, what: string): string {
    return runKey(`${this.input.change}:s${stage}:${what}`);
  }

  /** An abort from the week (or a cancellation): stop the steps; the rollback follows. */
  abort(a: { level: number; by: string; reason?: string }): void {
    if (this.status.abort || this.status.outcome) return;
    this.status.abort = { level: a.level, by: a.by, ...(a.reason ? { reason: a.reason } : {}), at: new Date().toISOString() };
    this.work.cancel();
  }

  /** Paused (by a person, its week, a lost machine, a deadline) or held by the line's freeze. */
  get held(): boolean {
    return this.paused || (this.status.line ?? null) !== null;
  }

  /** Holds before a stage while paused or while the line is frozen (a paused rollout lets the current stage finish). */
  async waitWhilePaused(): Promise<void> {
    if (!this.held) return;
    const before = this.status.state;
    this.setState('paused');
    await condition(() => !this.held);
    this.setState(before);
  }

  /**
   * No worker of the machine took a task in time: it is stopped or cut off. Nothing can run
   * there, an undo included, so the migration (or its rollback) holds where it is rather than
   * start something that would itself need the machine. Its week pauses and raises the
   * level-2 alert (a migration on its own raises it itself); `resume` tries the same step
   * again, with the same idempotency key.
   */
  async holdForMachine(u: MachineUnreachable): Promise<void> {
    this.paused = true;
    const before = this.status.state;
    this.status.unreachable = { machine: u.machine, what: u.what, since: new Date().toISOString() };
    this.setState('machine-unreachable');
    this.notify.emit('machine.unreachable', { what: u.what, queueWaitMs: u.queueWaitMs });
    if (workflowInfo().parent) {
      await tellParent(machineUnreachableSignal, { machine: u.machine, what: u.what, queueWaitMs: u.queueWaitMs, workflowId: workflowInfo().workflowId });
    } else {
      this.notify.alert(
        2,
        `machine ${u.machine} unreachable: ${this.agent} holds`,
        `no worker on ${u.machine} took "${u.what}" within ${Math.round(u.queueWaitMs / 1000)} s; nothing was rolled back (that would need ${u.machine}). Bring its worker back, then send resume.`,
        { machine: u.machine },
      );
    }
    await condition(() => !this.paused);
    this.status.unreachable = null;
    this.setState(before);
  }
}
