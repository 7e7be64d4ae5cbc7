/**
 * The cross-machine links, judged from each machine worker's own heartbeat as it arrives on
 * the control machine. docs/domain.md: a link silent for over 10 s counts as a failure.
 */

export interface LinkReading {
  machine: string;
  /** When its last heartbeat arrived (ms), or null if none since the watch began. */
  lastSeenAt: number | null;
  /** How long it has been silent, counted from the later of its last heartbeat and `since`. */
  silentMs: number;
  silent: boolean;
  /** Mean delay of its recent heartbeats (send to arrival), when any arrived. */
  latencyMs: number | null;
}

export interface LinkWatchState {
  /** Silence is counted from here at the earliest: the watch's start, or the moment the watcher's own NATS connection came back. */
  since: number;
  lastSeenAt: Record<string, number>;
  latencies: Record<string, number[]>;
}

export const latencySamplesKept = 20;

export function initialLinkState(now: number): LinkWatchState {
  return { since: now, lastSeenAt: {}, latencies: {} };
}

/** Folds one machine heartbeat (sent at `sentAt` by the machine's clock) into the state. */
export function foldMachineBeat(state: LinkWatchState, machine: string, sentAt: number, now: number): LinkWatchState {
  const kept = [...(state.latencies[machine] ?? []), Math.max(0, now - sentAt)].slice(-latencySamplesKept);
  return { ...state, lastSeenAt: { ...state.lastSeenAt, [machine]: now }, latencies: { ...state.latencies, [machine]: kept } };
}

/**
 * The watcher could not hear anyone (its own NATS connection was down): that says nothing
 * about the links, so silence is counted again from now.
 */
export function restartSilence(state: LinkWatchState, now: number): LinkWatchState {
  return { ...state, since: now };
}

export function judgeLinks(state: LinkWatchState, machines: string[], now: number, silentAfterMs: number): LinkReading[] {
  return machines.map((machine) => {
    const seen = state.lastSeenAt[machine] ?? null;
    const silentMs = Math.max(0, now - Math.max(seen ?? state.since, state.since));
    const samples = state.latencies[machine] ?? [];
    return {
      machine,
      lastSeenAt: seen,
      silentMs,
      silent: silentMs > silentAfterMs,
      latencyMs: samples.length ? Math.round((samples.reduce((a, b) => a + b, 0) / samples.length) * 10) / 10 : null,
    };
  });
}

/** A machine heard from since `after` (a link that came back). */
export function heardSince(state: LinkWatchState, machine: string, after: number): boolean {
  return (state.lastSeenAt[machine] ?? -Infinity) > after;
}
