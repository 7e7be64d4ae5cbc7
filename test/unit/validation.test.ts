import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accumulateWindow, budgetStatus, buildValidationReport, foldBeat, initialValidationState, judgeGap, type FleetMember, type MachineWindow, type SenderWindow, type ValidationParams, type ValidationState } from '../../decisions/validation';
import { renderValidationMarkdown } from '../../render/validation';
import { HeartbeatGenerator, type HeartbeatMessage, type OutageWindow } from '../../simulator/heartbeats';

const minute = 60_000;
const hour = 60 * minute;

describe('judging the gap between two heartbeats of one sender (interval 10 s)', () => {
  const cases: Array<[string, { ts: number; seq: number }, { ts: number; seq: number }, { downMs: number; sent: number; restart: boolean }]> = [
    ['a regular step', { ts: 0, seq: 5 }, { ts: 10_000, seq: 6 }, { downMs: 0, sent: 1, restart: false }],
    ['jitter under half an interval', { ts: 0, seq: 5 }, { ts: 14_000, seq: 6 }, { downMs: 0, sent: 1, restart: false }],
    ['silent for a minute, no seq jump: down 50 s', { ts: 0, seq: 5 }, { ts: 60_000, seq: 6 }, { downMs: 50_000, sent: 1, restart: false }],
    ['two lost messages explain a 30 s gap: not down', { ts: 0, seq: 5 }, { ts: 30_000, seq: 8 }, { downMs: 0, sent: 3, restart: false }],
    ['lost messages explain only part of the gap', { ts: 0, seq: 5 }, { ts: 60_000, seq: 7 }, { downMs: 40_000, sent: 2, restart: false }],
    ['restarted process (seq back to 1) after 7 min', { ts: 0, seq: 900 }, { ts: 420_000, seq: 1 }, { downMs: 410_000, sent: 1, restart: true }],
    ['restart that came back at once', { ts: 0, seq: 900 }, { ts: 10_000, seq: 1 }, { downMs: 0, sent: 1, restart: true }],
  ];
  for (const [name, prev, next, want] of cases) {
    it(name, () => assert.deepEqual(judgeGap(prev, next, 10_000), want));
  }
});

/** Feeds the generator's heartbeats through the same fold the machine activity uses, window by window. */
function simulate(opts: { members: FleetMember[]; hours: number; plannedHours?: number; windowMs: number; outages: OutageWindow[]; agentIntervalMs: number; hubIntervalMs: number; drop?: (m: HeartbeatMessage) => boolean }) {
  const start = Date.UTC(2026, 10, 1);
  const gen = new HeartbeatGenerator({
    senders: opts.members.map((m) => ({ kind: m.kind, name: m.name, machine: m.machine, ...(m.hub ? { hub: m.hub, failoverHub: m.failoverHub! } : {}) })),
    agentIntervalMs: opts.agentIntervalMs,
    hubIntervalMs: opts.hubIntervalMs,
    failoverDetectMs: 1500,
    isDownNow: () => false,
    version: () => '1.0.0',
    startAt: start,
  });
  gen.schedule(opts.outages);
  const params: ValidationParams = { durationMs: (opts.plannedHours ?? opts.hours) * hour, agentIntervalMs: opts.agentIntervalMs, hubIntervalMs: opts.hubIntervalMs, uptimeFloorPct: 99.9, uptimeTargetPct: 99.95 };
  let state: ValidationState = initialValidationState(opts.members, start);
  const machines = [...new Set(opts.members.map((m) => m.machine))];
  let spentAt: number | null = null;
  // Heartbeats due exactly at a window's end belong to the next window, as in the stream.
  let pending: HeartbeatMessage[] = [];
  for (let from = start; from < start + opts.hours * hour; from += opts.windowMs) {
    const to = from + opts.windowMs;
    pending.push(...gen.advance(to).filter((m) => !opts.drop?.(m)));
    const messages = pending.filter((m) => m.ts < to);
    pending = pending.filter((m) => m.ts >= to);
    for (const machine of machines) {
      const senders = new Map<string, SenderWindow>();
      const mine = messages.filter((m) => m.machine === machine && m.ts >= from && m.ts < to);
      for (const m of mine) foldBeat(senders, m.kind, m.name, { ts: m.ts, seq: m.seq, ...(m.kind === 'agent' ? { hub: m.hub ?? null, hubLostAt: m.hubLostAt ?? null } : {}) }, m.kind === 'hub' ? opts.hubIntervalMs : opts.agentIntervalMs);
      const w: MachineWindow = { machine, from, to, senders: [...senders.values()], firstTs: mine[0]?.ts ?? null, lastTs: mine[mine.length - 1]?.ts ?? null, silences: [], late: 0, nextSeq: 0, readUpToSeq: 0, overhead: { cpuPct: 0.5, memPct: 0.2, rssBytes: 80e6 } };
      state = accumulateWindow(state, w, params);
    }
    state.windows++;
    if (spentAt === null && budgetStatus(state, params).spent) spentAt = to;
  }
  return { state, params, start, spentAt };
}

const fleet: FleetMember[] = [
  { kind: 'agent', name: 'A1', machine: 'mainpc', hub: 'CentralHub', failoverHub: 'EdgeHub' },
  { kind: 'agent', name: 'A2', machine: 'mainpc', hub: 'CentralHub', failoverHub: 'EdgeHub' },
  { kind: 'agent', name: 'B1', machine: 'pc2', hub: 'EdgeHub', failoverHub: 'CentralHub' },
  { kind: 'agent', name: 'B2', machine: 'pc2', hub: 'EdgeHub', failoverHub: 'CentralHub' },
  { kind: 'hub', name: 'CentralHub', machine: 'mainpc' },
  { kind: 'hub', name: 'EdgeHub', machine: 'pc2' },
];

describe('uptime accounting from generated heartbeats', () => {
  it('an agent down 7 minutes, EdgeHub down 30 s with failover, and a flapping agent are each measured within one interval', () => {
    const start = Date.UTC(2026, 10, 1);
    const flaps: OutageWindow[] = [0, 1, 2, 3].map((i) => ({ kind: 'agent', name: 'B2', from: start + 10 * hour + i * 5 * minute, to: start + 10 * hour + i * 5 * minute + minute }));
    const { state, params } = simulate({
      members: fleet,
      hours: 24,
      windowMs: hour,
      agentIntervalMs: 10_000,
      hubIntervalMs: 2_000,
      outages: [
        { kind: 'agent', name: 'A1', from: start + 3 * hour + 17_000, to: start + 3 * hour + 17_000 + 7 * minute },
        { kind: 'hub', name: 'EdgeHub', from: start + 5 * hour + 59 * minute + 50_000, to: start + 6 * hour + 20_000 },
        ...flaps,
      ],
    });
    const report = buildValidationReport('unit', state, params, { final: true, endedEarly: false });
    const agent = (n: string) => report.agents.find((a) => a.name === n)!;
    assert.ok(Math.abs(agent('A1').downMs - 7 * minute) <= 10_000, `A1 down ${agent('A1').downMs} ms`);
    assert.equal(agent('A1').restarts, 1);
    assert.ok(Math.abs(agent('B2').downMs - 4 * minute) <= 4 * 10_000, `B2 down ${agent('B2').downMs} ms over 4 flaps`);
    assert.equal(agent('A2').downMs, 0);
    const edge = report.hubs.find((h) => h.name === 'EdgeHub')!;
    assert.ok(Math.abs(edge.downMs - 30_000) <= 2_000, `EdgeHub down ${edge.downMs} ms`);
    // B1 and B2 report to EdgeHub: each failed over to CentralHub in 1.5 s and came back.
    const failovers = report.failovers.filter((f) => f.fromHub === 'EdgeHub');
    assert.equal(failovers.length, 2);
    for (const f of failovers) {
      assert.equal(f.failoverMs, 1500);
      assert.equal(f.toHub, 'CentralHub');
      assert.equal(f.recoveredMs, 30_000);
    }
    assert.equal(report.kpis.find((k) => k.id === 'failover-time')!.verdict, 'target');
    assert.equal(report.kpis.find((k) => k.id === 'message-delivery')!.value, 100);
    // A1's 7 minutes are the longest outage: over the 5-minute recovery floor.
    assert.equal(report.kpis.find((k) => k.id === 'recovery-time')!.verdict, 'missed');
    // 11 agent-minutes down among 4 agents in 24 h: 2.75 min of fleet-wide downtime, over the 1.44 min budget.
    assert.equal(report.verdict, 'failed');
    assert.ok(Math.abs(report.budget.spentMs - 2.75 * minute) <= 20_000, `spent ${report.budget.spentMs}`);
    assert.equal(report.incidents.filter((i) => i.kind === 'agent' && i.name === 'B2').length, 4);
    const md = renderValidationMarkdown(report);
    assert.match(md, /# Validation unit: FAILED/);
    assert.match(md, /\| A1 \| mainpc \| 99\.5\d* % \| 7\.\d min \| 1 \|/);
  });

  it('lost heartbeats count against delivery, not against the agent', () => {
    let n = 0;
    const { state, params } = simulate({ members: fleet, hours: 2, plannedHours: 168, windowMs: hour, agentIntervalMs: 10_000, hubIntervalMs: 10_000, outages: [], drop: (m) => m.name === 'A2' && ++n % 50 === 0 });
    const report = buildValidationReport('unit', state, params, { final: true, endedEarly: false });
    const a2 = report.agents.find((a) => a.name === 'A2')!;
    assert.equal(a2.downMs, 0);
    assert.equal(a2.sent - a2.received, 14);
    const delivery = report.kpis.find((k) => k.id === 'message-delivery')!;
    assert.ok(delivery.value! < 100 && delivery.verdict === 'missed', `delivery ${delivery.value} %`);
  });

  it('the error budget (10.08 min of fleet-wide downtime in 168 h) is spent on day 2 when two of four agents are down 25 minutes', () => {
    const start = Date.UTC(2026, 10, 1);
    const day2 = start + 30 * hour;
    const { spentAt, state, params } = simulate({
      members: fleet,
      hours: 48,
      plannedHours: 168,
      windowMs: hour,
      agentIntervalMs: 10_000,
      hubIntervalMs: 10_000,
      outages: ['B1', 'B2'].map((name) => ({ kind: 'agent', name, from: day2, to: day2 + 25 * minute })),
    });
    const budget = budgetStatus(state, params);
    assert.ok(Math.abs(budget.budgetMs - 10.08 * minute) < 1e-3);
    assert.ok(budget.spent);
    assert.ok(Math.abs(budget.spentMs - 12.5 * minute) <= 10_000, `spent ${budget.spentMs} ms`);
    // Spent in the window the outage passed 20 minutes (2 x 20.16 min / 4 agents): the one ending at hour 31.
    assert.equal(spentAt, start + 31 * hour);
    const report = buildValidationReport('unit', state, params, { final: true, endedEarly: true });
    assert.equal(report.verdict, 'failed');
    assert.match(report.reason, /error budget spent/);
  });

  it('an agent still down when a window closes counts as down so far, but not while its whole machine is silent', () => {
    const start = Date.UTC(2026, 10, 1);
    const { state, params } = simulate({ members: fleet, hours: 2, plannedHours: 168, windowMs: hour, agentIntervalMs: 10_000, hubIntervalMs: 10_000, outages: [{ kind: 'agent', name: 'A1', from: start + hour + 30 * minute, to: start + 5 * hour }] });
    const report = buildValidationReport('unit', state, params, { final: false, endedEarly: false });
    const a1 = report.agents.find((a) => a.name === 'A1')!;
    assert.ok(Math.abs(a1.downMs - 30 * minute) <= 10_000, `A1 down ${a1.downMs}`);
    assert.equal(report.incidents.find((i) => i.name === 'A1')?.endedAt, null);
    assert.equal(report.verdict, 'running');

    // Nothing at all from mainpc for the last half hour: the heartbeat path, not its agents.
    const silent = simulate({ members: fleet, hours: 2, plannedHours: 168, windowMs: hour, agentIntervalMs: 10_000, hubIntervalMs: 10_000, outages: [], drop: (m) => m.machine === 'mainpc' && m.ts >= start + hour + 30 * minute });
    const r2 = buildValidationReport('unit', silent.state, silent.params, { final: false, endedEarly: false });
    assert.equal(r2.agents.find((a) => a.name === 'A1')!.downMs, 0);
    assert.equal(r2.agents.find((a) => a.name === 'A2')!.downMs, 0);
  });
});
