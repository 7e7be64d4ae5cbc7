import os from 'node:os';
import { Context } from '@temporalio/activity';
import { DeliverPolicy, type NatsConnection } from 'nats';
import { foldBeat, type Beat, type MachineWindow, type SenderWindow } from '../../decisions/validation';
import { safeToken, streams } from '../../lib/nats';

export interface HeartbeatSummaryRequest {
  /** The span of fleet time to summarise: heartbeats with from <= ts < to. */
  from: number;
  to: number;
  /** Stream sequence to read from (the previous summary's nextSeq); 0 for the first span. */
  startSeq: number;
  /** The last stream sequence the previous summary read: anything up to it was judged there. */
  seenUpToSeq: number;
  agentIntervalMs: number;
  hubIntervalMs: number;
  /** The span is complete once a heartbeat stamped this long after `to` has arrived. */
  latenessMs: number;
  /** Or after this much real time without one (a machine gone silent). */
  maxWaitMs: number;
}

/** CPU time of this worker process between two summaries, as a share of the whole machine. */
let lastCpu = process.cpuUsage();
let lastCpuAt = Date.now() - process.uptime() * 1000;

function ownOverhead(): MachineWindow['overhead'] {
  const now = Date.now();
  const cpu = process.cpuUsage(lastCpu);
  const wallMs = Math.max(1, now - lastCpuAt);
  lastCpu = process.cpuUsage();
  lastCpuAt = now;
  const rssBytes = process.memoryUsage().rss;
  return {
    cpuPct: Math.round((((cpu.user + cpu.system) / 1000 / wallMs) * 100 * 1000) / os.cpus().length) / 1000,
    memPct: Math.round((rssBytes / os.totalmem()) * 100 * 1000) / 1000,
    rssBytes,
  };
}

interface Parsed {
  kind: 'agent' | 'hub';
  name: string;
  beat: Beat;
}

function parse(data: string): Parsed | null {
  try {
    const m = JSON.parse(data) as Record<string, unknown>;
    if ((m.kind !== 'agent' && m.kind !== 'hub') || typeof m.name !== 'string' || typeof m.ts !== 'number' || typeof m.seq !== 'number') return null;
    const beat: Beat = { ts: m.ts, seq: m.seq };
    if (m.kind === 'agent') {
      beat.hub = typeof m.hub === 'string' ? m.hub : null;
      beat.hubLostAt = typeof m.hubLostAt === 'number' ? m.hubLostAt : null;
    }
    return { kind: m.kind, name: m.name, beat };
  } catch {
    return null;
  }
}

/**
 * Reads this machine's heartbeats for one span of fleet time from JetStream and hands back a
 * compact summary: per sender, the first and last heartbeat and only the steps that are not
 * regular. The workflow's history grows by one summary per machine and window, however many
 * heartbeats there were.
 */
export function createHeartbeatSummarizer(machine: string, nats: () => Promise<NatsConnection>) {
  return async function summarizeHeartbeats(req: HeartbeatSummaryRequest): Promise<MachineWindow> {
    const ctx = Context.current();
    const nc = await nats();
    const consumer = await nc.jetstream().consumers.get(streams.heartbeats.name, {
      filterSubjects: [`fleet.heartbeat.${safeToken(machine)}.>`],
      // Always by sequence (1 is the stream's start): the ordered consumer recreates itself
      // from a sequence after each fetch, which the server refuses beside "deliver all".
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, req.startSeq),
    });
    const senders = new Map<string, SenderWindow>();
    const times: number[] = [];
    let late = 0;
    let malformed = 0;
    let nextSeq = 0;
    let lastSeq = req.startSeq > 0 ? req.startSeq - 1 : 0;
    let complete = false;
    const started = Date.now();
    const maxInterval = Math.max(req.agentIntervalMs, req.hubIntervalMs);
    try {
      while (!complete) {
        let got = 0;
        const batch = await consumer.fetch({ max_messages: 5000, expires: 1000 });
        for await (const msg of batch) {
          got++;
          lastSeq = msg.seq;
          const p = parse(msg.string());
          if (!p) {
            malformed++;
            continue;
          }
          const { ts } = p.beat;
          if (ts >= req.to) {
            if (nextSeq === 0) nextSeq = msg.seq;
            if (ts >= req.to + req.latenessMs) {
              complete = true;
              break;
            }
            continue;
          }
          if (ts < req.from) {
            // Judged by the previous window already, or sent before the validation began; a
            // heartbeat of an earlier window that the previous summary never saw is late.
            if (req.startSeq > 0 && msg.seq > req.seenUpToSeq) late++;
            continue;
          }
          times.push(ts);
          foldBeat(senders, p.kind, p.name, p.beat, p.kind === 'hub' ? req.hubIntervalMs : req.agentIntervalMs);
        }
        if (complete) break;
        ctx.heartbeat({ read: times.length });
        // A worker shutting down (or the workflow cancelling) should not wait out maxWaitMs.
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
        if (got === 0) {
          if (Date.now() - started >= req.maxWaitMs) break;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    times.sort((a, b) => a - b);
    const silences: MachineWindow['silences'] = [];
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! > 2 * maxInterval) silences.push({ after: times[i - 1]!, before: times[i]! });
    }
    if (malformed) ctx.log.warn('malformed heartbeats skipped', { machine, malformed });
    return {
      machine,
      from: req.from,
      to: req.to,
      senders: [...senders.values()],
      firstTs: times[0] ?? null,
      lastTs: times[times.length - 1] ?? null,
      silences,
      late,
      nextSeq: nextSeq || lastSeq + 1,
      readUpToSeq: lastSeq,
      overhead: ownOverhead(),
    };
  };
}
