/**
 * Uptime accounting of the 168-hour validation, from heartbeats. Pure: the machine workers
 * summarise each window of heartbeats (activities/machine/heartbeat-summary.ts) and the
 * validation workflow folds the summaries in here, carrying the running totals across
 * continue-as-new.
 *
 * How silence is judged: a sender publishes every `interval`, numbering its heartbeats.
 * Between two heartbeats `prev` and `next` that are `steps` numbers apart, `steps x interval`
 * of the gap is explained by heartbeats that were sent (and lost, when steps > 1); what is
 * left, once over half an interval, is downtime. A counter that starts again is a restart:
 * the whole gap beyond one interval is downtime. Each figure is within one interval of the
 * truth, which is the precision the validation promises.
 */

export interface Beat {
  ts: number;
  seq: number;
  /** Agents: the hub reported in this heartbeat (null: none reachable). */
  hub?: string | null;
  hubLostAt?: number | null;
}

/** What one machine worker read for one sender in [from, to). */
export interface SenderWindow {
  kind: 'agent' | 'hub';
  name: string;
  count: number;
  first: Beat;
  last: Beat;
  /** Consecutive pairs in the window that are not one regular step: a long gap, a seq jump or reset, a hub switch. */
  anomalies: Array<{ prev: Beat; next: Beat }>;
}

/** One machine worker's summary of a span of heartbeats. */
export interface MachineWindow {
  machine: string;
  from: number;
  to: number;
  senders: SenderWindow[];
  /** Times of the first and last heartbeat of any sender, and silences of the whole machine inside the span. */
  firstTs: number | null;
  lastTs: number | null;
  silences: Array<{ after: number; before: number }>;
  /** Heartbeats that arrived after their window was closed (counted as delivered, not as uptime). */
  late: number;
  /** Where the next span starts reading in the stream, and the last sequence this one read. */
  nextSeq: number;
  readUpToSeq: number;
  /** The machine worker's own cost since its previous summary. */
  overhead: { cpuPct: number; memPct: number; rssBytes: number };
}

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
  /** System uptime floor and target, in percent (DOMAIN.md: 99.9 and 99.95). */
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
const maxAnomaliesPerSender = 2000;

/**
 * Adds one heartbeat (in arrival order) to a window's per-sender summary: counts it, and keeps
 * the pair with the previous one only when it is not a regular step.
 */
export function foldBeat(senders: Map<string, SenderWindow>, kind: 'agent' | 'hub', name: string, beat: Beat, intervalMs: number): void {
  const s = senders.get(name);
  if (!s) {
    senders.set(name, { kind, name, count: 1, first: beat, last: beat, anomalies: [] });
    return;
  }
  const prev = s.last;
  const regular = beat.seq === prev.seq + 1 && beat.ts - prev.ts <= intervalMs * 1.5 && beat.hub === prev.hub;
  if (!regular && s.anomalies.length < maxAnomaliesPerSender) s.anomalies.push({ prev, next: beat });
  s.count++;
  s.last = beat;
}
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

/** Downtime between two heartbeats of one sender (see the module comment). */
export function judgeGap(prev: Beat, next: Beat, intervalMs: number): { downMs: number; sent: number; restart: boolean } {
  const gap = next.ts - prev.ts;
  const restart = next.seq <= prev.seq;
  const steps = restart ? 1 : next.seq - prev.seq;
  const unexplained = gap - steps * intervalMs;
  const downMs = unexplained > intervalMs / 2 ? unexplained : 0;
  return { downMs, sent: restart ? next.seq : steps, restart };
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
function openDownMs(state: ValidationState, name: string, now: number, p: ValidationParams): number {
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

function pct(x: number): number {
  return Math.round(Math.max(0, Math.min(1, x)) * 1_000_000) / 10_000;
}

export type KpiVerdict = 'target' | 'floor' | 'missed' | 'not-exercised';

export interface Kpi {
  id: 'system-uptime' | 'hub-availability' | 'message-delivery' | 'failover-time' | 'recovery-time' | 'overhead';
  name: string;
  value: number | null;
  unit: '%' | 'ms';
  floor: number;
  target: number | null;
  better: 'higher' | 'lower';
  verdict: KpiVerdict;
  detail: string;
}

export interface ValidationReport {
  version: 1;
  id: string;
  startedAt: string;
  endedAt: string;
  plannedHours: number;
  coveredHours: number;
  verdict: 'running' | 'passed' | 'failed';
  reason: string;
  endedEarly: boolean;
  budget: { budgetMs: number; spentMs: number; remainingMs: number; spentPct: number };
  kpis: Kpi[];
  machines: Array<{ machine: string; agents: number; uptimePct: number; heartbeatPathPct: number; sent: number; received: number; late: number }>;
  agents: Array<{ name: string; machine: string; uptimePct: number; downMs: number; restarts: number; sent: number; received: number; failovers: number }>;
  hubs: Array<{ name: string; machine: string; availabilityPct: number; downMs: number }>;
  incidents: Array<Incident & { startedAt: string; endedAt: string | null }>;
  incidentsDropped: number;
  failovers: Array<FailoverRecord & { recoveredMs: number | null }>;
  overhead: { cpuPctAvg: number; cpuPctMax: number; memPctMax: number; rssMbMax: number; samples: number };
  history: { runs: number; windows: number; largestRunEvents: number };
}

function judge(value: number | null, floor: number, target: number | null, better: 'higher' | 'lower'): KpiVerdict {
  if (value === null) return 'not-exercised';
  const ok = (limit: number) => (better === 'higher' ? value >= limit : value < limit);
  if (target !== null && ok(target)) return 'target';
  return ok(floor) ? 'floor' : 'missed';
}

/** The report of a validation, running or finished. `final` closes the senders still silent. */
export function buildValidationReport(
  id: string,
  state: ValidationState,
  p: ValidationParams,
  end: { final: boolean; endedEarly: boolean; reason?: string; runEvents?: number },
): ValidationReport {
  const now = coveredUntil(state);
  const elapsed = Math.max(1, now - state.startedAt);
  const budget = budgetStatus(state, p);
  const agents = state.members.filter((m) => m.kind === 'agent');
  const hubs = state.members.filter((m) => m.kind === 'hub');
  const downOf = (name: string) => state.senders[name]!.downMs + openDownMs(state, name, now, p);
  const incidents: Incident[] = [...state.incidents];
  for (const m of state.members) {
    const open = openDownMs(state, m.name, now, p);
    if (open > 0) incidents.push({ kind: m.kind, name: m.name, machine: m.machine, start: now - open, end: null, downMs: open, cause: m.kind === 'hub' ? 'hub silent' : 'agent not heard since' });
  }
  const sent = agents.reduce((n, a) => n + state.senders[a.name]!.sent, 0) + hubs.reduce((n, h) => n + state.senders[h.name]!.sent, 0);
  const received = agents.reduce((n, a) => n + state.senders[a.name]!.received, 0) + hubs.reduce((n, h) => n + state.senders[h.name]!.received, 0);
  const hubless = agents.reduce((n, a) => {
    const t = state.senders[a.name]!;
    return n + t.hublessMs + (t.away && t.away.reachedAt === null ? now - t.away.lostAt : 0);
  }, 0);
  const failoverMax = state.failovers.length ? Math.max(...state.failovers.map((f) => f.failoverMs)) : null;
  const recovery = incidents.length ? Math.max(...incidents.map((i) => i.downMs)) : null;
  const o = state.overhead;
  const cpuAvg = o.samples ? o.cpuPctSum / o.samples : 0;
  const overhead = o.samples ? Math.max(cpuAvg, o.memPctMax) : null;
  const worstIncident = incidents.slice().sort((a, b) => b.downMs - a.downMs)[0];
  const kpis: Kpi[] = [
    { id: 'system-uptime', name: 'system uptime', value: budget.uptimePct, unit: '%', floor: p.uptimeFloorPct, target: p.uptimeTargetPct, better: 'higher', verdict: judge(budget.uptimePct, p.uptimeFloorPct, p.uptimeTargetPct, 'higher'), detail: `agent downtime over the fleet: ${fmtMs(budget.spentMs)} of fleet-wide downtime` },
    kpi('hub-availability', 'hub availability (with failover)', agents.length ? pct(1 - hubless / (agents.length * elapsed)) : null, '%', 99.99, null, 'higher', `${fmtMs(hubless)} agent-time without a reachable hub`),
    kpi('message-delivery', 'message delivery (JetStream)', sent ? pct(received / sent) : null, '%', 99.99, null, 'higher', `${received} of ${sent} heartbeats sent arrived`),
    kpi('failover-time', 'failover time (longest)', failoverMax, 'ms', 5000, 3000, 'lower', state.failovers.length ? `${state.failovers.length} failovers` : 'no hub went down'),
    kpi('recovery-time', 'recovery time (longest outage)', recovery, 'ms', 5 * 60_000, 2 * 60_000, 'lower', worstIncident ? `${worstIncident.kind} ${worstIncident.name}: ${fmtMs(worstIncident.downMs)}` : 'no outage'),
    kpi('overhead', 'resource overhead of the machinery', overhead === null ? null : Math.round(overhead * 100) / 100, '%', 10, 5, 'lower', `machine workers: CPU ${cpuAvg.toFixed(2)} % on average (max ${o.cpuPctMax.toFixed(2)} %), memory max ${o.memPctMax.toFixed(2)} % of the machine`),
  ];
  const verdict: ValidationReport['verdict'] = budget.spent || (end.final && budget.uptimePct < p.uptimeFloorPct) ? 'failed' : end.final ? 'passed' : 'running';
  const reason =
    end.reason ??
    (verdict === 'failed'
      ? `error budget spent: ${fmtMs(budget.spentMs)} of fleet-wide downtime against ${fmtMs(budget.budgetMs)}`
      : verdict === 'passed'
        ? `system uptime ${budget.uptimePct} % over ${(elapsed / 3_600_000).toFixed(1)} h (floor ${p.uptimeFloorPct} %)`
        : `${(elapsed / 3_600_000).toFixed(1)} of ${(p.durationMs / 3_600_000).toFixed(0)} h covered`);
  const iso = (t: number) => new Date(t).toISOString();
  return {
    version: 1,
    id,
    startedAt: iso(state.startedAt),
    endedAt: iso(now),
    plannedHours: p.durationMs / 3_600_000,
    coveredHours: Math.round((elapsed / 3_600_000) * 1000) / 1000,
    verdict,
    reason,
    endedEarly: end.endedEarly,
    budget: { budgetMs: budget.budgetMs, spentMs: Math.round(budget.spentMs), remainingMs: Math.round(Math.max(0, budget.budgetMs - budget.spentMs)), spentPct: Math.round((budget.spentMs / budget.budgetMs) * 1000) / 10 },
    kpis,
    machines: Object.entries(state.machines).map(([machine, m]) => {
      const mine = agents.filter((a) => a.machine === machine);
      const senders = state.members.filter((s) => s.machine === machine).map((s) => state.senders[s.name]!);
      return {
        machine,
        agents: mine.length,
        uptimePct: mine.length ? pct(1 - mine.reduce((n, a) => n + downOf(a.name), 0) / (mine.length * elapsed)) : 100,
        heartbeatPathPct: pct(1 - m.silentMs / elapsed),
        sent: senders.reduce((n, s) => n + s.sent, 0),
        received: senders.reduce((n, s) => n + s.received, 0),
        late: m.late,
      };
    }),
    agents: agents.map((a) => {
      const t = state.senders[a.name]!;
      return { name: a.name, machine: a.machine, uptimePct: pct(1 - downOf(a.name) / elapsed), downMs: Math.round(downOf(a.name)), restarts: t.restarts, sent: t.sent, received: t.received, failovers: state.failovers.filter((f) => f.agent === a.name).length };
    }),
    hubs: hubs.map((h) => ({ name: h.name, machine: h.machine, availabilityPct: pct(1 - downOf(h.name) / elapsed), downMs: Math.round(downOf(h.name)) })),
    incidents: incidents.sort((a, b) => a.start - b.start).map((i) => ({ ...i, startedAt: iso(i.start), endedAt: i.end === null ? null : iso(i.end) })),
    incidentsDropped: state.incidentsDropped,
    failovers: state.failovers.map((f) => ({ ...f, recoveredMs: f.backAt === null ? null : f.backAt - f.lostAt })),
    overhead: { cpuPctAvg: Math.round(cpuAvg * 100) / 100, cpuPctMax: Math.round(o.cpuPctMax * 100) / 100, memPctMax: Math.round(o.memPctMax * 100) / 100, rssMbMax: Math.round(o.rssBytesMax / 1048576), samples: o.samples },
    history: { runs: state.runs, windows: state.windows, largestRunEvents: Math.max(state.largestRunEvents, end.runEvents ?? 0) },
  };

  function kpi(id: Kpi['id'], name: string, value: number | null, unit: Kpi['unit'], floor: number, target: number | null, better: Kpi['better'], detail: string): Kpi {
    return { id, name, value, unit, floor, target, better, verdict: judge(value, floor, target, better), detail };
  }
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 2 * 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The report as Markdown: verdict, KPIs against floor and target, machines, hubs, agents, incidents, failovers. */
export function renderValidationMarkdown(r: ValidationReport): string {
  const v = (k: Kpi) => (k.value === null ? '-' : k.unit === 'ms' ? fmtMs(k.value) : `${k.value} %`);
  const lim = (k: Kpi, x: number | null) => (x === null ? '-' : `${k.better === 'higher' ? '>=' : '<'} ${k.unit === 'ms' ? fmtMs(x) : `${x} %`}`);
  const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'ongoing');
  const lines = [
    `# Validation ${r.id}: ${r.verdict.toUpperCase()}`,
    '',
    `${r.reason}.`,
    '',
    `- window: ${when(r.startedAt)} to ${when(r.endedAt)} (${r.coveredHours} of ${r.plannedHours} h${r.endedEarly ? ', ended early' : ''})`,
    `- error budget: ${fmtMs(r.budget.spentMs)} spent of ${fmtMs(r.budget.budgetMs)} (${r.budget.spentPct} %)`,
    `- history: ${r.history.windows} windows over ${r.history.runs} runs; largest run ${r.history.largestRunEvents} events`,
    '',
    '## KPIs',
    '',
    '| KPI | value | floor | target | verdict | detail |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.kpis.map((k) => `| ${k.name} | ${v(k)} | ${lim(k, k.floor)} | ${lim(k, k.target)} | ${k.verdict} | ${k.detail} |`),
    '',
    '## Machines',
    '',
    '| machine | agents | uptime | heartbeat path | heartbeats sent | received | late |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.machines.map((m) => `| ${m.machine} | ${m.agents} | ${m.uptimePct} % | ${m.heartbeatPathPct} % | ${m.sent} | ${m.received} | ${m.late} |`),
    '',
    '## Hubs',
    '',
    '| hub | machine | availability | downtime |',
    '| --- | --- | --- | --- |',
    ...r.hubs.map((h) => `| ${h.name} | ${h.machine} | ${h.availabilityPct} % | ${fmtMs(h.downMs)} |`),
    '',
    '## Incidents',
    '',
    ...(r.incidents.length
      ? ['| start | end | what | machine | downtime | cause |', '| --- | --- | --- | --- | --- | --- |', ...r.incidents.map((i) => `| ${when(i.startedAt)} | ${when(i.endedAt)} | ${i.kind} ${i.name} | ${i.machine} | ${fmtMs(i.downMs)} | ${i.cause} |`)]
      : ['None.']),
    ...(r.incidentsDropped ? ['', `(${r.incidentsDropped} more incidents not listed)`] : []),
    '',
    '## Failovers',
    '',
    ...(r.failovers.length
      ? ['| agent | from | to | lost hub at | failover time | back on own hub after |', '| --- | --- | --- | --- | --- | --- |', ...r.failovers.map((f) => `| ${f.agent} | ${f.fromHub} | ${f.toHub} | ${when(new Date(f.lostAt).toISOString())} | ${fmtMs(f.failoverMs)} | ${f.recoveredMs === null ? 'not yet' : fmtMs(f.recoveredMs)} |`)]
      : ['None.']),
    '',
    '## Agents',
    '',
    '| agent | machine | uptime | downtime | restarts | heartbeats sent | received | failovers |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.agents.map((a) => `| ${a.name} | ${a.machine} | ${a.uptimePct} % | ${fmtMs(a.downMs)} | ${a.restarts} | ${a.sent} | ${a.received} | ${a.failovers} |`),
    '',
  ];
  return lines.join('\n');
}
