import os from 'node:os';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { temporalTarget } from '../lib/temporal';
import { agentMigrationStatusQuery, type AgentMigrationStatus } from '../workflows/agent-migration';
import { abortSignal, pauseSignal, resumeSignal } from '../workflows/lib/steering';
import { phaseStatusQuery, weekWorkflowId, type PhaseStatus } from '../workflows/phase';
import { decideGateUpdate, weekStatusQuery, type GateDecisionKind, type WeekStatus } from '../workflows/week';

/** A mistake of the operator's: printed as is, with what to do next, exit 1. */
export class OperatorError extends Error {}

export interface SteerOptions {
  config: PhasegateConfig;
  by?: string;
  reason?: string;
  json: boolean;
}

/** A client for the configured Temporal, or an operator error saying what to check. */
export async function connect(config: PhasegateConfig): Promise<{ client: Client; close: () => Promise<void> }> {
  const target = temporalTarget(config.deployment);
  const connection = await Connection.connect({ address: target.address, ...(target.tls ? { tls: target.tls } : {}), ...(target.apiKey ? { apiKey: target.apiKey } : {}) }).catch((err: Error) => {
    throw new OperatorError(`cannot reach Temporal at ${target.address}: ${err.message}. Is the stack running (scripts/demo.sh)?`);
  });
  return { client: new Client({ connection, namespace: target.namespace }), close: () => connection.close() };
}

async function typeOf(handle: WorkflowHandle): Promise<string> {
  try {
    return (await handle.describe()).type;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new OperatorError(`no workflow "${handle.workflowId}": list phases with \`.tools/bin/temporal workflow list --query 'WorkflowType="phaseWorkflow"'\``);
    throw err;
  }
}

const who = (o: SteerOptions) => o.by ?? os.userInfo().username;

/** The week a command about a phase applies to: the phase's running week. */
async function currentWeek(client: Client, id: string): Promise<{ phase: PhaseStatus | null; week: WorkflowHandle }> {
  const handle = client.workflow.getHandle(id);
  const type = await typeOf(handle);
  if (type === 'weekWorkflow') return { phase: null, week: handle };
  if (type !== 'phaseWorkflow') throw new OperatorError(`"${id}" is a ${type}, not a phase or a week`);
  const phase = await handle.query(phaseStatusQuery);
  if (!phase.currentWeek) throw new OperatorError(`phase ${phase.phase} has no week running (state ${phase.state}, outcome ${phase.outcome ?? 'none'})`);
  return { phase, week: client.workflow.getHandle(weekWorkflowId(id, phase.currentWeek)) };
}

export async function steer(command: 'pause' | 'resume' | 'abort', id: string, o: SteerOptions & { level?: number }): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const handle = client.workflow.getHandle(id);
    const type = await typeOf(handle);
    if (type !== 'phaseWorkflow' && type !== 'weekWorkflow') throw new OperatorError(`"${id}" is a ${type}; pause, resume and abort act on a phase or a week`);
    if (command === 'abort') {
      if (o.level !== 1 && o.level !== 2 && o.level !== 3) throw new OperatorError('abort needs --level 1, 2 or 3 (1: agents in flight, 2: the whole week, 3: every week of the phase)');
      await handle.signal(abortSignal, { level: o.level, by: who(o), ...(o.reason ? { reason: o.reason } : {}) });
      return `abort at level ${o.level} sent to ${id}; follow the rollback with \`phasegate status ${id}\``;
    }
    if (command === 'pause') await handle.signal(pauseSignal, { by: who(o), ...(o.reason ? { reason: o.reason } : {}) });
    else await handle.signal(resumeSignal, { by: who(o) });
    return `${command} sent to ${id}`;
  } finally {
    await close();
  }
}

export async function decideGate(action: 'approve' | 'reject' | 'hold', id: string, o: SteerOptions): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const { week } = await currentWeek(client, id);
    const s = await week.query(weekStatusQuery);
    if (!s.gate.open) throw new OperatorError(`gate ${s.gate.id} is not open (week ${s.week} is ${s.state}); decide it when \`phasegate status\` shows it open`);
    const decision: GateDecisionKind = action === 'approve' ? 'go' : action === 'reject' ? 'rollback-week' : 'hold';
    try {
      await week.executeUpdate(decideGateUpdate, { args: [{ gate: s.gate.id, decision, by: who(o), ...(o.reason ? { reason: o.reason } : {}) }] });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
      throw new OperatorError(`the gate refused the decision: ${cause}`);
    }
    return `gate ${s.gate.id}: ${decision} by ${who(o)}`;
  } finally {
    await close();
  }
}

/** Status of a phase (with its running week), a week, or an agent's migration. */
export async function status(id: string, o: SteerOptions): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const handle = client.workflow.getHandle(id);
    const type = await typeOf(handle);
    if (type === 'agentMigrationWorkflow') {
      const s = await handle.query(agentMigrationStatusQuery);
      return o.json ? JSON.stringify(s) : formatAgent(s);
    }
    if (type !== 'phaseWorkflow' && type !== 'weekWorkflow') throw new OperatorError(`"${id}" is a ${type}, which has no phasegate status`);
    const phase = type === 'phaseWorkflow' ? await handle.query(phaseStatusQuery) : null;
    const weekId = phase ? (phase.currentWeek ? weekWorkflowId(id, phase.currentWeek) : null) : id;
    const week = weekId ? await client.workflow.getHandle(weekId).query(weekStatusQuery) : null;
    if (o.json) return JSON.stringify({ phase, week });
    return [phase ? formatPhase(phase) : null, week ? formatWeek(week) : null].filter(Boolean).join('\n');
  } finally {
    await close();
  }
}

function formatPhase(p: PhaseStatus): string {
  return [
    `phase ${p.phase}: ${p.state}${p.outcome ? `, ${p.outcome}` : ''}${p.paused ? ` (paused by ${p.paused.by})` : ''}`,
    ...p.weeks.map((w) => `  ${w.id.padEnd(8)} ${String(w.outcome).padEnd(12)} ${w.title}`),
  ].join('\n');
}

function formatWeek(w: WeekStatus): string {
  const machines = [...new Set(w.agents.map((a) => a.machine))];
  const count = (m: string, st: string) => w.agents.filter((a) => a.machine === m && a.state === st).length;
  const lines = [
    `week ${w.week}: ${w.state}${w.pauseReason ? ` (${w.pauseReason})` : ''}; batches ${w.batches.done}/${w.batches.total}`,
    ...machines.map((m) => `  ${m.padEnd(8)} migrated ${count(m, 'migrated')}, running ${count(m, 'running')}, waiting ${count(m, 'waiting')}, rolled back ${count(m, 'rolled-back')}`),
  ];
  if (w.gate.report) {
    lines.push(`  gate ${w.gate.id}: ${w.gate.open ? 'OPEN' : 'closed'}`);
    for (const c of w.gate.report.criteria) lines.push(`    ${c.met ? 'met    ' : 'NOT met'} ${c.detail}`);
    for (const d of w.gate.decisions) lines.push(`    ${d.decision} by ${d.by}${d.reason ? `: ${d.reason}` : ''}`);
  }
  return lines.join('\n');
}

function formatAgent(s: AgentMigrationStatus): string {
  return [
    `${s.agent} on ${s.machine}: ${s.change}, ${s.strategy} (risk ${s.assessment.score}, ${s.assessment.band}); ${s.state}${s.outcome ? `, ${s.outcome}` : ''}`,
    `  stages applied: ${s.stagesApplied.join(', ') || 'none'}${s.awaitingApprovalFor ? `; stage ${s.awaitingApprovalFor} waits for approval` : ''}`,
    ...(s.trigger ? [`  trigger: ${s.trigger.kind}: ${s.trigger.detail}`] : []),
  ].join('\n');
}
