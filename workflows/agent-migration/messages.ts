import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { WindowResult } from '../../activities/machine';
import type { DeadlineScope, DeadlineSettings } from '../../decisions/deadlines';
import type { DecisionRule, DecisionSignature } from '../../decisions/signatures';
import type { StageNumber } from '../../decisions/migration-steps';
import type { RiskAssessment, RiskInput, Strategy } from '../../decisions/risk';
import type { Baseline, Reading, TriggerEvidence, TriggerThresholds } from '../../decisions/triggers';
import type { LeaseHolder } from '../agent-lease';
import type { PersonWait } from '../lib/person';
import type { LineHold, RejectedSignal } from '../lib/steering';
import type { RollbackRecord, UndoResolution } from '../rollback/engine';

export type { UndoResolution } from '../rollback/engine';

/** Input of agentMigrationWorkflow, version 1. */
export interface AgentMigrationInput {
  version: 1;
  agent: RiskInput & { name: string; machine: string; controls?: string[] };
  /** The change being rolled out; part of every idempotency key and marker. */
  change: string;
  /** The trigger thresholds, and how often the probes sample. */
  thresholds: TriggerThresholds & { sampleIntervalMs: number };
  timings: {
    baselineSamples: number;
    rapidVerificationMs: number;
    stageVerificationMs: number;
    observationMs: number;
    observationWindowMs: number;
    observationGapMs: number;
    /** How long a task may wait for the machine's worker before the machine counts as unreachable (default 2 min). */
    machineQueueWaitMs?: number;
    /** Tries of a machine's command before it counts as failed (default 5), and the longest pause between two (default 20 s). */
    actionAttempts?: number;
    actionRetryMaxIntervalMs?: number;
    /** Undos at once per machine in a week's or phase's rollback (default 4; workflows/rollback/children.ts). */
    rollbackUndosAtOncePerMachine?: number;
    /** Progress deadlines of its steps and stages (decisions/deadlines.ts); none when absent. */
    deadlines?: DeadlineSettings;
  };
  /** Forces a strategy (recorded); otherwise the risk band decides. */
  strategyOverride?: { strategy: Strategy; reason: string };
  /** When another migration of the same agent is in flight (any phase): wait for it (default), or refuse. */
  whenAgentBusy?: 'wait' | 'refuse';
  /** Who may approve its stages (critical band), with their keys; anyone, unsigned, when absent (decisions/signatures.ts). */
  approvals?: DecisionRule;
  /**
   * Set by a week that starts the migration with its search attributes and memo already in
   * place (visibility.ts): the migration then writes neither at its start and takes the
   * compact history without asking patched(), as every such week's migration runs the current
   * code: four events fewer (the patch marker and its search attribute, the attributes, the memo).
   */
  startedWithAttributes?: true;
  /**
   * Set by a week that starts the migration for the brief history (lib/patches.ts, "the
   * brief history"): its status search attribute already reads "migrating", which it
   * keeps while it takes the baseline, applies and verifies (the query and the Web UI's current
   * details say which), and its agent's lease ends as the run closes instead of by a release
   * signal. 13 events fewer for a rapid migration (59 to 46) and 17 for a staged or framework one
   * (77 to 60; bench/RESULTS.md); a migration without it runs as it always has.
   */
  briefHistory?: true;
  phase?: string;
  week?: string;
}

/**
 * How a migration ended, as the agent was left: migrated (every stage in place), rolled-back
 * (none), accepted-as-is (an undo failed and a person accepted the agent as it is: some
 * stages still in place, see stagesApplied), rejected (a person rejected a stage; rolled back),
 * refused (another migration held the agent; nothing done), cancelled (stopped before any
 * stage was applied; nothing done).
 */
export type MigrationOutcome = 'migrated' | 'rolled-back' | 'accepted-as-is' | 'rejected' | 'refused' | 'cancelled';

export type MigrationState =
  | 'starting'
  | 'waiting-for-agent'
  | 'baseline'
  | 'pre-flight-failed'
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

/** How a decision's maker was checked: their signature, or their name only (a plan that takes unsigned decisions). */
export type DecisionCheck = 'signature' | 'name only (unsigned, as the plan allows)';

/** A human's decision on a stage of a critical-band migration. */
export interface StageDecision {
  stage: StageNumber;
  decision: 'approve' | 'reject';
  by: string;
  reason?: string;
  /** The person's signature (decisions/signatures.ts), where the plan names who may approve. */
  signature?: DecisionSignature;
}

/**
 * A human's decision on a failed pre-flight check (the agent or its machine already unhealthy
 * before stage 1): check again, leave the agent alone (outcome refused), or migrate anyway.
 */
export interface PreflightResolution {
  action: 'retry' | 'skip' | 'proceed';
  by: string;
  reason: string;
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

export interface AgentMigrationStatus {
  agent: string;
  machine: string;
  change: string;
  assessment: RiskAssessment;
  strategy: Strategy;
  state: MigrationState;
  currentStage: StageNumber | null;
  /** Stages in place on the agent as far as this migration knows (read back after a rollback). */
  stagesApplied: StageNumber[];
  awaitingApprovalFor: StageNumber | null;
  /** Each decision as recorded; `verified` says how its maker was checked (a signature, or names only where the plan allows unsigned). */
  approvals: Array<StageDecision & { at: string; verified?: DecisionCheck }>;
  baseline: Baseline | null;
  lastReadings: Reading[];
  lastWindow: Omit<WindowResult, 'lastReadings'> | null;
  observedMs: number;
  trigger: TriggerEvidence | null;
  /** The level-1 rollback (rollback/engine.ts), once one started. */
  rollback: RollbackRecord | null;
  inconclusive: Array<{ reason: string; probeErrors: number; at: string; resolution?: InconclusiveResolution }>;
  /** Pre-flight checks before stage 1 that found the agent or its machine already unhealthy, and what a person decided. */
  preflight: Array<{ problems: string[]; at: string; resolution?: PreflightResolution }>;
  /** While the machine is unreachable: the step that could not start, and since when. */
  unreachable: { machine: string; what: string; since: string } | null;
  /** What this migration waits for a person for, with the command that resolves it. */
  waitingForPerson: PersonWait[];
  /** While another migration holds the agent: who. */
  agentHeldBy: LeaseHolder | null;
  /** Why the migration left the agent alone (refused) other than a lease: the change was already there, or could not be read. */
  refusedBecause: string | null;
  /** The abort this migration received from its week (it rolled itself back). */
  abort: { by: string; reason?: string; level: number; at: string } | null;
  /** Malformed or unknown steering signals that were refused (the last 20). */
  rejectedSignals: RejectedSignal[];
  /** The line's freeze while it holds this migration before its next stage (workflows/line.ts). */
  line?: LineHold | null;
  /** Progress deadlines that passed (plan: timings.deadlines): what was stuck, why, and what was done. */
  deadlinesPassed?: PassedDeadline[];
  outcome: MigrationOutcome | null;
}

/** A progress deadline that passed, as the status and the report show it. */
export interface PassedDeadline {
  scope: DeadlineScope;
  what: string;
  why: string;
  action: 'pause' | 'rollback';
  at: string;
}

export type AgentMigrationResult = AgentMigrationStatus & { outcome: MigrationOutcome };

/** Current stage, readings, approvals and rollback of the migration. */
export const agentMigrationStatusQuery = defineQuery<AgentMigrationStatus>('status');
/** Approve or reject the next stage of a critical-band migration (validated: only the stage that waits). */
export const approveStageUpdate = defineUpdate<AgentMigrationStatus, [StageDecision]>('approveStage');
/** Resolve a failed undo or a read-back that disagrees (validated: only while one waits). Same update on weeks and phases. */
export const resolveFailedUndoUpdate = defineUpdate<AgentMigrationStatus, [UndoResolution]>('resolveFailedUndo');
/** Decide what to do after an inconclusive verification (validated: only while one waits). */
export const resolveInconclusiveUpdate = defineUpdate<AgentMigrationStatus, [InconclusiveResolution]>('resolveInconclusive');
/** Decide what to do after a failed pre-flight check (validated: only while one waits). */
export const resolvePreflightUpdate = defineUpdate<AgentMigrationStatus, [PreflightResolution]>('resolvePreflight');

/** Who decided, and why: strings of sensible length (an update validator's check). */
export function checkWho(by: unknown, reason: unknown, reasonRequired = false): void {
  if (typeof by !== 'string' || !by.trim() || by.length > 200) throw new Error('"by" must name who decided (a string of at most 200 characters)');
  if (reasonRequired && (typeof reason !== 'string' || !reason.trim())) throw new Error('"reason" is required');
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 2000)) throw new Error('"reason" must be a string of at most 2000 characters');
}

/** Validates an undo resolution's shape (the update validator of every level). */
export function checkUndoResolution(r: UndoResolution): void {
  if (r.action !== 'retry-undo' && r.action !== 'accept') throw new Error('action must be "retry-undo" or "accept"');
  checkWho(r.by, r.reason, true);
}
