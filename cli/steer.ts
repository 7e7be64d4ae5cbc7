import os from 'node:os';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { abortSignal, calendarSignal, pauseSignal, resumeSignal } from '../workflows/lib/steering';
import { phaseStatusQuery, weekWorkflowId, type PhaseStatus } from '../workflows/phase';
import { connect, describeWorkflow, OperatorError } from './temporal-client';
import { signDecision } from './sign';
import { freezeSignal, lineStatusQuery, lineWorkflow, lineWorkflowId, registerPhaseSignal, unfreezeSignal } from '../workflows/line';
import { decideGateUpdate, weekStatusQuery, type GateDecisionKind } from '../workflows/week';

export interface SteerOptions {
  config: PhasegateConfig;
  by?: string;
  reason?: string;
  json: boolean;
  /** The private key that signs a decision (cli/sign.ts). */
  keyFile?: string;
}

async function typeOf(handle: WorkflowHandle): Promise<string> {
  return (await describeWorkflow(handle)).type;
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

/** The gate's words, the same in the CLI, the decideGate Update, the report and the README. */
export const gateDecisions: readonly GateDecisionKind[] = ['go', 'hold', 'rollback-week'];

export async function decideGate(decision: GateDecisionKind, id: string, o: SteerOptions): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const { week } = await currentWeek(client, id);
    const s = await week.query(weekStatusQuery);
    if (!s.gate.open) throw new OperatorError(`gate ${s.gate.id} is not open (week ${s.week} is ${s.state}); decide it when \`phasegate status\` shows it open`);
    try {
      const d = { gate: s.gate.id, decision, by: who(o), ...(o.reason ? { reason: o.reason } : {}) };
      const signature = o.keyFile ? signDecision(o.keyFile, { workflowId: week.workflowId, subject: d.gate, decision, by: d.by, ...(o.reason ? { reason: o.reason } : {}) }) : undefined;
      await week.executeUpdate(decideGateUpdate, { args: [{ ...d, ...(signature ? { signature } : {}) }] });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
      throw new OperatorError(`the gate refused the decision: ${cause}`);
    }
    return `gate ${s.gate.id}: ${decision} by ${who(o)}${o.keyFile ? ' (signed)' : ''}`;
  } finally {
    await close();
  }
}

/** Phases running now, by workflow id (the visibility store; a phase that started a moment ago may be missing: hence two passes in freezeLine). */
async function runningPhases(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: 'WorkflowType="phaseWorkflow" AND ExecutionStatus="Running"' })) ids.push(w.workflowId);
  return ids;
}

/**
 * Stop the line (workflows/line.ts): freeze every running phase at once, and every phase that
 * starts while frozen. Recorded with who and why; lifted only by unfreezeLine, not by resume.
 */
export async function freezeLine(o: SteerOptions): Promise<string> {
  if (!o.reason?.trim()) throw new OperatorError('freeze needs --reason: a freeze is recorded with who froze the line and why');
  const { client, close } = await connect(o.config);
  try {
    const phases = await runningPhases(client);
    await client.workflow.signalWithStart(lineWorkflow, { workflowId: lineWorkflowId, taskQueue: o.config.deployment.controlTaskQueue, args: [], signal: freezeSignal, signalArgs: [{ by: who(o), reason: o.reason, phases }] });
    // A phase that started while the line did not exist yet joins it now.
    const later = (await runningPhases(client)).filter((id) => !phases.includes(id));
    for (const workflowId of later) await client.workflow.getHandle(lineWorkflowId).signal(registerPhaseSignal, { workflowId });
    const n = phases.length + later.length;
    return `the line is frozen by ${who(o)}: ${o.reason}. ${n} running phase${n === 1 ? '' : 's'} hold${n === 1 ? 's' : ''}: what runs finishes its current stage, nothing new starts; \`phasegate unfreeze --by NAME\` opens it again`;
  } finally {
    await close();
  }
}

export async function unfreezeLine(o: SteerOptions): Promise<string> {
  const { client, close } = await connect(o.config);
  try {
    const line = client.workflow.getHandle(lineWorkflowId);
    const s = await line.query(lineStatusQuery).catch(() => null);
    if (!s?.frozen) throw new OperatorError('the line is not frozen');
    await line.signal(unfreezeSignal, { by: who(o), ...(o.reason ? { reason: o.reason } : {}) });
    return `the line is open again (unfrozen by ${who(o)}; it was frozen by ${s.frozen.by} since ${s.frozen.at}: ${s.frozen.reason}). ${s.phases.length} phase(s) carry on`;
  } finally {
    await close();
  }
}

/**
 * Sends deployment.json's calendar, as it is now, to every running phase (workflows/phase.ts,
 * calendarSignal): a freeze period or a window added after a phase started reaches it, its
 * running week at once and its later weeks as they start. A phase started later reads the file.
 */
export async function applyCalendar(o: SteerOptions): Promise<string> {
  const calendar = o.config.deployment.calendar ?? null;
  const { client, close } = await connect(o.config);
  try {
    const phases: string[] = [];
    const missed: string[] = [];
    // One phase that ended between the listing and its signal does not keep the others from theirs.
    for (const workflowId of await runningPhases(client)) {
      await client.workflow
        .getHandle(workflowId)
        .signal(calendarSignal, { calendar, by: who(o) })
        .then(
          () => phases.push(workflowId),
          (err: Error) => missed.push(`${workflowId} (${err.message})`),
        );
    }
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    const what = calendar ? `the calendar of ${o.config.deploymentFile} (${count(calendar.windows?.length ?? 0, 'window')}, ${count(calendar.freezes?.length ?? 0, 'freeze')}, ${calendar.timeZone})` : `no calendar (${o.config.deploymentFile} has none): every window open`;
    return `${what} sent by ${who(o)} to ${phases.length} running phase${phases.length === 1 ? '' : 's'}${phases.length ? `: ${phases.join(', ')}` : ''}${missed.length ? `; not sent to ${missed.join(', ')}` : ''}`;
  } finally {
    await close();
  }
}
