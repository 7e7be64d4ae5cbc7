/**
 * Heartbeats of the 168-hour validation (decisions/validation/): what they are, how one
 * machine's window of them is folded, how a gap between two is judged. Pure: the machine workers
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

/** Downtime between two heartbeats of one sender (see the module comment). */
export function judgeGap(prev: Beat, next: Beat, intervalMs: number): { downMs: number; sent: number; restart: boolean } {
  const gap = next.ts - prev.ts;
  const restart = next.seq <= prev.seq;
  const steps = restart ? 1 : next.seq - prev.seq;
  const unexplained = gap - steps * intervalMs;
  const downMs = unexplained > intervalMs / 2 ? unexplained : 0;
  return { downMs, sent: restart ? next.seq : steps, restart };
}

