import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AutoPromotionPolicy, GateCriterion, GateReport, WeekFacts } from '../../decisions/gates';
import type { StepInput, StepKindName } from '../../plan/steps';
import type { PlanSettings } from '../lib/migration-input';
import type { agentStates } from '../lib/metrics';
import type { PersonWait } from '../lib/person';
import type { DecisionSignature, Signer } from '../../decisions/signatures';
import type { DecisionCheck } from '../agent-migration/messages';
import type { AbortRequest, LineHold, RejectedSignal } from '../lib/steering';
import type { AppliedChange, RollbackRecord, UndoResolution } from '../rollback/engine';

export { abortSignal, pauseSignal, resumeSignal, type AbortRequest } from '../lib/steering';

/** A migrate step with its agents already selected from the inventory (by the client). */
export type WeekMigrateStep = StepInput<'migrate'>;

/** A step of the week's input: an id, a title, and exactly one kind (plan/steps/ has each kind's input). */
export type WeekStep = { id: string; title?: string } & { [K in StepKindName]?: StepInput<K> };

/** Input of weekWorkflow, version 1. */
export interface WeekInput {
  version: 1;
  phase: string;
  week: { id: string; title: string; steps: WeekStep[]; gate: { criteria: GateCriterion[]; autoPromote?: AutoPromotionPolicy; deadlineMs?: number; deciders?: Signer[] } };
  settings: PlanSettings;
  /** For scripted runs only: decide the gate as this operator without waiting. */
  autoApproveGate?: { by: string };
  /** How often a waiting gate reminds the on-call (level-1 alert). */
  gateReminderMs?: number;
  /** The line's freeze as the week starts (set by its phase; workflows/line.ts): it holds before doing anything. */
  line?: LineHold;
  /** Set only by the week itself when it carries on in a new run (continue-as-new): where it was and what it knew. */
  resume?: WeekResume;
}

/** What a run of a week hands to the next (workflows/week/workflow.ts): its whole status, and where to carry on. */
export interface WeekResume {
  status: WeekStatus;
  paused: boolean;
  /** The step to carry on with (index in week.steps), and in a migrate step the first round not run yet. */
  step: number;
  round: number;
  /** Failures counted so far in the batch that round belongs to. */
  failedInBatch: number;
}

/** Where a gate's auto-promotion stands: promotesAt is when the policy decides "go" unless held. */
export type AutoPromotionStatus =
  | { state: 'baking' | 'veto-window'; vetoFrom: string; promotesAt: string }
  | { state: 'promoted'; at: string }
  | { state: 'vetoed'; by: string; reason?: string; at: string }
  | { state: 'withheld'; reason: string; at: string }
  | { state: 'decided-by-person'; at: string };

export type GateDecisionKind = 'go' | 'hold' | 'rollback-week';

/** A go/no-go decision on the week's gate. */
export interface GateDecision {
  gate: string;
  decision: GateDecisionKind;
  by: string;
  reason?: string;
  /** The person's signature (decisions/signatures.ts), where the plan names the gate's deciders. */
  signature?: DecisionSignature;
}

export type AgentState = (typeof agentStates)[number];

export interface AgentProgress {
  agent: string;
  machine: string;
  batch: number;
  state: AgentState;
  workflowId: string;
  trigger?: string;
  /** Why it ended as it did, when the outcome alone does not say (refused: who held the agent; failed: the error). */
  detail?: string;
  /** Stages left in place (accepted-as-is, failed). */
  stagesLeft?: number[];
}

export interface WeekStatus {
  phase: string;
  week: string;
  title: string;
  state: 'running' | 'paused' | 'gate-open' | 'rolling-back' | 'done';
  abort: (AbortRequest & { at: string }) | null;
  /** Changes this week applied that are still in place: what a week or phase rollback undoes. */
  applied: AppliedChange[];
  pauseReason: string | null;
  /** Where the deployment's calendar stands (decisions/calendar.ts): closed, nothing new starts until it opens. */
  calendar?: { open: boolean; why: string | null; since: string; changesAt: string | null };
  /** The line's freeze while it holds the week (workflows/line.ts): nothing new starts; a resume does not lift it. */
  line?: LineHold | null;
  /** Machines whose worker took no task in time, or whose link went silent, since the last resume. */
  unreachableMachines: string[];
  /** Malformed or unknown steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  /** The last change of a cross-machine link the week watched. */
  links: { machine: string; state: 'silent' | 'restored'; since: string } | null;
  currentStep: string | null;
  batches: { total: number; done: number };
  agents: AgentProgress[];
  /** Every wait for a person in this week (its migrations' and its own), with the command that resolves it. */
  waitingForPerson: PersonWait[];
  gate: {
    id: string;
    report: GateReport | null;
    /** Decisions in order; `byPolicy` marks the one the auto-promotion policy made. */
    decisions: Array<GateDecision & { at: string; byPolicy?: boolean; verified?: DecisionCheck }>;
    open: boolean;
    /** The gate's auto-promotion, when its plan sets one (decisions/gates.ts). */
    autoPromotion?: AutoPromotionStatus;
    /** When the open gate's own deadline passes (plan: gate.deadlineMs), and whether it has. */
    deadline?: { at: string; passed: boolean };
  };
  /** The week's rollback (level 2; level 1 for a level-1 abort's clean-up), from rollback/engine.ts. */
  rollback: RollbackRecord | null;
  outcome: 'passed' | 'rolled-back' | 'aborted' | null;
  /** The week's validation, once it has ended: its verdict and the system uptime it measured. */
  validation: { workflowId: string; verdict: string; uptimePercent: number | null; reason: string; kpis: NonNullable<WeekFacts['validationKpis']> } | null;
  /**
   * The week's progress deadline (plan: timings.deadlines.weekMs): when it passes if the gate has
   * not opened (moved on by time spent paused), and once passed, why the week was stuck and what was done.
   */
  deadline?: { at: string; passed: boolean; why?: string; action?: 'pause' | 'rollback' };
  /** The runs of this week so far (it continues as new once its history is long) and the longest history among the runs that ended. */
  history?: { runs: number; largestRunEvents: number };
}

/** Progress of the week: batches, agents, the gate and its report. */
export const weekStatusQuery = defineQuery<WeekStatus>('status');
/** Go, hold, or roll the week back (validated: only the open gate, once per decision). */
export const decideGateUpdate = defineUpdate<WeekStatus, [GateDecision]>('decideGate');
/** Resolve a failed undo of the week's own rollback (validated: only while one waits). */
export const resolveWeekUndoUpdate = defineUpdate<WeekStatus, [UndoResolution]>('resolveFailedUndo');
