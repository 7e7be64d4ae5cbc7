import { formatDuration } from '../../render/durations';
import { kpiOf, type Kpi } from './kpis';
import { budgetStatus, coveredUntil, openDownMs, pct, type FailoverRecord, type Incident, type ValidationParams, type ValidationState } from './ledger';

/** The validation's report from its totals (ledger.ts), running or finished. Pure; rendered by render/validation.ts. */

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
    kpiOf('system-uptime', budget.uptimePct, `agent downtime over the fleet: ${formatDuration(budget.spentMs)} of fleet-wide downtime`, { floor: p.uptimeFloorPct, target: p.uptimeTargetPct }),
    kpiOf('hub-availability', agents.length ? pct(1 - hubless / (agents.length * elapsed)) : null, `${formatDuration(hubless)} agent-time without a reachable hub`),
    kpiOf('message-delivery', sent ? pct(received / sent) : null, `${received} of ${sent} heartbeats sent arrived`),
    kpiOf('failover-time', failoverMax, state.failovers.length ? `${state.failovers.length} failovers` : 'no hub went down'),
    kpiOf('recovery-time', recovery, worstIncident ? `${worstIncident.kind} ${worstIncident.name}: ${formatDuration(worstIncident.downMs)}` : 'no outage'),
    kpiOf('overhead', overhead === null ? null : Math.round(overhead * 100) / 100, `machine workers: CPU ${cpuAvg.toFixed(2)} % on average (max ${o.cpuPctMax.toFixed(2)} %), memory max ${o.memPctMax.toFixed(2)} % of the machine`),
  ];
  const verdict: ValidationReport['verdict'] = budget.spent || (end.final && budget.uptimePct < p.uptimeFloorPct) ? 'failed' : end.final ? 'passed' : 'running';
  const reason =
    end.reason ??
    (verdict === 'failed'
      ? `error budget spent: ${formatDuration(budget.spentMs)} of fleet-wide downtime against ${formatDuration(budget.budgetMs)}`
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

}

