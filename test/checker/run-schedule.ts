import type { WorkflowHandle } from '@temporalio/client';
import { phaseInput } from '../../plan/compile';
import { agentMigrationStatusQuery, approveStageUpdate, resolveFailedUndoUpdate, resolveInconclusiveUpdate, resolvePreflightUpdate } from '../../workflows/agent-migration';
import type { PersonWait } from '../../workflows/lib/person';
import { abortSignal, pauseSignal, resumeSignal } from '../../workflows/lib/steering';
import { phaseStatusQuery, phaseWorkflow } from '../../workflows/phase';
import { decideGateUpdate, weekStatusQuery } from '../../workflows/week';
import { simulatorClient, startTestStack, type TestStack } from '../support/harness';
import { checkInvariants, natsRetrying, type InvariantReport } from './invariants';
import { criticalAgent, describeAction, type Action, type Schedule } from './schedule';

/**
 * Runs one schedule of the randomized checker on a shared real stack (dev server, nats-server,
 * workers, simulator as child processes): starts the phase, plays the operator's actions and
 * the faults at their moments, answers what the phase asks of a person by the schedule's
 * policy, waits for everything to settle, then checks the invariants against the simulator's
 * record (invariants.ts).
 */

export interface ScheduleReport extends InvariantReport {
  seed: number;
  phases: string[];
  operatorActions: number;
  faults: number;
  durationMs: number;
  log: string[];
}

/** The checker's stack: a critical-band agent (stage approvals), apply commands that time out quickly (hung applies). */
export function startCheckerStack(): Promise<TestStack> {
  return startTestStack({
    edit: ({ inventory, catalogues }) => {
      const a = inventory.agents.find((x: { name: string }) => x.name === criticalAgent);
      a.riskOverride = { score: 38, reason: 'checker: a critical-band agent, so stage approvals are exercised' };
      for (const c of Object.values(catalogues)) c.actions['apply-stage'].timeoutMs = 1500;
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isOperator = (a: Action) => a.kind === 'pause' || a.kind === 'abort' || a.kind === 'start-again';

export async function runSchedule(env: TestStack, s: Schedule, o: { settleLimitMs?: number } = {}): Promise<ScheduleReport> {
  const started = Date.now();
  const sim = simulatorClient(env.simulatorAdmin);
  const log: string[] = [];
  const note = (line: string) => log.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const tq = env.config.deployment.controlTaskQueue;
  const since = await streamMarks(env);
  const phases: Array<WorkflowHandle<typeof phaseWorkflow>> = [];
  let operatorActions = 0;
  let faults = 0;
  /** Stack restarts one at a time (two kills of one process would race). */
  let stackOps: Promise<unknown> = Promise.resolve();
  const onStack = (f: () => Promise<unknown>) => (stackOps = stackOps.then(f, f));
  let downUntil = 0;
  let stopped = false;
  let pauseUntil = 0;

  const operators: Array<Promise<void>> = [];
  const startPhase = async (suffix: string) => {
    const h = await env.client.workflow.start(phaseWorkflow, { taskQueue: tq, workflowId: `phase.${s.plan.id}.${suffix}`, args: [phaseInput(s.plan, env.config.inventory)] });
    phases.push(h);
    operators.push(operate(h));
    note(`started ${h.workflowId}`);
  };

  async function play(a: Action): Promise<void> {
    note(describeAction(a));
    if (isOperator(a)) operatorActions++;
    else faults++;
    const first = phases[0]!;
    switch (a.kind) {
      case 'pause':
        pauseUntil = Date.now() + a.resumeAfterMs;
        await first.signal(pauseSignal, { by: 'checker', reason: `seed ${s.seed}` }).catch(() => undefined);
        return;
      case 'abort':
        await first.signal(abortSignal, { level: a.level, by: 'checker', reason: `seed ${s.seed}` }).catch(() => undefined);
        return;
      case 'start-again':
        // Each start again is a run of its own (b, c, ...): a schedule may hold more than one.
        await startPhase(String.fromCharCode(97 + phases.length));
        return;
      case 'trigger':
        await sim.fault(a.agent, { integrationFailing: true, clearOnUndo: true });
        return;
      case 'undo-fails-until-fixed':
        await sim.fault(a.agent, { undoFails: true });
        return;
      case 'undo-fails-for-a-while':
        await sim.fault(a.agent, { undoFailures: 7 });
        return;
      case 'apply-hangs':
        await sim.fault(a.agent, { applyHangs: 1 });
        return;
      case 'probe-blind':
        await sim.fault(a.agent, { garbledHealth: true });
        return;
      case 'sick-before-change':
        await sim.fault(a.agent, { integrationFailing: true });
        return;
      case 'kill-machine-worker':
        downUntil = Math.max(downUntil, Date.now() + a.downMs + 15_000);
        await onStack(async () => {
          await env.stack.kill(`worker-${a.machine}`);
          await sleep(a.downMs);
          await env.stack.startMachineWorker(a.machine);
          note(`${a.machine}'s worker back`);
        });
        return;
      case 'kill-control-worker':
        await onStack(async () => {
          await env.stack.kill('worker-control');
          await sleep(a.downMs);
          await env.stack.startControlWorker();
          note('control worker back');
        });
        return;
      case 'nats-outage':
        await onStack(async () => {
          await env.stack.kill('nats-server');
          await sleep(a.downMs);
          await env.stack.startNats();
          note('nats-server back');
        });
        return;
      case 'restart-temporal':
        await onStack(async () => {
          await env.stack.kill('temporal', 'SIGTERM');
          await sleep(1000);
          await env.stack.startTemporal();
          note('dev server back');
        });
        return;
    }
  }

  /** Answers a wait as the schedule's policy says; false if the workflow refused (it moved on): try again later. */
  async function answer(w: PersonWait): Promise<boolean> {
    const h = env.client.workflow.getHandle(w.workflowId);
    try {
      if (w.what === 'failed-undo' || w.what === 'read-back') {
        if (s.policy.undo === 'retry-after-fix' && w.agent) await sim.fault(w.agent, { undoFails: false, undoFailures: 0 });
        const action = s.policy.undo === 'accept' ? 'accept' : 'retry-undo';
        await h.executeUpdate(resolveFailedUndoUpdate, { args: [{ action, by: 'checker', reason: `policy of seed ${s.seed}` }] });
        note(`${action} for ${w.agent ?? w.machine} (${w.what}: ${w.detail.slice(0, 160)}) on ${w.workflowId}`);
      } else if (w.what === 'pre-flight') {
        // Left waiting a while first: a pause, an abort or a fault may land during the wait.
        if (Date.now() - Date.parse(w.since) < s.policy.preflightAnswerAfterMs) return false;
        if (s.policy.preflight === 'retry-after-fix' && w.agent) await sim.fault(w.agent, { integrationFailing: false });
        const action = s.policy.preflight === 'retry-after-fix' ? 'retry' : s.policy.preflight;
        await h.executeUpdate(resolvePreflightUpdate, { args: [{ action, by: 'checker', reason: `policy of seed ${s.seed}` }] });
        note(`${action} for ${w.agent} at its failed pre-flight check (${w.detail.slice(0, 160)})`);
      } else if (w.what === 'stage-approval') {
        const stage = (await h.query(agentMigrationStatusQuery)).awaitingApprovalFor;
        if (!stage) return false;
        await h.executeUpdate(approveStageUpdate, { args: [{ stage, decision: s.policy.approval, by: 'checker' }] });
        note(`${s.policy.approval} stage ${stage} of ${w.agent}`);
      } else {
        if (s.policy.inconclusive === 'retry-after-fix' && w.agent) await sim.fault(w.agent, { garbledHealth: false });
        const action = s.policy.inconclusive === 'retry-after-fix' ? 'retry-window' : s.policy.inconclusive;
        await h.executeUpdate(resolveInconclusiveUpdate, { args: [{ action, by: 'checker', reason: `policy of seed ${s.seed}` }] });
        note(`${action} for the inconclusive window of ${w.agent}`);
      }
      operatorActions++;
      return true;
    } catch {
      return false;
    }
  }

  /** The operator: answers waits, decides gates, resumes what paused once the fleet is whole again. */
  async function operate(h: WorkflowHandle<typeof phaseWorkflow>): Promise<void> {
    const answered = new Set<string>();
    const gates = new Map<string, 'held' | 'decided'>();
    for (;;) {
      if (stopped) return;
      const d = await h.describe().catch(() => null);
      if (d && d.status.name !== 'RUNNING') return;
      const p = await h.query(phaseStatusQuery).catch(() => null);
      if (p) {
        for (const w of p.waitingForPerson) {
          const k = `${w.workflowId}|${w.what}|${w.since}`;
          if (!answered.has(k) && (await answer(w))) answered.add(k);
        }
        const weekId = p.currentWeek ? p.weeks.find((x) => x.id === p.currentWeek)?.workflowId : undefined;
        const week = weekId ? await env.client.workflow.getHandle(weekId).query(weekStatusQuery).catch(() => null) : null;
        if (week && weekId && week.gate.open && gates.get(week.gate.id) !== 'decided') {
          const hold = s.policy.gate === 'hold-then-go' && !gates.has(week.gate.id);
          const decision = hold ? 'hold' : s.policy.gate === 'rollback-week' ? 'rollback-week' : 'go';
          const ok = await env.client.workflow
            .getHandle(weekId)
            .executeUpdate(decideGateUpdate, { args: [{ gate: week.gate.id, decision, by: 'checker', reason: `policy of seed ${s.seed}` }] })
            .then(
              () => true,
              () => false,
            );
          if (ok) {
            gates.set(week.gate.id, hold ? 'held' : 'decided');
            operatorActions++;
            note(`gate ${week.gate.id}: ${decision}`);
          }
        }
        const held = (week && week.state === 'paused') || p.state === 'paused';
        if (held && Date.now() > pauseUntil && Date.now() > downUntil) {
          await h.signal(resumeSignal, { by: 'checker' }).catch(() => undefined);
          operatorActions++;
          note(`resume (${week?.pauseReason ?? p.paused?.reason ?? 'paused'})`);
          await sleep(1500);
        }
      }
      await sleep(300);
    }
  }

  await startPhase('a');
  const played = (async () => {
    for (const t of s.actions) {
      const wait = started + t.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      await play(t.action);
    }
    await stackOps;
  })();
  await played;
  const limit = Date.now() + (o.settleLimitMs ?? 240_000);
  const settled = await Promise.race([Promise.all(operators).then(() => true), sleep(Math.max(0, limit - Date.now())).then(() => false)]);
  stopped = true;
  note(settled ? 'every phase closed' : 'NOT SETTLED');
  await sim.clearFaults().catch(() => undefined);
  const report = await checkInvariants(env, s, phases.map((h) => h.workflowId), since, settled);
  await sim.clearFaults().catch(() => undefined);
  return { ...report, seed: s.seed, phases: phases.map((h) => h.workflowId), operatorActions, faults, durationMs: Date.now() - started, log };
}

/** Where the event and alert streams stand, so a schedule reads only what it published. */
export async function streamMarks(env: TestStack): Promise<Record<string, number>> {
  const jsm = await natsRetrying('JetStream manager', () => env.nats.jetstreamManager());
  const marks: Record<string, number> = {};
  for (const name of ['PHASEGATE_EVENTS', 'PHASEGATE_ALERTS']) marks[name] = (await natsRetrying(`stream ${name}`, () => jsm.streams.info(name))).state.last_seq;
  return marks;
}
