import { stageLabel, type MigrationStep, type StageNumber } from './migration-steps';

/**
 * Progress deadlines (plan: `timings.deadlines`; docs/plans.md): how long a migration's step,
 * one of its stages, or a week may go without finishing before phasegate says it is stuck
 * (a level-2 alert naming what and why) and does what the plan says: pause or roll back.
 *
 * A step's and a stage's deadline count from when it began, on top of the time the plan itself
 * gives it (a verification window, an observation, the baseline's samples), so one setting
 * fits the 10-second rapid verification and the 24-hour observation alike. A week's counts
 * from its start until its gate opens. Time spent paused does not count: a pause is already a
 * person's (or phasegate's) decision to hold, not a rollout that is stuck.
 */
export interface DeadlineSettings {
  /** A step (baseline, approval, apply, verification, observation) beyond its planned time. */
  stepMs?: number;
  /** A stage (its approval, apply and verification) beyond its planned time. */
  stageMs?: number;
  /** A week from its start until its gate opens. */
  weekMs?: number;
  /** What a passed deadline does after its alert. */
  onPassed: 'pause' | 'rollback';
}

export type DeadlineScope = 'step' | 'stage' | 'week';

/** One deadline being watched: what it covers, when it passes (ms since the epoch), whether it has. */
export interface DeadlineWatch {
  scope: DeadlineScope;
  what: string;
  at: number;
  passed: boolean;
}

/** The time the plan gives a step by itself: its window, its observation, its baseline's samples; none for an apply or a wait for a person. */
export function plannedStepMs(step: MigrationStep, t: { baselineSamples: number; sampleIntervalMs: number }): number {
  switch (step.kind) {
    case 'baseline':
      return t.baselineSamples * t.sampleIntervalMs;
    case 'verify':
    case 'observe':
      return step.durationMs;
    case 'await-approval':
    case 'apply-stage':
      return 0;
  }
}

/** The stage a step belongs to; the baseline and the long observation belong to none. */
export function stageOfStep(step: MigrationStep): StageNumber | null {
  return step.kind === 'await-approval' || step.kind === 'apply-stage' || step.kind === 'verify' ? step.stage : null;
}

/** What a step is, in an operator's words. */
export function stepLabel(step: MigrationStep): string {
  switch (step.kind) {
    case 'baseline':
      return 'the baseline before stage 1';
    case 'await-approval':
      return `the approval of ${stageLabel(step.stage)}`;
    case 'apply-stage':
      return `the apply of ${stageLabel(step.stage)}`;
    case 'verify':
      return `the verification of ${stageLabel(step.stage)}`;
    case 'observe':
      return 'the observation after stage 3';
  }
}

/**
 * The deadlines to watch while `steps[index]` runs, begun at `now`: the step's own, and its
 * stage's when the step is the stage's first (a later step of the same stage keeps the watch
 * it was given, `current`). None where the settings set none.
 */
export function deadlinesForStep(
  steps: readonly MigrationStep[],
  index: number,
  now: number,
  d: DeadlineSettings | undefined,
  t: { baselineSamples: number; sampleIntervalMs: number },
  current: DeadlineWatch | null,
): { step: DeadlineWatch | null; stage: DeadlineWatch | null } {
  const step = steps[index]!;
  const stage = stageOfStep(step);
  const stepWatch = d?.stepMs !== undefined ? { scope: 'step' as const, what: stepLabel(step), at: now + plannedStepMs(step, t) + d.stepMs, passed: false } : null;
  if (d?.stageMs === undefined || stage === null) return { step: stepWatch, stage: null };
  const previous = index > 0 ? stageOfStep(steps[index - 1]!) : null;
  if (previous === stage && current) return { step: stepWatch, stage: current };
  const planned = steps.filter((s) => stageOfStep(s) === stage).reduce((sum, s) => sum + plannedStepMs(s, t), 0);
  return { step: stepWatch, stage: { scope: 'stage', what: stageLabel(stage), at: now + planned + d.stageMs, passed: false } };
}

/** The earliest deadline not passed yet, and how long until it passes (0 when it has); null when none is left. */
export function nextDeadline(watches: ReadonlyArray<DeadlineWatch | null>, now: number): { watch: DeadlineWatch; waitMs: number } | null {
  let next: DeadlineWatch | null = null;
  for (const w of watches) if (w && !w.passed && (!next || w.at < next.at)) next = w;
  return next ? { watch: next, waitMs: Math.max(0, next.at - now) } : null;
}

/** What a migration waits on, as far as its status says, for the deadline's alert. */
export interface MigrationWaitFacts {
  state: string;
  machine: string;
  unreachable: { machine: string; what: string } | null;
  agentHeldBy: { holder: string; change: string } | null;
  waitingForPerson: ReadonlyArray<{ what: string; detail: string; resolve: string }>;
}

/** Why a migration is stuck, as far as phasegate knows: a machine, an action, a person, another migration. */
export function whyMigrationStuck(s: MigrationWaitFacts): string {
  const person = s.waitingForPerson[0];
  if (person) return `waiting for a person who has not answered: ${person.detail} (${person.what}; ${person.resolve})`;
  if (s.unreachable) return `waiting for machine ${s.unreachable.machine}: no worker there takes "${s.unreachable.what}"`;
  switch (s.state) {
    case 'waiting-for-agent':
      return `waiting for the agent: another migration holds it${s.agentHeldBy ? ` (${s.agentHeldBy.holder}, ${s.agentHeldBy.change})` : ''}`;
    case 'applying':
      return `an action still running on ${s.machine} (its command has not returned)`;
    case 'baseline':
    case 'verifying':
    case 'observing':
      return `probes still running on ${s.machine} past the window's planned length (a probe or its machine is slow to answer)`;
    case 'starting':
      return `waiting for ${s.machine}'s worker to take the first action`;
    default:
      return `in state "${s.state}"`;
  }
}

/** What a week waits on, for its deadline's alert. */
export interface WeekWaitFacts {
  currentStep: string | null;
  pauseReason: string | null;
  unreachableMachines: readonly string[];
  agents: ReadonlyArray<{ agent: string; state: string }>;
  waitingForPerson: ReadonlyArray<{ agent?: string; what: string; detail: string }>;
}

/** Why a week has not reached its gate, as far as it knows. */
export function whyWeekStuck(w: WeekWaitFacts): string {
  const parts: string[] = [];
  if (w.currentStep) parts.push(`at step ${w.currentStep}`);
  if (w.unreachableMachines.length) parts.push(`machine ${w.unreachableMachines.join(', ')} unreachable`);
  if (w.pauseReason) parts.push(w.pauseReason);
  if (w.waitingForPerson.length) parts.push(`waiting for a person: ${w.waitingForPerson.slice(0, 3).map((p) => `${p.agent ? `${p.agent}: ` : ''}${p.detail} (${p.what})`).join('; ')}${w.waitingForPerson.length > 3 ? ` and ${w.waitingForPerson.length - 3} more` : ''}`);
  const running = w.agents.filter((a) => a.state === 'running').map((a) => a.agent);
  const waiting = w.agents.filter((a) => a.state === 'waiting').length;
  if (running.length) parts.push(`${running.length} migration(s) still running (${running.slice(0, 5).join(', ')}${running.length > 5 ? ', ...' : ''})`);
  if (waiting) parts.push(`${waiting} agent(s) not started yet`);
  return parts.length ? parts.join('; ') : 'nothing is known to be running (a step between batches)';
}
