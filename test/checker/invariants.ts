import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { AgentMigrationResult } from '../../workflows/agent-migration';
import type { PhaseStatus } from '../../workflows/phase';
import type { RollbackRecord } from '../../workflows/rollback/engine';
import type { WeekStatus } from '../../workflows/week';
import type { ActionRecord, AgentView } from '../../simulator/fleet-state';
import { simulatorClient, type TestStack } from '../support/harness';
import { publishesAsked } from '../support/events';
import type { Schedule } from './schedule';

/**
 * The checker's invariants, judged against the simulator's record of every action, not against
 * what the workflows say of themselves:
 *
 * 1. Every agent is wholly before or wholly after each change, except where a person accepted
 *    it as it is, and the record names it so with the stages left.
 * 2. What phasegate said last about an agent and a change (a migration's outcome, a week's or
 *    a phase's rollback of it) is what the agent has: the simulator's stages.
 * 3. No stage applied twice without an undo between; every undo after an apply; nothing a
 *    migration applied lands after that migration's own undo of it.
 * 4. Every workflow of the schedule closed and completed (none running, failed or
 *    terminated), no workflow task failed, no lease left held, no command process left.
 * 5. Every event and alert the workflows asked for is in JetStream exactly once, and the
 *    alerts the schedule must raise are there: a level-1 alert per agent rollback, a level-2
 *    alert per failed undo or disagreeing read-back, a level-3 alert per phase rollback.
 */

export interface InvariantReport {
  violations: string[];
  actionsChecked: number;
  workflowsChecked: number;
  alertsChecked: number;
  eventsAsked: number;
  eventsLost: number;
  /** What happened, in short: outcomes by kind (for the summary). */
  outcomes: Record<string, number>;
}

interface Claim {
  agent: string;
  change: string;
  stages: number[];
  at: number;
  source: string;
  accepted: boolean;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

export async function checkInvariants(env: TestStack, s: Schedule, phaseIds: string[], since: Record<string, number>, settled: boolean): Promise<InvariantReport> {
  const violations: string[] = [];
  const outcomes: Record<string, number> = {};
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  if (!settled) violations.push('the schedule did not settle: a phase was still running at the limit');
  const client = env.client;
  const sim = simulatorClient(env.simulatorAdmin);
  // The changes this schedule's plan makes (the checker's are chk<seed>w<week>).
  const planChanges = new Set(s.plan.weeks.flatMap((w) => w.steps.map((st) => st.migrate?.change).filter((c): c is string => !!c)));

  // Every workflow of the schedule, from visibility (eventually consistent: wait until it lists every phase closed).
  const listed = await listSettled(client, `PhasegatePhase="${s.plan.id}"`, phaseIds);
  const claims: Claim[] = [];
  const askedAlerts: Array<{ id: string; level: number; title: string; workflowId: string }> = [];
  const askedEvents = new Set<string>();
  let workflowsChecked = 0;
  for (const w of listed) {
    workflowsChecked++;
    // A week whose history grew long carries on in a new run (workflows/week/new-run.ts): its
    // earlier runs end CONTINUED_AS_NEW, and their histories are read like any other.
    if (w.status !== 'COMPLETED' && w.status !== 'CONTINUED_AS_NEW') violations.push(`${w.type} ${w.workflowId} is ${w.status}, not completed`);
    const handle = client.workflow.getHandle(w.workflowId, w.runId);
    const history = await handle.fetchHistory();
    for (const e of history.events ?? []) {
      const failed = e.workflowTaskFailedEventAttributes;
      // UNHANDLED_COMMAND is the server's own protocol (a signal came while the task completed:
      // the task runs again with it), not a failure of phasegate's code.
      if (failed && String(failed.cause) !== 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND' && failed.cause !== 1) {
        violations.push(`${w.workflowId}: a workflow task failed (${failed.cause}: ${failed.failure?.message?.slice(0, 200)})`);
      }
    }
    for (const p of publishesAsked(history.events ?? [])) {
      askedEvents.add(p.id);
      const input = p.input as { level?: number; title?: string; workflowId: string } | null;
      if (p.activity === 'raiseAlert' && input) askedAlerts.push({ id: p.id, level: input.level!, title: input.title!, workflowId: input.workflowId });
    }
    if (w.status !== 'COMPLETED') continue;
    const closeAt = w.closeTime?.getTime() ?? 0;
    if (w.type === 'agentMigrationWorkflow') {
      const r = (await handle.result()) as AgentMigrationResult;
      count(`migration ${r.outcome}`);
      if (r.outcome !== 'refused' && r.outcome !== 'cancelled') {
        claims.push({ agent: r.agent, change: r.change, stages: r.outcome === 'migrated' ? [1, 2, 3] : r.stagesApplied, at: closeAt, source: `migration ${w.workflowId} (${r.outcome})`, accepted: r.outcome === 'accepted-as-is' });
      }
      if (r.rollback) {
        if (!askedAlerts.some((a) => a.workflowId === w.workflowId && a.level === 1 && /level-1 \(agent\) rollback/.test(a.title))) violations.push(`${w.workflowId} rolled back without its level-1 alert`);
        expectFailureAlerts(r.rollback, w.workflowId);
      }
    } else if (w.type === 'weekWorkflow' || w.type === 'phaseWorkflow') {
      const r = (await handle.result()) as WeekStatus | PhaseStatus;
      count(`${w.type === 'weekWorkflow' ? 'week' : 'phase'} ${r.outcome}`);
      if (r.rollback) {
        for (const c of r.rollback.changes) {
          if (c.kind !== 'migration' || !c.change) continue;
          claims.push({ agent: c.name, change: c.change, stages: c.result === 'undone' ? [] : c.remainingStages, at: Date.parse(c.at), source: `level-${r.rollback.level} rollback of ${w.workflowId}`, accepted: c.result === 'accepted-as-is' });
        }
        expectFailureAlerts(r.rollback, w.workflowId);
        if (r.rollback.level === 3 && !askedAlerts.some((a) => a.workflowId === w.workflowId && a.level === 3)) violations.push(`${w.workflowId}: a phase rollback without its level-3 alert`);
      }
    }
  }
  function expectFailureAlerts(rb: RollbackRecord, workflowId: string): void {
    const failures = rb.changes.reduce((n, c) => n + c.failures.length, 0);
    const level2 = askedAlerts.filter((a) => a.workflowId === workflowId && a.level === 2 && /failed|disagrees/.test(a.title)).length;
    if (level2 < failures) violations.push(`${workflowId}: ${failures} failed undo(s) or read-back(s), but ${level2} level-2 alert(s)`);
  }
  for (const id of phaseIds) if (!listed.some((w) => w.workflowId === id)) violations.push(`phase ${id} is not in the visibility store`);

  // The fleet as the simulator has it, and its record of every action.
  const [agents, actions] = await Promise.all([sim.agents(), sim.actions()]);
  const mine = actions.filter((a) => a.change !== undefined && planChanges.has(a.change));
  const touched = new Set(mine.map((a) => `${a.agent}/${a.change}`));
  for (const c of claims) touched.add(`${c.agent}/${c.change}`);
  for (const key of touched) {
    const [agent, change] = key.split('/') as [string, string];
    const view = agents.find((v: AgentView) => v.name === agent);
    const stages = [...(view?.changes[change] ?? [])].sort();
    const latest = claims.filter((c) => c.agent === agent && c.change === change).sort((a, b) => a.at - b.at).at(-1);
    if (!latest) {
      if (stages.length) violations.push(`${agent} has stages ${stages.join(', ')} of ${change}, and no record of phasegate says so`);
      continue;
    }
    if (!same(stages, latest.stages)) violations.push(`${agent} has stages [${stages.join(', ')}] of ${change}, but the last word of phasegate (${latest.source}) was [${latest.stages.join(', ')}]`);
    if (stages.length > 0 && stages.length < 3 && !latest.accepted) violations.push(`${agent} is half-changed (stages ${stages.join(', ')} of ${change}) and no person accepted it so`);
  }
  const actionsChecked = checkActionOrder(mine, violations);

  // Nothing left behind: leases, command processes.
  const leases = await listRunning(client, 'WorkflowType="agentLeaseWorkflow"');
  const stale = leases.filter((l) => s.plan.weeks.some((w) => w.steps.some((st) => st.migrate?.select.agents?.some((a) => l === `lease.${a}`))));
  if (stale.length) violations.push(`leases still held after the schedule: ${stale.join(', ')}`);
  const left = commandsLeft(env.simulatorAdmin);
  if (left.length) violations.push(`command processes left running: ${left.join('; ')}`);

  // Events and alerts: exactly once in JetStream.
  const stored = await storedIds(env, since);
  const lost = [...askedEvents].filter((id) => !stored.has(id));
  const duplicated = [...stored].filter(([, n]) => n > 1).map(([id]) => id);
  if (lost.length) violations.push(`${lost.length} event(s) or alert(s) never reached JetStream, e.g. ${lost[0]}`);
  if (duplicated.length) violations.push(`${duplicated.length} event(s) or alert(s) stored twice, e.g. ${duplicated[0]}`);
  return { violations, actionsChecked, workflowsChecked, alertsChecked: askedAlerts.length, eventsAsked: askedEvents.size, eventsLost: lost.length, outcomes };
}

/** The record's order: per stage, applied and undone alternate; nothing a migration applied lands after its own undo. */
function checkActionOrder(actions: ActionRecord[], violations: string[]): number {
  const byStage = new Map<string, ActionRecord[]>();
  for (const a of actions) {
    if (a.stage === undefined) continue;
    const k = `${a.agent}/${a.change}/s${a.stage}`;
    byStage.set(k, [...(byStage.get(k) ?? []), a]);
  }
  for (const [k, list] of byStage) {
    const effects = list.filter((a) => a.action === 'apply-stage' || a.action === 'undo-stage').filter((a) => a.outcome === 'applied' || a.outcome === 'undone');
    for (let i = 0; i < effects.length; i++) {
      const expected = i % 2 === 0 ? 'applied' : 'undone';
      if (effects[i]!.outcome !== expected) {
        violations.push(`${k}: ${effects.map((e) => `${e.outcome}#${e.seq}`).join(', ')} (applied and undone must alternate, starting with applied)`);
        break;
      }
    }
    // A migration run's keys share a prefix (`<workflow id>@<run>:`): its apply must not land after its own undo.
    for (const apply of list.filter((a) => a.action === 'apply-stage' && a.outcome === 'applied' && a.key)) {
      const run = apply.key!.slice(0, apply.key!.indexOf(':') + 1);
      const ownUndo = list.find((a) => a.action === 'undo-stage' && (a.outcome === 'undone' || a.outcome === 'nothing-to-undo') && a.key?.startsWith(`${run}rollback:`));
      if (ownUndo && ownUndo.seq < apply.seq) violations.push(`${k}: applied (#${apply.seq}) after the same migration's undo (#${ownUndo.seq}, ${ownUndo.outcome}): a late apply`);
    }
  }
  return actions.length;
}

async function listSettled(client: Client, query: string, mustInclude: string[]) {
  for (let attempt = 0; ; attempt++) {
    const list: Array<{ workflowId: string; runId: string; type: string; status: string; closeTime?: Date }> = [];
    for await (const w of client.workflow.list({ query })) list.push({ workflowId: w.workflowId, runId: w.runId, type: w.type, status: w.status.name, ...(w.closeTime ? { closeTime: w.closeTime } : {}) });
    const ready = mustInclude.every((id) => list.some((w) => w.workflowId === id && w.status !== 'RUNNING')) && list.every((w) => w.status !== 'RUNNING');
    if (ready || attempt >= 40) return list;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function listRunning(client: Client, query: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `${query} AND ExecutionStatus="Running"` })) ids.push(w.workflowId);
    if (ids.length === 0 || attempt >= 20) return ids;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Processes of this stack's catalogue commands still alive (their command line names the simulator's admin address). */
export function commandsLeft(adminUrl: string): string[] {
  const left: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && cmd.includes('fleetctl') && cmd.includes(adminUrl.replace('http://', ''))) left.push(`${pid}: ${cmd.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  return left;
}

/** A NATS request, tried again while the test's own connection reconnects after a NATS outage. */
export async function natsRetrying<T>(what: string, f: () => Promise<T>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function storedIds(env: TestStack, since: Record<string, number>): Promise<Map<string, number>> {
  const jsm = await natsRetrying('JetStream manager', () => env.nats.jetstreamManager());
  const stored = new Map<string, number>();
  for (const [stream, from] of Object.entries(since)) {
    const info = await natsRetrying(`stream ${stream}`, () => jsm.streams.info(stream));
    for (let seq = from + 1; seq <= info.state.last_seq; seq++) {
      const msg = await natsRetrying(`message ${seq} of ${stream}`, () => jsm.streams.getMessage(stream, { seq }));
      const id = msg?.header.get('Nats-Msg-Id');
      if (id) stored.set(id, (stored.get(id) ?? 0) + 1);
    }
  }
  return stored;
}
