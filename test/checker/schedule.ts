import { planSchema, type Plan } from '../../config/schema/plan';
import { prng } from '../../lib/prng';

/**
 * A schedule of the randomized checker: a small phase, the operator's policy for what it is
 * asked (gates, failed undos, approvals, inconclusive windows), and operator actions and faults
 * at random moments. Everything comes from the seed, so a failing seed replays exactly the
 * same schedule (the timing of the real processes aside).
 */

export type Action =
  | { kind: 'pause'; resumeAfterMs: number }
  | { kind: 'abort'; level: 1 | 2 | 3 }
  | { kind: 'trigger'; agent: string }
  | { kind: 'undo-fails-until-fixed'; agent: string }
  | { kind: 'undo-fails-for-a-while'; agent: string }
  | { kind: 'apply-hangs'; agent: string }
  | { kind: 'probe-blind'; agent: string }
  | { kind: 'kill-machine-worker'; machine: string; downMs: number }
  | { kind: 'kill-control-worker'; downMs: number }
  | { kind: 'nats-outage'; downMs: number }
  | { kind: 'restart-temporal' }
  | { kind: 'start-again' }
  | { kind: 'sick-before-change'; agent: string };

export interface TimedAction {
  atMs: number;
  action: Action;
}

export interface Policy {
  gate: 'go' | 'hold-then-go' | 'rollback-week';
  undo: 'retry-after-fix' | 'accept';
  approval: 'approve' | 'reject';
  inconclusive: 'retry-after-fix' | 'accept' | 'rollback';
  /** A failed pre-flight check: cure the agent and retry, skip it, or change it anyway; answered only after a while, so other actions land during the wait. */
  preflight: 'retry-after-fix' | 'skip' | 'proceed';
  preflightAnswerAfterMs: number;
}

export interface Schedule {
  seed: number;
  plan: Plan;
  policy: Policy;
  actions: TimedAction[];
}

/** The project's seeded generator (lib/prng.ts), so a seed is a schedule. */
export { prng };

/** Agents the checker migrates: rapid and staged bands on both machines, and one made critical (checker.ts). */
export const checkerAgents = {
  mainpc: ['ChitchatAgent', 'ResponderAgent', 'TaskSchedulerAgent', 'GoalManagerAgent', 'SessionMemoryAgent', 'LearningAdjusterAgent'],
  pc2: ['TaskQueueAgent', 'AsyncProcessorAgent', 'AuthenticationAgent', 'CacheManagerAgent', 'NotificationAgent', 'WebSearchAgent'],
};
/** Given a risk override in the checker's inventory, so its migrations wait for stage approvals. */
export const criticalAgent = 'ResponderAgent';

export function makeSchedule(seed: number): Schedule {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const weeks = chance(0.35) ? 2 : 1;
  const pool = [...checkerAgents.mainpc, ...checkerAgents.pc2].sort(() => r() - 0.5);
  const planned: string[] = [];
  const weekDefs = Array.from({ length: weeks }, (_, wi) => {
    const agents = pool.splice(0, int(2, 4));
    planned.push(...agents);
    const steps: object[] = [];
    if (chance(0.2)) steps.push({ id: `w${wi + 1}-op`, operation: pick([{ machine: 'mainpc', name: 'deploy-pushgateway' }, { machine: 'pc2', name: 'deploy-pushgateway' }]) });
    steps.push({
      id: `w${wi + 1}-migrate`,
      migrate: {
        change: `chk${seed}w${wi + 1}`,
        select: { agents },
        pilots: int(0, 1),
        batchSize: int(2, 4),
        maxConcurrentPerMachine: int(1, 3),
        failureBudget: chance(0.2) ? { perBatch: 0, perWeek: 0, onExceeded: 'rollback-week' } : { perBatch: 10, perWeek: 10, onExceeded: 'pause' },
      },
    });
    return { id: `week${wi + 1}`, title: `checker week ${wi + 1}`, steps, gate: { criteria: [{ kind: 'max-rollbacks', count: 10 }] } };
  });
  const plan = planSchema.parse({
    decisions: { unsigned: true }, // gates decided by name only: this test is not about signatures (signed-decisions.test.ts is)
    version: 1,
    id: `chk${seed}`,
    title: `checker schedule ${seed}`,
    thresholds: { sampleIntervalMs: 200, degradationMinDeltaMs: 1000, maxConsecutiveProbeErrors: 3 },
    // Failed commands tried 3 times, a half-second apart at most: a failing undo reaches its person in about a second.
    timings: { baselineSamples: 1, rapidVerificationMs: 600, stageVerificationMs: 600, observationMs: 0, machineQueueWaitMs: 4000, actionAttempts: 3, actionRetryMaxIntervalMs: 500 },
    weeks: weekDefs,
  });
  const policy: Omit<Policy, 'preflight' | 'preflightAnswerAfterMs'> = {
    gate: pick(['go', 'go', 'hold-then-go', 'rollback-week'] as const),
    undo: pick(['retry-after-fix', 'accept'] as const),
    approval: pick(['approve', 'approve', 'reject'] as const),
    inconclusive: pick(['retry-after-fix', 'accept', 'rollback'] as const),
  };
  const actions: TimedAction[] = [];
  const n = int(2, 5);
  for (let i = 0; i < n; i++) {
    // Most of a one-week phase is over in 5-8 s: faults land while it runs, a few near its gate.
    let atMs = int(200, weeks * 4500 + 1500);
    const agent = pick(planned);
    const roll = r();
    let action: Action;
    if (roll < 0.12) action = { kind: 'pause', resumeAfterMs: int(500, 4000) };
    else if (roll < 0.22) {
      action = { kind: 'abort', level: pick([1, 2, 3] as const) };
      // A third of the aborts come at once, while the phase checks its input and starts its
      // week and first migrations: the moments when a child is being started.
      if (chance(0.33)) atMs = int(0, 80);
    }
    else if (roll < 0.36) action = { kind: 'trigger', agent };
    else if (roll < 0.44) action = { kind: 'undo-fails-until-fixed', agent };
    else if (roll < 0.5) action = { kind: 'undo-fails-for-a-while', agent };
    else if (roll < 0.58) action = { kind: 'apply-hangs', agent };
    else if (roll < 0.63) action = { kind: 'probe-blind', agent };
    else if (roll < 0.72) action = { kind: 'kill-machine-worker', machine: pick(['mainpc', 'pc2']), downMs: int(300, 7000) };
    else if (roll < 0.8) action = { kind: 'kill-control-worker', downMs: int(0, 2500) };
    else if (roll < 0.87) action = { kind: 'nats-outage', downMs: int(1000, 4000) };
    else if (roll < 0.92) action = { kind: 'restart-temporal' };
    else action = { kind: 'start-again' };
    // An undo can only fail where something is undone: a failing undo comes with a trigger.
    if (action.kind === 'undo-fails-until-fixed' || action.kind === 'undo-fails-for-a-while') actions.push({ atMs: Math.max(0, atMs - 100), action: { kind: 'trigger', agent } });
    actions.push({ atMs, action });
  }
  // Drawn after everything else, so that a seed's earlier schedule is what it was before these
  // were added. An agent already failing its integration check when the phase starts: its
  // migration stops at the pre-flight check and waits for the policy's answer.
  const preflight = pick(['retry-after-fix', 'skip', 'proceed'] as const);
  const preflightAnswerAfterMs = int(0, 4000);
  if (chance(0.35)) actions.push({ atMs: 0, action: { kind: 'sick-before-change', agent: pick(planned) } });
  actions.sort((a, b) => a.atMs - b.atMs);
  return { seed, plan, policy: { ...policy, preflight, preflightAnswerAfterMs }, actions };
}

export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'pause':
      return `pause, resume after ${a.resumeAfterMs} ms`;
    case 'abort':
      return `abort at level ${a.level}`;
    case 'kill-machine-worker':
      return `SIGKILL ${a.machine}'s worker, back after ${a.downMs} ms`;
    case 'kill-control-worker':
      return `SIGKILL the control worker, back after ${a.downMs} ms`;
    case 'nats-outage':
      return `stop nats-server for ${a.downMs} ms`;
    case 'restart-temporal':
      return 'restart the dev server';
    case 'start-again':
      return 'start the same plan again';
    default:
      return `${a.kind} ${a.agent}`;
  }
}
