import { judgeGap, type Beat, type MachineWindow } from './heartbeats';

/**
 * The validation's running totals: each machine's window of heartbeats (heartbeats.ts) folded
 * into per-sender downtime, incidents, failovers and the error budget. Carried across
 * continue-as-new by the validation workflow. Pure.
 */

export interface FleetMember {
  name: string;
  machine: string;
  kind: 'agent' | 'hub';
  /** Agents: their own hub and the one they fail over to. */
  hub?: string;
  failoverHub?: string;
}

export interface ValidationParams {
  durationMs: number;
  agentIntervalMs: number;
  hubIntervalMs: number;
  /** System uptime floor and target, in percent (docs/domain.md: 99.9 and 99.95). */
  uptimeFloorPct: number;
  uptimeTargetPct: number;
}

export interface Incident {
  kind: 'agent' | 'hub' | 'heartbeat-path';
  name: string;
  machine: string;
  start: number;
  /** null while it lasts. */
  end: number | null;
  downMs: number;
  cause: string;
}

export interface FailoverRecord {
  agent: string;
  machine: string;
  fromHub: string;
  toHub: string;
  lostAt: number;
  at: number;
  failoverMs: number;
  /** When the agent was back on its own hub, and how long after it lost it. */
  backAt: number | null;
}

interface SenderTotals {
  kind: 'agent' | 'hub';
  machine: string;
  last: Beat | null;
  downMs: number;
  received: number;
  sent: number;
  restarts: number;
  /** Agents away from their own hub: since when, and when they reached another (if yet). */
  away: { lostAt: number; reachedAt: number | null; failover: number | null } | null;
  hublessMs: number;
}

export interface ValidationState {
  startedAt: number;
  members: FleetMember[];
  senders: Record<string, SenderTotals>;
  machines: Record<string, { coveredUntil: number; nextSeq: number; readUpToSeq: number; lastTs: number | null; silentMs: number; late: number }>;
  incidents: Incident[];
  incidentsDropped: number;
  failovers: FailoverRecord[];
  failoversDropped: number;
  overhead: { samples: number; cpuPctSum: number; cpuPctMax: number; memPctMax: number; rssBytesMax: number };
  windows: number;
  runs: number;
  /** The largest history of a finished run (the running one adds itself at the end). */
  largestRunEvents: number;
}

const maxIncidents = 300;
const maxFailovers = 300;

export function initialValidationState(members: FleetMember[], startedAt: number): ValidationState {
  const machines = [...new Set(members.map((m) => m.machine))];
  return {
    startedAt,
    members,
    senders: Object.fromEntries(
      members.map((m) => [m.name, { kind: m.kind, machine: m.machine, last: null, downMs: 0, received: 0, sent: 0, restarts: 0, away: null, hublessMs: 0 }]),
    ),
    machines: Object.fromEntries(machines.map((m) => [m, { coveredUntil: startedAt, nextSeq: 0, readUpToSeq: 0, lastTs: null, silentMs: 0, late: 0 }])),
    incidents: [],
    incidentsDropped: 0,
    failovers: [],
    failoversDropped: 0,
    overhead: { samples: 0, cpuPctSum: 0, cpuPctMax: 0, memPctMax: 0, rssBytesMax: 0 },
    windows: 0,
    runs: 1,
    largestRunEvents: 0,
  };
}

function pushIncident(state: ValidationState, incident: Incident): void {
  if (state.incidents.length < maxIncidents) state.incidents.push(incident);
  else state.incidentsDropped++;
}

function intervalOf(kind: 'agent' | 'hub', p: ValidationParams): number {
  return kind === 'hub' ? p.hubIntervalMs : p.agentIntervalMs;
}

/** One step of a sender's sequence: downtime, counts, and for agents the hub they report to. */
function step(state: ValidationState, name: string, member: FleetMember, prev: Beat, next: Beat, p: ValidationParams): void {
  const t = state.senders[name]!;
  const g = judgeGap(prev, next, intervalOf(member.kind, p));
  t.sent += g.sent;
  if (g.restart) t.restarts++;
  if (g.downMs > 0) {
    t.downMs += g.downMs;
    const cause = member.kind === 'hub' ? 'hub silent' : g.restart ? 'agent down, restarted' : 'agent silent (hung or unreachable)';
    pushIncident(state, { kind: member.kind, name, machine: member.machine, start: next.ts - g.downMs, end: next.ts, downMs: g.downMs, cause });
  }
  if (member.kind === 'agent') followHub(state, name, member, next);
}

/** Failover and failback of an agent, as its heartbeats report them. */
function followHub(state: ValidationState, name: string, member: FleetMember, beat: Beat): void {
  const t = state.senders[name]!;
  const onOwn = beat.hub === member.hub;
  if (!onOwn && !t.away) {
    t.away = { lostAt: beat.hubLostAt ?? beat.ts, reachedAt: null, failover: null };
  }
  if (t.away && beat.hub && t.away.reachedAt === null) {
    t.away.reachedAt = beat.ts;
    t.hublessMs += beat.ts - t.away.lostAt;
    if (!onOwn) {
      const record: FailoverRecord = { agent: name, machine: member.machine, fromHub: member.hub!, toHub: beat.hub, lostAt: t.away.lostAt, at: beat.ts, failoverMs: beat.ts - t.away.lostAt, backAt: null };
      if (state.failovers.length < maxFailovers) {
        state.failovers.push(record);
        t.away.failover = state.failovers.length - 1;
      } else state.failoversDropped++;
    }
  }
  if (onOwn && t.away) {
    if (t.away.failover !== null) state.failovers[t.away.failover]!.backAt = beat.ts;
    t.away = null;
  }
}

/** Folds one machine's summary into the totals; returns the new state (the input is not changed). */
export function accumulateWindow(previous: ValidationState, w: MachineWindow, p: ValidationParams): ValidationState {
  // A deep copy by JSON: the state is plain data, and the workflow sandbox has no structuredClone.
  const state = JSON.parse(JSON.stringify(previous)) as ValidationState;
  const byName = new Map(state.members.map((m) => [m.name, m]));
  for (const s of w.senders) {
    const member = byName.get(s.name);
    const t = state.senders[s.name];
    if (!member || !t || member.machine !== w.machine) continue; // not in this validation's fleet
    t.received += s.count;
    if (t.last) step(state, s.name, member, t.last, s.first, p);
    else {
      // First heartbeat of the validation: silence since the start is downtime too.
      const lead = s.first.ts - state.startedAt;
      const interval = intervalOf(member.kind, p);
      t.sent += 1;
      if (lead > interval * 1.5) {
        t.downMs += lead - interval;
        pushIncident(state, { kind: member.kind, name: s.name, machine: member.machine, start: state.startedAt, end: s.first.ts, downMs: lead - interval, cause: 'not heard since the validation began' });
      }
      if (member.kind === 'agent') followHub(state, s.name, member, s.first);
    }
    for (const a of s.anomalies) step(state, s.name, member, a.prev, a.next, p);
    // Regular steps between the anomalies: one heartbeat sent for each received, no downtime.
    t.sent += Math.max(0, s.count - 1 - s.anomalies.length);
    if (member.kind === 'agent' && s.last.hub !== undefined) followHub(state, s.name, member, s.last);
    t.last = s.last;
  }
  const m = state.machines[w.machine]!;
  const pathGap = 2 * Math.max(p.agentIntervalMs, p.hubIntervalMs);
  const gaps = [...(m.lastTs !== null && w.firstTs !== null ? [{ after: m.lastTs, before: w.firstTs }] : []), ...w.silences];
  for (const g of gaps) {
    if (g.before - g.after <= pathGap) continue;
    const downMs = g.before - g.after - Math.max(p.agentIntervalMs, p.hubIntervalMs);
    m.silentMs += downMs;
    pushIncident(state, { kind: 'heartbeat-path', name: `heartbeats from ${w.machine}`, machine: w.machine, start: g.after, end: g.before, downMs, cause: 'no heartbeat from any agent or hub of the machine (NATS or the machine itself)' });
  }
  if (w.lastTs !== null) m.lastTs = w.lastTs;
  m.coveredUntil = Math.max(m.coveredUntil, w.to);
  m.nextSeq = w.nextSeq;
  m.readUpToSeq = w.readUpToSeq;
  m.late += w.late;
  const o = state.overhead;
  o.samples++;
  o.cpuPctSum += w.overhead.cpuPct;
  o.cpuPctMax = Math.max(o.cpuPctMax, w.overhead.cpuPct);
  o.memPctMax = Math.max(o.memPctMax, w.overhead.memPct);
  o.rssBytesMax = Math.max(o.rssBytesMax, w.overhead.rssBytes);
  return state;
}

/**
 * Downtime of a sender not heard since its last heartbeat, up to `now`. Not counted while its
 * whole machine is silent: that is the heartbeat path (NATS) failing, judged apart.
 */
export function openDownMs(state: ValidationState, name: string, now: number, p: ValidationParams): number {
  const t = state.senders[name]!;
  const interval = intervalOf(t.kind, p);
  const since = t.last?.ts ?? state.startedAt;
  const machineLast = state.machines[t.machine]!.lastTs;
  const machineHeard = machineLast !== null && now - machineLast <= 1.5 * Math.max(p.agentIntervalMs, p.hubIntervalMs);
  const silent = now - since;
  if (silent <= interval * 1.5 || !machineHeard) return 0;
  return silent - interval;
}

/** The fleet time every machine has been summarised up to. */
export function coveredUntil(state: ValidationState): number {
  return Math.min(...Object.values(state.machines).map((m) => m.coveredUntil));
}

export interface BudgetStatus {
  budgetMs: number;
  /** System downtime so far: agent downtime summed and divided by the number of agents. */
  spentMs: number;
  spent: boolean;
  uptimePct: number;
}

/** The error budget: (100 - floor) % of the planned duration, in fleet-wide downtime. */
export function budgetStatus(state: ValidationState, p: ValidationParams): BudgetStatus {
  const now = coveredUntil(state);
  const agents = state.members.filter((m) => m.kind === 'agent');
  const down = agents.reduce((sum, a) => sum + state.senders[a.name]!.downMs + openDownMs(state, a.name, now, p), 0);
  const elapsed = Math.max(1, now - state.startedAt);
  const spentMs = agents.length ? down / agents.length : 0;
  const budgetMs = ((100 - p.uptimeFloorPct) / 100) * p.durationMs;
  return { budgetMs, spentMs, spent: spentMs > budgetMs, uptimePct: pct(1 - spentMs / elapsed) };
}

export function pct(x: number): number {
  return Math.round(Math.max(0, Math.min(1, x)) * 1_000_000) / 10_000;
}

