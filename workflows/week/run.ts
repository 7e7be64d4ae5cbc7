import type { HistoryLimits } from '../../config/schema/migration-input';
import { historyDefaults } from '../../config/schema/plan-defaults';
import { CancellationScope, upsertSearchAttributes, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { agentMigrationWorkflow } from '../agent-migration';
import { setAgentsByState } from '../lib/metrics';
import { Notifier } from '../lib/notify';
import { PersonWaits } from '../lib/person';
import { searchAttributes } from '../lib/visibility';
import type { LineHold } from '../lib/steering';
import type { UndoResolution } from '../rollback/engine';
import type { GateDecision, WeekInput, WeekStatus } from './messages';


/**
 * Everything one run of a week shares: its input and status, its notifier, the operator's
 * steering (pause, abort, the gate decision), the migrations it has running. Handed to the
 * step kinds (steps/), the gate (gate.ts), the holds (holds.ts) and the rollback (rollback.ts)
 * explicitly.
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

  /** Rounds of migrations started in this run: a new run is started only after one (workflows/week/steps/migrate.ts). */
  roundsThisRun = 0;

  constructor(readonly input: WeekInput) {
    this.gateId = `${input.phase}.${input.week.id}.gate`;
    this.notify = new Notifier({ phase: input.phase, week: input.week.id });
    if (input.resume) {
      // The run before this one handed over its status: the week goes on where it was.
      this.status = input.resume.status;
      this.paused = input.resume.paused;
      this.persons = new PersonWaits(this.status.waitingForPerson);
      return;
    }
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
      history: { runs: 1, largestRunEvents: 0 },
      ...(input.line ? { line: input.line } : {}),
    };
    this.persons = new PersonWaits(this.status.waitingForPerson);
  }

  get label(): string {
    return `${this.input.phase}/${this.input.week.id}`;
  }

  /** Paused, or held by the line's freeze (workflows/line.ts) or the calendar (calendar.ts). */
  get held(): boolean {
    return this.paused || this.hold !== null;
  }

  /** What holds the week besides a pause: the line's freeze first, then a closed calendar. */
  get hold(): LineHold | null {
    const c = this.status.calendar;
    return this.status.line ?? (c && !c.open ? { by: 'calendar', reason: c.why ?? 'closed', at: c.since } : null);
  }

  /** The hold last passed on to the running migrations (holds.ts forwardHold). */
  forwardedHold: LineHold | null = null;
  /** Calendars received while the week runs (calendar.ts calendarChanged), and whether its watch runs. */
  calendarChanges = 0;
  calendarWatched = false;

  get aborted(): boolean {
    return this.status.abort !== null;
  }

  setState(state: WeekStatus['state']): void {
    this.status.state = state;
    upsertSearchAttributes([{ key: searchAttributes.status, value: state }]);
  }

  /** The history limits of the plan (config/schema/plan.ts); older inputs have none and get the defaults. */
  get history(): HistoryLimits {
    // Inputs written before a limit existed lack it: the default fills it.
    return { ...historyDefaults, ...this.input.settings.history };
  }

  /** The agents gauges again: of one machine, where one agent on it changed, or of all. */
  agentsChanged(machine?: string): void {
    setAgentsByState(this.input.phase, this.input.week.id, this.status.agents, machine);
  }

  /** Sends a signal to every running migration; one that has just ended is no error. */
  async signalRunning(send: (h: ChildWorkflowHandle<typeof agentMigrationWorkflow>) => Promise<void>): Promise<void> {
    await Promise.all([...this.running.values()].map((h) => send(h).catch(() => undefined)));
  }
}
