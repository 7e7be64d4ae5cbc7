/**
 * The simulated fleet's heartbeats, generated on a fleet clock. On the wall clock a timer
 * advances it every few hundred milliseconds; in virtual mode a test advances it through the
 * admin API, so a 168-hour validation can be fed a week of heartbeats in minutes, each
 * stamped with the simulated time it stands for.
 *
 * Agents behave as the seeds' topology says: each reports to its hub and, when that hub goes
 * away, switches to its failover hub after `failoverDetectMs` (announcing the switch at once
 * with an extra heartbeat), and back when the hub returns. `seq` counts the heartbeats an
 * agent sent since its process started, so a receiver can tell lost messages (a jump) from
 * silence (no jump) and a restart (back to 1).
 */

export interface HeartbeatMessage {
  kind: 'agent' | 'hub';
  name: string;
  machine: string;
  /** Agents: the hub it reports to now, or null while it has none. */
  hub?: string | null;
  /** Agents: when it lost its own hub, while it is away from it. */
  hubLostAt?: number | null;
  version?: string;
  seq: number;
  ts: number;
}

export interface HeartbeatSender {
  kind: 'agent' | 'hub';
  name: string;
  machine: string;
  /** Agents only. */
  hub?: string;
  failoverHub?: string;
}

/** A planned outage on the fleet clock: an agent's process down, or a hub down. */
export interface OutageWindow {
  kind: 'agent' | 'hub';
  name: string;
  from: number;
  to: number;
}

export interface HeartbeatGeneratorOptions {
  senders: HeartbeatSender[];
  agentIntervalMs: number;
  hubIntervalMs: number;
  failoverDetectMs: number;
  /** Faults set through the admin API (crash, hang): they hold for the whole of each advance. */
  isDownNow: (kind: 'agent' | 'hub', name: string) => boolean;
  version: (agent: string) => string;
  startAt: number;
}

interface SenderState {
  sender: HeartbeatSender;
  nextAt: number;
  seq: number;
  wasDown: boolean;
  /** The hub this agent reported last, to announce a switch. */
  lastHub: string | null | undefined;
}

export class HeartbeatGenerator {
  private readonly states: SenderState[];
  private readonly outages: OutageWindow[] = [];
  /** Hub outages set through the admin API on the fleet clock: start, and end once back. */
  private readonly hubOutages = new Map<string, Array<{ from: number; to?: number }>>();
  private clock: number;

  constructor(private readonly opts: HeartbeatGeneratorOptions) {
    this.clock = opts.startAt;
    this.states = opts.senders.map((sender) => ({ sender, nextAt: 0, seq: 0, wasDown: false, lastHub: undefined }));
    this.reset(opts.startAt);
  }

  private intervalOf(s: SenderState): number {
    return s.sender.kind === 'hub' ? this.opts.hubIntervalMs : this.opts.agentIntervalMs;
  }

  /** Every outage of a hub: set through the admin API, or planned. */
  private hubWindows(hub: string): Array<{ from: number; to?: number }> {
    return [...(this.hubOutages.get(hub) ?? []), ...this.outages.filter((o) => o.kind === 'hub' && o.name === hub)];
  }

  get now(): number {
    return this.clock;
  }

  /**
   * Moves the clock without emitting anything (at start, or switching to a virtual clock).
   * The senders are spread over their interval, as processes started at different times are.
   */
  reset(now: number): void {
    this.clock = now;
    this.states.forEach((s, i) => (s.nextAt = now + Math.floor((((i * 7919) % 1000) / 1000) * this.intervalOf(s))));
  }

  schedule(outages: OutageWindow[]): void {
    this.outages.push(...outages);
  }

  /** Records a hub going down or up at the current fleet time (the admin API's hub switch). */
  setHubUp(hub: string, up: boolean): void {
    const list = this.hubOutages.get(hub) ?? [];
    const open = list.find((o) => o.to === undefined);
    if (!up && !open) list.push({ from: this.clock });
    if (up && open) open.to = this.clock;
    this.hubOutages.set(hub, list);
  }

  hubUpAt(hub: string, t: number): boolean {
    return !this.hubWindows(hub).some((o) => t >= o.from && (o.to === undefined || t < o.to));
  }

  private downAt(kind: 'agent' | 'hub', name: string, t: number): boolean {
    if (kind === 'hub') return !this.hubUpAt(name, t);
    return this.outages.some((o) => o.kind === kind && o.name === name && t >= o.from && t < o.to);
  }

  /** When the hub went away, if it is down at t: the start of the outage covering t. */
  private hubDownSince(hub: string, t: number): number | null {
    let since: number | null = null;
    for (const o of this.hubWindows(hub)) if (t >= o.from && (o.to === undefined || t < o.to)) since = since === null ? o.from : Math.min(since, o.from);
    return since;
  }

  /** Where an agent reports at t, and since when it has been away from its own hub. */
  agentHubAt(sender: HeartbeatSender, t: number): { hub: string | null; hubLostAt: number | null } {
    const lostAt = this.hubDownSince(sender.hub!, t);
    if (lostAt === null) return { hub: sender.hub!, hubLostAt: null };
    // Detecting the loss and reconnecting takes failoverDetectMs; until then there is no hub.
    if (t - lostAt < this.opts.failoverDetectMs) return { hub: null, hubLostAt: lostAt };
    return { hub: this.hubUpAt(sender.failoverHub!, t) ? sender.failoverHub! : null, hubLostAt: lostAt };
  }

  /**
   * Moves the fleet clock to `to` and returns every heartbeat due on the way, in time order:
   * the regular ones and each agent's announcement when it switches hub.
   */
  advance(to: number): HeartbeatMessage[] {
    const out: HeartbeatMessage[] = [];
    if (to <= this.clock) return out;
    const from = this.clock;
    for (const s of this.states) {
      const interval = this.intervalOf(s);
      // Instants an agent switches hub inside (from, to]: failover and failback.
      const switches = s.sender.kind === 'agent' ? this.switchInstants(s.sender, from, to) : [];
      const due = new Set<number>();
      for (; s.nextAt <= to; s.nextAt += interval) due.add(s.nextAt);
      const instants = [...new Set([...due, ...switches])].sort((a, b) => a - b);
      for (const t of instants) {
        const down = this.downAt(s.sender.kind, s.sender.name, t) || this.opts.isDownNow(s.sender.kind, s.sender.name);
        if (down) {
          s.wasDown = true;
          continue;
        }
        // A process that was down comes back as a new process: its counter starts again.
        if (s.wasDown && s.sender.kind === 'agent') s.seq = 0;
        s.wasDown = false;
        const isSwitch = !due.has(t);
        const msg: HeartbeatMessage = { kind: s.sender.kind, name: s.sender.name, machine: s.sender.machine, seq: 0, ts: t };
        if (s.sender.kind === 'agent') {
          const at = this.agentHubAt(s.sender, t);
          if (isSwitch && at.hub === s.lastHub) continue;
          msg.hub = at.hub;
          msg.hubLostAt = at.hubLostAt;
          msg.version = this.opts.version(s.sender.name);
          s.lastHub = at.hub;
        }
        s.seq += 1;
        msg.seq = s.seq;
        out.push(msg);
      }
    }
    this.clock = to;
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** Failover (outage start + detection) and failback (outage end) instants of the agent's hub in (from, to]. */
  private switchInstants(sender: HeartbeatSender, from: number, to: number): number[] {
    const hub = sender.hub!;
    const out: number[] = [];
    for (const o of this.hubWindows(hub)) {
      const failover = o.from + this.opts.failoverDetectMs;
      if (failover > from && failover <= to && (o.to === undefined || failover < o.to)) out.push(failover);
      if (o.to !== undefined && o.to > from && o.to <= to) out.push(o.to);
    }
    return out;
  }
}
