import type { Client } from '@temporalio/client';
import type { PhasegateConfig } from '../config/load';
import { formatDuration } from '../render/durations';
import { autoPromotionLine } from '../render/phase-report';
import { agentMigrationStatusQuery, type AgentMigrationStatus, type DecisionCheck } from '../workflows/agent-migration';
import { phaseStatusQuery, weekWorkflowId, type PhaseStatus } from '../workflows/phase';
import type { PersonWait } from '../workflows/lib/person';
import { weekStatusQuery, type WeekStatus } from '../workflows/week';
import { connect, describeWorkflow, OperatorError } from './temporal-client';

/** What `phasegate status` knows about one workflow id at one moment. */
export interface StatusSnapshot {
  id: string;
  type: 'phaseWorkflow' | 'weekWorkflow' | 'agentMigrationWorkflow';
  /** running, completed, failed, terminated, ... (Temporal's execution status). */
  execution: string;
  phase: PhaseStatus | null;
  week: WeekStatus | null;
  agent: AgentMigrationStatus | null;
}

export async function readStatus(client: Client, id: string): Promise<StatusSnapshot> {
  const handle = client.workflow.getHandle(id);
  const { type, status: execution } = await describeWorkflow(handle);
  if (type === 'agentMigrationWorkflow') {
    return { id, type, execution, phase: null, week: null, agent: await handle.query(agentMigrationStatusQuery) };
  }
  if (type !== 'phaseWorkflow' && type !== 'weekWorkflow') throw new OperatorError(`"${id}" is a ${type}, which has no phasegate status; try a phase, a week or an agent migration`);
  const phase = type === 'phaseWorkflow' ? await handle.query(phaseStatusQuery) : null;
  // The running week, or for a finished phase the last week that ran.
  const weekId = phase ? (phase.currentWeek ?? [...phase.weeks].reverse().find((w) => w.outcome !== 'not-started')?.id ?? null) : null;
  const week = type === 'weekWorkflow' ? await handle.query(weekStatusQuery) : weekId ? await client.workflow.getHandle(weekWorkflowId(id, weekId)).query(weekStatusQuery).catch(() => null) : null;
  return { id, type, execution, phase, week, agent: null };
}

/** Plain lines: the phase and its weeks, the week's batches, per-machine counts, the gate and its report. */
export function renderStatus(s: StatusSnapshot): string {
  const lines: string[] = [];
  if (s.agent) lines.push(...formatAgent(s.agent));
  if (s.phase) lines.push(...formatPhase(s.phase));
  if (s.week) lines.push(...formatWeek(s.week, s.id, s.phase !== null));
  if (s.execution !== 'running') lines.push(`workflow ${s.id} ${s.execution}`);
  return lines.join('\n');
}

function formatPhase(p: PhaseStatus): string[] {
  return [
    `phase ${p.phase}: ${p.state}${p.outcome ? `, ${p.outcome}` : ''}${p.paused ? ` (paused by ${p.paused.by}${p.paused.reason ? `: ${p.paused.reason}` : ''})` : ''}`,
    ...(p.line ? [`  FROZEN by ${p.line.by} since ${p.line.at}: ${p.line.reason}`] : []),
    ...p.weeks.map((w) => `  ${w.id.padEnd(8)} ${String(w.outcome).padEnd(12)} ${w.title}`),
    ...(p.rollback
      ? [`  phase rollback (level 3): undone ${p.rollback.undone.length}${p.rollback.acceptedAsIs?.length ? `, accepted as is ${p.rollback.acceptedAsIs.join(', ')}` : ''}${p.rollback.finishedAt ? ` in ${formatDuration(p.rollback.durationMs ?? 0)}` : ', in progress'}`]
      : []),
    ...(p.unreachableMachines?.length ? [`  unreachable: ${p.unreachableMachines.join(', ')}`] : []),
    ...formatWaits(p.waitingForPerson),
  ];
}

/** Agent states an operator counts, in the order they read. */
const counted: Array<[WeekStatus['agents'][number]['state'], string]> = [
  ['migrated', 'migrated'],
  ['running', 'running'],
  ['waiting', 'waiting'],
  ['rolled-back', 'rolled back'],
  ['accepted-as-is', 'accepted as is'],
  ['undone-with-week', 'undone with the week'],
  ['failed', 'failed'],
  ['rejected', 'rejected'],
  ['refused', 'refused (agent busy)'],
  ['cancelled', 'not started (aborted)'],
];

/** Every wait for a person, with what it waits for and the command that resolves it. */
function formatWaits(waits: readonly PersonWait[] | undefined): string[] {
  if (!waits?.length) return [];
  return [
    `  WAITING FOR A PERSON (${waits.length}):`,
    ...waits.flatMap((w) => [`    ${w.agent ?? w.machine ?? ''} ${w.what}: ${w.detail} (since ${w.since}; ${w.workflowId})`, `      resolve: ${w.resolve}`]),
  ];
}

/** `steerId` is the id the operator asked about (the phase or the week): the gate commands take it. */
function formatWeek(w: WeekStatus, steerId: string, phaseShown: boolean): string[] {
  const machines = [...new Set(w.agents.map((a) => a.machine))];
  const lines = [
    `week ${w.week} (${w.title}): ${w.state}${w.outcome ? `, ${w.outcome}` : ''}${w.pauseReason ? ` (${w.pauseReason})` : ''}; batches ${w.batches.done}/${w.batches.total}${w.currentStep ? `; step ${w.currentStep}` : ''}`,
  ];
  if (w.calendar && !w.calendar.open) lines.push(`  CALENDAR CLOSED since ${w.calendar.since}: ${w.calendar.why ?? ''}${w.calendar.changesAt ? ` (opens ${w.calendar.changesAt})` : ''}; nothing new starts until then`);
  if (w.line) lines.push(`  FROZEN by ${w.line.by} since ${w.line.at}: ${w.line.reason} (nothing new starts until \`phasegate unfreeze\`)`);
  for (const m of machines) {
    const mine = w.agents.filter((a) => a.machine === m);
    const parts = counted.map(([state, label]) => [mine.filter((a) => a.state === state).length, label] as const).filter(([n, label]) => n > 0 || ['migrated', 'rolled back', 'waiting'].includes(label));
    lines.push(`  ${m.padEnd(8)} ${parts.map(([n, label]) => `${label} ${n}`).join(', ')}`);
  }
  for (const a of w.agents.filter((x) => x.state === 'rolled-back' && (x.trigger || x.detail))) lines.push(`  ${a.agent} on ${a.machine} rolled back: ${a.trigger ?? a.detail}`);
  for (const a of w.agents.filter((x) => x.state === 'accepted-as-is')) lines.push(`  ${a.agent} on ${a.machine} ACCEPTED AS IS: stages ${a.stagesLeft?.join(', ') || '?'} still applied${a.trigger ? ` (after ${a.trigger})` : ''}`);
  for (const a of w.agents.filter((x) => x.state === 'refused' || x.state === 'failed')) lines.push(`  ${a.agent} on ${a.machine} ${a.state}: ${a.detail ?? ''}`);
  if (w.unreachableMachines.length) lines.push(`  unreachable: ${w.unreachableMachines.join(', ')}`);
  if (w.deadline && (w.deadline.passed || !w.outcome)) {
    lines.push(`  deadline to reach the gate ${w.deadline.at}${w.deadline.passed ? `: PASSED (${w.deadline.action === 'rollback' ? 'rolled back' : 'paused'}): ${w.deadline.why ?? ''}` : ' (moves on by the time paused)'}`);
  }
  if (w.rollback) {
    lines.push(
      `  level-${w.rollback.level ?? 2} rollback: ${w.rollback.reason}; undone ${w.rollback.undone.length}${w.rollback.acceptedAsIs?.length ? `, accepted as is ${w.rollback.acceptedAsIs.join(', ')}` : ''}${w.rollback.finishedAt ? ` in ${formatDuration(w.rollback.durationMs ?? 0)}` : ', in progress'}${w.rollback.overBudgetAt ? ' (OVER BUDGET)' : ''}`,
    );
  }
  // A phase's status lists the waits of the whole phase already.
  if (!phaseShown) lines.push(...formatWaits(w.waitingForPerson));
  if (w.gate.report) {
    lines.push(`  gate ${w.gate.id}: ${w.gate.open ? 'OPEN' : 'closed'}${w.gate.open ? ` (criteria ${w.gate.report.met ? 'met' : 'NOT met'}; decide with \`phasegate gate go|hold|rollback-week ${steerId}\`)` : ''}`);
    for (const c of w.gate.report.criteria) lines.push(`    ${c.met ? 'met    ' : 'NOT met'} ${c.detail}`);
    for (const d of w.gate.decisions) lines.push(`    ${d.decision} by ${d.by}${d.byPolicy ? ' (by the plan)' : ''}${checkedLine(d.verified)}${d.reason ? `: ${d.reason}` : ''}`);
    if (w.gate.autoPromotion) lines.push(`    auto-promotion ${autoPromotionLine(w.gate.autoPromotion)}`);
    if (w.gate.open && w.gate.deadline) lines.push(`    deadline ${w.gate.deadline.at}${w.gate.deadline.passed ? ': PASSED, escalated to level 2' : ''}`);
  }
  return lines;
}

/** How a decision's maker was checked, where the plan names who may decide. */
export function checkedLine(v: DecisionCheck | undefined): string {
  return v === undefined ? '' : v === 'signature' ? ' (signature checked)' : ' (UNSIGNED: name only, as the plan allows)';
}

function formatAgent(s: AgentMigrationStatus): string[] {
  return [
    `${s.agent} on ${s.machine}: ${s.change}, ${s.strategy} (risk ${s.assessment.score}, ${s.assessment.band}); ${s.state}${s.outcome ? `, ${s.outcome}` : ''}`,
    `  stages applied: ${s.stagesApplied.join(', ') || 'none'}${s.awaitingApprovalFor ? `; stage ${s.awaitingApprovalFor} waits for approval` : ''}`,
    ...s.approvals.map((a) => `  stage ${a.stage}: ${a.decision} by ${a.by}${checkedLine(a.verified)}${a.reason ? `: ${a.reason}` : ''}`),
    ...(s.trigger ? [`  trigger: ${s.trigger.kind}: ${s.trigger.detail}`] : []),
    ...(s.deadlinesPassed ?? []).map((d) => `  DEADLINE PASSED (${d.scope}) at ${d.at}: ${d.what}: ${d.why}; ${d.action === 'rollback' ? 'rolled back' : 'paused'}`),
    ...(s.line ? [`  FROZEN by ${s.line.by} since ${s.line.at}: ${s.line.reason}`] : []),
    ...(s.agentHeldBy ? [`  agent held by ${s.agentHeldBy.holder} (${s.agentHeldBy.change}) since ${s.agentHeldBy.since}`] : []),
    ...(s.rollback
      ? [`  rollback: ${s.rollback.reason}; stages undone ${s.rollback.changes[0]?.undoneStages.join(', ') || 'none'}${s.rollback.changes[0]?.readBack ? `, read back: ${s.rollback.changes[0].readBack.present.length ? `stages ${s.rollback.changes[0].readBack.present.join(', ')} still present` : 'no marker left'}` : ''}`]
      : []),
    ...formatWaits(s.waitingForPerson),
  ];
}

export interface StatusOptions {
  config: PhasegateConfig;
  json: boolean;
  /** Keep following until the workflow ends. */
  watch: boolean;
  intervalMs: number;
  /** Where to write; a TTY gets a view redrawn in place, anything else plain lines. */
  out: NodeJS.WriteStream;
}

const clearScreen = '\x1b[H\x1b[2J';

/**
 * Status once, or followed until the workflow ends: redrawn in place on a terminal; as plain
 * blocks (or JSON lines with --json) whenever something changed when piped. Returns the
 * last status it read.
 */
export async function showStatus(id: string, o: StatusOptions): Promise<StatusSnapshot> {
  const { client, close } = await connect(o.config);
  const tty = o.out.isTTY === true && !o.json;
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.once('SIGINT', onSigint);
  try {
    let last = '';
    const started = Date.now();
    for (;;) {
      const s = await readStatus(client, id);
      const waitingForPerson = s.phase?.waitingForPerson ?? s.week?.waitingForPerson ?? s.agent?.waitingForPerson ?? [];
      const body = o.json ? JSON.stringify({ phase: s.phase, week: s.week, ...(s.agent ? { agent: s.agent } : {}), waitingForPerson, execution: s.execution }) : renderStatus(s);
      const done = s.execution !== 'running';
      if (tty && o.watch) {
        const footer = done ? '' : `\n\nrefreshing every ${o.intervalMs / 1000} s for ${formatDuration(Date.now() - started)} (updated ${new Date().toLocaleTimeString()}); Ctrl-C stops watching, not the phase`;
        o.out.write(`${clearScreen}${body}${footer}\n`);
      } else if (body !== last) {
        o.out.write(o.watch && !o.json ? `--- ${new Date().toISOString()}\n${body}\n` : `${body}\n`);
      }
      last = body;
      if (!o.watch || done || stop) return s;
      await new Promise((r) => setTimeout(r, o.intervalMs));
      if (stop) return s;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    await close();
  }
}
