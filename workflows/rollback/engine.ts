import { CancellationScope, sleep } from '@temporalio/workflow';
import { stageLabel, type StageNumber } from '../../decisions/migration-steps';
import type { Reading, TriggerEvidence } from '../../decisions/triggers';
import { onMachine, type MachineCallOptions, type MachineUnreachable } from '../lib/machine';
import type { Notifier } from '../lib/notify';

/**
 * The one rollback engine. An agent's own rollback (level 1), a week's (level 2) and a
 * phase's (level 3) all undo a list of applied changes here, under one set of rules:
 *
 * - newest change first, and each migration's stages in reverse order, on the change's own
 *   machine, every undo keyed so that a retried activity never undoes twice;
 * - nothing cancels it: it runs to the end even when the workflow that started it is cancelled;
 * - each undone migration is read back from the agent (its stage markers) and probed: the
 *   record says what the machine says, and a marker still there is not a success;
 * - an undo that fails after its retries, or a read-back that disagrees, raises a level-2 alert
 *   and waits for a person: retry the undo, or accept the change as it is (recorded, and still
 *   counted as applied, so a later week or phase rollback tries again);
 * - a machine whose worker takes no task holds the rollback where it is (the caller's hold:
 *   pause and a level-2 alert), never skips it;
 * - it is timed against its level's budget, and an alert goes out the moment it runs over.
 */

export type RollbackLevel = 1 | 2 | 3;

/** Rollback budgets by level (docs/domain.md): one agent 2 min, a week 5 min, a phase 5 min. */
export const rollbackBudgetMs: Readonly<Record<RollbackLevel, number>> = { 1: 2 * 60_000, 2: 5 * 60_000, 3: 5 * 60_000 };

/** Something applied that a rollback can undo. */
export type AppliedChange =
  | {
      kind: 'migration';
      agent: string;
      machine: string;
      change: string;
      week: string;
      /** Stages in place (all three once migrated; fewer for a change a person accepted half-undone). */
      stages: StageNumber[];
      /** A person accepted this change as it is after an undo failed: it stays applied. */
      acceptedAsIs?: boolean;
    }
  | { kind: 'operation'; operation: string; machine: string; week: string; acceptedAsIs?: boolean };

/** A short name for records and reports: the agent, or machine/operation. */
export const appliedName = (c: AppliedChange): string => (c.kind === 'migration' ? c.agent : `${c.machine}/${c.operation}`);

/** A person's decision after an undo failed or a read-back disagreed. */
export interface UndoResolution {
  action: 'retry-undo' | 'accept';
  by: string;
  reason: string;
}

/** What the engine asks a person about. */
export interface UndoProblem {
  change: AppliedChange;
  kind: 'failed-undo' | 'read-back';
  /** The stage whose undo failed; null for a read-back or an operation. */
  stage: StageNumber | null;
  error: string;
}

/** How one change's undo ended. */
export interface ChangeRollback {
  name: string;
  kind: AppliedChange['kind'];
  /** The change undone, for a migration. */
  change?: string;
  week: string;
  result: 'undone' | 'accepted-as-is';
  undoneStages: StageNumber[];
  /** Stages still in place (accepted as is), as far as the agent told. */
  remainingStages: StageNumber[];
  failures: Array<{ stage: StageNumber | null; kind: UndoProblem['kind']; error: string; at: string }>;
  resolutions: Array<UndoResolution & { at: string }>;
  /** The agent's own markers after the undo: present (should be none) and ones it could not tell. */
  readBack: { present: number[]; unknown: number[] } | null;
  healthAfter: Reading[] | null;
  healthy: boolean | null;
  /** When this change's undo ended (undone, or accepted by a person). */
  at: string;
}

export interface RollbackRecord {
  level: RollbackLevel;
  reason: string;
  trigger?: TriggerEvidence;
  budgetMs: number;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  withinBudget?: boolean;
  /** Set when the budget ran out while the rollback was still going (an alert went out then). */
  overBudgetAt?: string;
  changes: ChangeRollback[];
  /** Names of the changes undone, in the order undone (newest first). */
  undone: string[];
  /** Names of changes a person accepted as they are: still applied. */
  acceptedAsIs: string[];
  unhealthyAfter: string[];
}

/** What undoing one change needs. */
export interface UndoScope {
  level: RollbackLevel;
  /** Who rolls back, for alerts: "tutoring_agent", "phase1/week2", "phase1". */
  label: string;
  /** Prefix of every undo's idempotency key (run-scoped: workflows/lib/ids.ts runKey). */
  keyPrefix: string;
  responseThresholdMs: number;
  /** The caller's queue wait and hold for an unreachable machine. */
  machine: MachineCallOptions;
  /**
   * Without these two (a rollback's child workflow, workflows/rollback-chunk.ts), an undo that
   * needs a person or a machine that takes no task is handed back to the rollback's own
   * workflow (UndoHandedBack), which alerts, asks and holds there and carries the undo on.
   */
  notify?: Notifier;
  /** Ask a person and wait for the answer (the caller lists the wait and marks it for the Web UI). */
  askPerson?(problem: UndoProblem): Promise<UndoResolution>;
}

export interface RollbackScope extends UndoScope {
  reason: string;
  trigger?: TriggerEvidence | null;
  notify: Notifier;
  askPerson(problem: UndoProblem): Promise<UndoResolution>;
  /** After each change, with how it ended (the caller updates its status). */
  onChange?(c: AppliedChange, r: ChangeRollback): void;
}

/**
 * Where one change's undo stands, so that another workflow can carry it on: what is done so
 * far, the stages still to undo, the attempt (its idempotency keys), and the next step: make
 * the attempt (again, same keys), put a problem to a person, or probe the agent.
 */
export interface UndoResume {
  r: ChangeRollback;
  pending: StageNumber[];
  attempt: number;
  next: 'undo' | 'ask' | 'probe';
  /** For `ask`: what went wrong, not yet recorded or alerted. */
  problem?: UndoProblem;
  /** The machine took no task in time: the workflow that carries on holds first. */
  unreachable?: MachineUnreachable;
}

/** An undo handed back by a workflow that may not wait for a person or a machine. */
export class UndoHandedBack extends Error {
  constructor(readonly resume: UndoResume) {
    super(`undo of ${resume.r.name} handed back (${resume.next}${resume.unreachable ? `: ${resume.unreachable.machine} unreachable` : ''})`);
    this.name = 'UndoHandedBack';
  }
}

/** Thrown by the machine hold of a workflow that hands unreachable machines back (see UndoScope). */
export class MachineHandedBack extends Error {
  constructor(readonly unreachable: MachineUnreachable) {
    super(`${unreachable.machine} took no task within ${Math.round(unreachable.queueWaitMs / 1000)} s`);
    this.name = 'MachineHandedBack';
  }
}

/** One undo of a change, carried on from `resume` when given: the one place a change is undone. */
export function undoChange(c: AppliedChange, scope: UndoScope, resume?: UndoResume): Promise<ChangeRollback> {
  return c.kind === 'migration' ? undoMigration(c, scope, resume) : undoOperation(c, scope, resume);
}

/**
 * Runs the undos of a rollback, newest first as given, and calls `finish` as each change ends.
 * The default runs them one by one in the rollback's own workflow; workflows/rollback/children.ts
 * runs them in child workflows, machines in parallel, to bound the history and the time.
 */
export type UndoRunner = (newestFirst: AppliedChange[], scope: RollbackScope, finish: (c: AppliedChange, r: ChangeRollback) => void) => Promise<void>;

const oneByOne: UndoRunner = async (newestFirst, scope, finish) => {
  for (const c of newestFirst) finish(c, await undoChange(c, scope));
};

const errorText = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? (err.cause.cause instanceof Error ? err.cause.cause : err.cause) : null;
  return (cause ?? err).message;
};

/** Healthy after an undo: up, and its integration check passes (unmeasured readings do not count against it). */
export function healthyAfter(readings: Reading[]): boolean {
  return readings.every((r) => r.status !== 'measured' || (r.metric !== 'agentUp' && r.metric !== 'integration') || r.value === 1);
}

/** A fresh record for a rollback that starts now; the caller shows it while it fills. */
export function newRollbackRecord(level: RollbackLevel, reason: string, trigger?: TriggerEvidence | null): RollbackRecord {
  return {
    level,
    reason,
    ...(trigger ? { trigger } : {}),
    budgetMs: rollbackBudgetMs[level],
    startedAt: new Date().toISOString(),
    changes: [],
    undone: [],
    acceptedAsIs: [],
    unhealthyAfter: [],
  };
}

const alertLevelOf: Record<RollbackLevel, 1 | 2 | 3> = { 1: 1, 2: 2, 3: 3 };
const levelName: Record<RollbackLevel, string> = { 1: 'agent', 2: 'week', 3: 'phase' };

/**
 * Undoes `changes`, newest first, filling `record` as it goes; resolves when every change is
 * undone or accepted as it is. Never throws for a failed undo; runs to the end even if the
 * calling workflow is cancelled.
 */
export function rollBack(changes: readonly AppliedChange[], scope: RollbackScope, record: RollbackRecord, runner: UndoRunner = oneByOne): Promise<RollbackRecord> {
  return CancellationScope.nonCancellable(async () => {
    const started = Date.now();
    const names = changes.map(appliedName);
    scope.notify.emit('rollback.started', { level: scope.level, reason: scope.reason, trigger: scope.trigger ?? null, changes: [...names].reverse() });
    scope.notify.alert(
      alertLevelOf[scope.level],
      `${scope.label}: level-${scope.level} (${levelName[scope.level]}) rollback`,
      `${scope.reason}; undoing ${changes.length} change${changes.length === 1 ? '' : 's'}${changes.length ? `: ${[...names].reverse().slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}` : ''}`,
      { level: scope.level, ...(scope.trigger ? { trigger: scope.trigger } : {}) },
    );
    // The budget is watched while the rollback runs: the alert goes out when it is spent, not after.
    const budgetWatch = new CancellationScope();
    budgetWatch
      .run(async () => {
        await sleep(record.budgetMs, { summary: `level-${scope.level} rollback budget: ${Math.round(record.budgetMs / 1000)} s` });
        record.overBudgetAt = new Date().toISOString();
        scope.notify.alert(2, `${scope.label}: level-${scope.level} rollback over its budget`, `still running after ${Math.round(record.budgetMs / 1000)} s (budget ${Math.round(record.budgetMs / 60_000)} min)`, { level: scope.level });
      })
      .catch(() => undefined);
    try {
      await runner([...changes].reverse(), scope, (c, r) => {
        r.at = new Date().toISOString();
        record.changes.push(r);
        if (r.result === 'undone') record.undone.push(scope.level === 3 ? `${c.week}/${r.name}` : r.name);
        else record.acceptedAsIs.push(scope.level === 3 ? `${c.week}/${r.name}` : r.name);
        if (r.healthy === false) record.unhealthyAfter.push(scope.level === 3 ? `${c.week}/${r.name}` : r.name);
        scope.onChange?.(c, r);
      });
    } finally {
      budgetWatch.cancel();
    }
    record.finishedAt = new Date().toISOString();
    record.durationMs = Date.now() - started;
    record.withinBudget = record.durationMs <= record.budgetMs;
    if (record.unhealthyAfter.length) scope.notify.alert(2, `${scope.label}: unhealthy after the level-${scope.level} rollback`, record.unhealthyAfter.join(', '), { level: scope.level });
    scope.notify.emit('rollback.finished', {
      level: scope.level,
      durationMs: record.durationMs,
      withinBudget: record.withinBudget,
      undone: record.undone,
      acceptedAsIs: record.acceptedAsIs,
      unhealthyAfter: record.unhealthyAfter,
    });
    return record;
  });
}

/** A machine hold handed back (MachineHandedBack) becomes the undo handed back, with where it stands. */
const handBackIfUnreachable = (err: unknown, at: Omit<UndoResume, 'next' | 'unreachable'> & { next: UndoResume['next'] }): void => {
  if (err instanceof MachineHandedBack) throw new UndoHandedBack({ ...at, unreachable: err.unreachable });
};

/** Undoes one migration's stages, reads the markers back, probes the agent; asks a person when that fails. */
async function undoMigration(c: Extract<AppliedChange, { kind: 'migration' }>, scope: UndoScope, resume?: UndoResume): Promise<ChangeRollback> {
  const m = onMachine(c.machine, scope.machine);
  const r: ChangeRollback = resume?.r ?? { name: c.agent, kind: 'migration', change: c.change, week: c.week, result: 'undone', undoneStages: [], remainingStages: [], failures: [], resolutions: [], readBack: null, healthAfter: null, healthy: null, at: '' };
  let pending = resume?.pending ?? [...new Set(c.stages)].sort((a, b) => b - a);
  const where = `${levelName[scope.level]} rollback of ${c.change} on ${c.machine}, ${c.agent}`;
  // A carried-on undo starts where it was handed back: its attempt again, its problem, or the probe.
  let carried: UndoProblem | null = resume?.next === 'ask' ? resume.problem! : null;
  for (let attempt = resume?.attempt ?? 0; resume?.next !== 'probe'; attempt++) {
    let problem: UndoProblem | null = carried;
    carried = null;
    if (!problem) {
      for (const stage of [...pending]) {
        try {
          await m.runAction(`undo ${stageLabel(stage)}: ${where}`, {
            action: 'undo-stage',
            agent: c.agent,
            change: c.change,
            stage,
            idempotencyKey: `${scope.keyPrefix}:${c.agent}:${c.change}:s${stage}:undo${attempt}`,
          });
          pending = pending.filter((s) => s !== stage);
          if (!r.undoneStages.includes(stage)) r.undoneStages.push(stage);
        } catch (err) {
          handBackIfUnreachable(err, { r, pending, attempt, next: 'undo' });
          problem = { change: c, kind: 'failed-undo', stage, error: errorText(err) };
          break;
        }
      }
    }
    if (!problem) {
      // The record must say what the agent says: read every stage's marker back.
      try {
        const back = await m.readMarkers(`read back ${c.agent}'s markers of ${c.change} after the ${levelName[scope.level]} rollback`, { agent: c.agent, change: c.change, stages: [1, 2, 3] });
        r.readBack = { present: back.present, unknown: back.unknown.map((u) => u.stage) };
        if (back.present.length || back.unknown.length) {
          pending = [...new Set([...back.present, ...back.unknown.map((u) => u.stage)])].sort((a, b) => b - a) as StageNumber[];
          problem = {
            change: c,
            kind: 'read-back',
            stage: null,
            error: [
              back.present.length ? `the agent still reports stage${back.present.length > 1 ? 's' : ''} ${back.present.join(', ')} of ${c.change}` : '',
              back.unknown.length ? `its marker check could not tell for ${back.unknown.map((u) => `stage ${u.stage} (${u.detail})`).join(', ')}` : '',
            ]
              .filter(Boolean)
              .join('; '),
          };
        }
      } catch (err) {
        handBackIfUnreachable(err, { r, pending, attempt, next: 'undo' });
        pending = [3, 2, 1];
        problem = { change: c, kind: 'read-back', stage: null, error: `reading the markers back failed: ${errorText(err)}` };
      }
    }
    if (!problem) break;
    if (!scope.askPerson || !scope.notify) throw new UndoHandedBack({ r, pending, attempt, next: 'ask', problem });
    r.failures.push({ stage: problem.stage, kind: problem.kind, error: problem.error, at: new Date().toISOString() });
    scope.notify.alert(
      2,
      `${scope.label}: ${problem.kind === 'failed-undo' ? `undo of stage ${problem.stage}${scope.label === c.agent ? '' : ` of ${c.agent}`} failed` : `${c.agent} disagrees with its rollback`}`,
      `${problem.error}. A person decides: retry the undo, or accept ${c.agent} as it is.`,
      { agent: c.agent, machine: c.machine, change: c.change, level: scope.level, stage: problem.stage },
    );
    const decision = await scope.askPerson(problem);
    r.resolutions.push({ ...decision, at: new Date().toISOString() });
    scope.notify.emit('rollback.resolution', { agent: c.agent, change: c.change, level: scope.level, ...decision });
    if (decision.action === 'accept') {
      r.result = 'accepted-as-is';
      r.remainingStages = [...pending].sort((a, b) => a - b);
      break;
    }
  }
  try {
    r.healthAfter = await m.probeAgent(`probe ${c.agent} after the ${levelName[scope.level]} rollback`, { agent: c.agent, responseThresholdMs: scope.responseThresholdMs, checkIntegration: true });
    r.healthy = healthyAfter(r.healthAfter);
  } catch (err) {
    handBackIfUnreachable(err, { r, pending, attempt: resume?.attempt ?? 0, next: 'probe' });
    r.healthAfter = [{ metric: 'agentUp', status: 'no-data', detail: `probe failed: ${errorText(err)}` }];
    r.healthy = null;
  }
  return r;
}

/** Undoes one operation of a machine's catalogue; asks a person when that fails. */
async function undoOperation(c: Extract<AppliedChange, { kind: 'operation' }>, scope: UndoScope, resume?: UndoResume): Promise<ChangeRollback> {
  const m = onMachine(c.machine, scope.machine);
  const r: ChangeRollback = resume?.r ?? { name: `${c.machine}/${c.operation}`, kind: 'operation', week: c.week, result: 'undone', undoneStages: [], remainingStages: [], failures: [], resolutions: [], readBack: null, healthAfter: null, healthy: null, at: '' };
  let carried: UndoProblem | null = resume?.next === 'ask' ? resume.problem! : null;
  for (let attempt = resume?.attempt ?? 0; ; attempt++) {
    let problem: UndoProblem | null = carried;
    carried = null;
    if (!problem) {
      try {
        await m.runOperation(`${levelName[scope.level]} rollback: undo ${c.operation} on ${c.machine}`, { name: c.operation, direction: 'undo', idempotencyKey: `${scope.keyPrefix}:${c.machine}:${c.operation}:undo${attempt}` });
        return r;
      } catch (err) {
        handBackIfUnreachable(err, { r, pending: [], attempt, next: 'undo' });
        problem = { change: c, kind: 'failed-undo', stage: null, error: errorText(err) };
      }
    }
    if (!scope.askPerson || !scope.notify) throw new UndoHandedBack({ r, pending: [], attempt, next: 'ask', problem });
    r.failures.push({ stage: null, kind: 'failed-undo', error: problem.error, at: new Date().toISOString() });
    scope.notify.alert(2, `${scope.label}: undo of ${c.operation} on ${c.machine} failed`, `${problem.error}. A person decides: retry the undo, or accept it as it is.`, { machine: c.machine, operation: c.operation, level: scope.level });
    const decision = await scope.askPerson(problem);
    r.resolutions.push({ ...decision, at: new Date().toISOString() });
    scope.notify.emit('rollback.resolution', { operation: c.operation, machine: c.machine, level: scope.level, ...decision });
    if (decision.action === 'accept') {
      r.result = 'accepted-as-is';
      return r;
    }
  }
}

/** One key per change, the same for the change and its record (undos may end in any order across machines). */
const changeKey = (c: { kind: AppliedChange['kind']; week: string; name: string; change?: string | undefined }) => `${c.kind}:${c.week}:${c.name}:${c.change ?? ''}`;

/** What stays applied after a rollback: the changes a person accepted as they are, with the stages left, in their order. */
export function leftAfter(changes: readonly AppliedChange[], record: RollbackRecord): AppliedChange[] {
  const ended = new Map(record.changes.map((r) => [changeKey(r), r]));
  return changes.flatMap((c) => {
    const r = ended.get(changeKey({ kind: c.kind, week: c.week, name: appliedName(c), ...(c.kind === 'migration' ? { change: c.change } : {}) }));
    if (!r || r.result !== 'accepted-as-is') return [];
    return [c.kind === 'migration' ? { ...c, stages: r.remainingStages, acceptedAsIs: true } : { ...c, acceptedAsIs: true }];
  });
}
