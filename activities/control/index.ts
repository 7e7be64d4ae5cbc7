import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JetStreamClient, NatsConnection } from 'nats';
import { foldMachineBeat, heardSince, initialLinkState, judgeLinks, restartSilence, type LinkReading, type LinkWatchState } from '../../decisions/links';
import type { Catalogue } from '../../config/schema/catalogue';
import type { Inventory } from '../../config/schema/inventory';
import type { Logger } from '../../lib/logger';
import { ofKind, type StepKindName } from '../../plan/steps';
import { subjects } from '../../lib/nats';

export interface ControlActivityDeps {
  js: JetStreamClient;
  /** The fleet as configured: workflow inputs are checked against it before anything runs. */
  fleet?: { inventory: Inventory; catalogues: Record<string, Catalogue> };
  /** For the link watch: machine heartbeats arrive here. */
  nats?: NatsConnection;
  /** The machines of the inventory, and how long a silent link may be before it counts as failed. */
  links?: { machines: string[]; silentAfterMs: number };
  logger: Logger;
  /** True once this worker is stopping: a long watch hands over to the next worker instead of judging links while its peers stop too. */
  shuttingDown?: () => boolean;
  /** Slack-style webhooks per alert level, from configuration (never logged: they carry tokens). */
  alertWebhooks?: Partial<Record<1 | 2 | 3, string | undefined>>;
}

/** A rollout event for the PHASEGATE_EVENTS stream. `id` de-duplicates retries in JetStream. */
export interface RolloutEvent {
  id: string;
  workflowId: string;
  kind: string;
  at: string;
  data: Record<string, unknown>;
}

export interface Alert {
  id: string;
  level: 1 | 2 | 3;
  title: string;
  detail: string;
  workflowId: string;
  at: string;
  data?: Record<string, unknown>;
}

/** Watch the links to these machines until one is silent too long, or until every one is heard again. */
export interface LinkWatchRequest {
  machines: string[];
  until: 'silent' | 'heard';
}

export interface LinkWatchResult {
  /** The silent machine (until: silent), or the last one heard again (until: heard); null when the watch was called off. */
  machine: string | null;
  readings: LinkReading[];
  silentAfterMs: number;
  watchedMs: number;
}

export const alertChannels: Readonly<Record<1 | 2 | 3, string>> = {
  1: 'ops-alerts',
  2: 'ops-critical + pager',
  3: 'incident-response + leadership phone',
};

/**
 * Activities of the control worker: publishing rollout events and alerts to JetStream.
 * Retried by Temporal until NATS takes them; the publish id makes each land once.
 */
export function createControlActivities(deps: ControlActivityDeps) {
  async function publish(subject: string, id: string, payload: unknown): Promise<{ stream: string; seq: number; duplicate: boolean }> {
    try {
      const ack = await deps.js.publish(subject, JSON.stringify(payload), { msgID: id, timeout: 5000 });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw ApplicationFailure.create({ type: 'NatsUnavailable', message: `publish to ${subject} failed: ${(err as Error).message}` });
    }
  }

  return {
    /** Publishes one rollout event; the answer names it, so a local activity's marker in the history says which event it published. */
    async publishEvent(event: RolloutEvent): Promise<{ id: string; stream: string; seq: number; duplicate: boolean }> {
      return { id: event.id, ...(await publish(subjects.event(event.workflowId, event.kind), event.id, event)) };
    },

    /**
     * Publishes the rollout events one workflow task emitted, in order (workflows/lib/notify.ts
     * batches them: one local activity, so one marker in the history, instead of one each). The
     * answer names them; one that fails stops the rest, and the workflow hands them all to the
     * retrying publishEvent, where the ids keep those that landed from landing twice.
     */
    async publishEvents(events: RolloutEvent[]): Promise<{ ids: string[] }> {
      if (!Array.isArray(events) || events.length === 0) throw ApplicationFailure.nonRetryable('publishEvents takes a non-empty list of events', 'InvalidRequest');
      for (const event of events) await publish(subjects.event(event.workflowId, event.kind), event.id, event);
      return { ids: events.map((e) => e.id) };
    },

    /**
     * Listens to the machine workers' heartbeats on the control machine and returns when a
     * watched link has been silent for longer than the fleet's `linkSilentAfterMs` (or, with
     * until: 'heard', when every watched machine is heard again). Heartbeats its readings to
     * Temporal, so the Web UI shows the links while it runs. While this worker's own NATS
     * connection is down nothing is judged: that is a NATS outage, not a broken link.
     */
    async watchMachineLinks(req: LinkWatchRequest): Promise<LinkWatchResult> {
      const { nats, links } = deps;
      if (!nats || !links) throw ApplicationFailure.nonRetryable('this worker has no NATS connection or link settings for the link watch', 'InvalidRequest');
      const unknown = (Array.isArray(req?.machines) ? req.machines : [null]).filter((m) => typeof m !== 'string' || !links.machines.includes(m));
      if (!req || !Array.isArray(req.machines) || req.machines.length === 0 || unknown.length || !['silent', 'heard'].includes(req.until)) {
        throw ApplicationFailure.nonRetryable(`link watch request refused: machines must be a non-empty list of ${links.machines.join(', ')} (unknown: ${unknown.map(String).join(', ') || 'none'}), until "silent" or "heard"`, 'InvalidRequest');
      }
      const ctx = Context.current();
      const started = Date.now();
      let state: LinkWatchState = initialLinkState(started);
      const sub = nats.subscribe(subjects.everyMachineHeartbeat);
      void (async () => {
        for await (const m of sub) {
          try {
            const beat = m.json<{ machine: string; ts: number }>();
            if (typeof beat.machine === 'string' && typeof beat.ts === 'number') state = foldMachineBeat(state, beat.machine, beat.ts, Date.now());
          } catch {
            // A malformed heartbeat is not a heartbeat.
          }
        }
      })();
      let disconnected = false;
      const statusIter = nats.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
      void (async () => {
        for await (const s of statusIter) {
          if (s.type === 'disconnect') disconnected = true;
          if (s.type === 'reconnect') disconnected = false;
        }
      })();
      try {
        for (;;) {
          // A stopping worker (the stack going down, an upgrade) must not read its peers'
          // silence as a cut link: fail this attempt, and the next worker takes the watch over.
          if (deps.shuttingDown?.()) throw ApplicationFailure.create({ type: 'WorkerStopping', message: 'this control worker is stopping; the link watch goes on on the next one' });
          const now = Date.now();
          if (disconnected || nats.isClosed()) state = restartSilence(state, now);
          const readings = judgeLinks(state, req.machines, now, links.silentAfterMs);
          ctx.heartbeat({ readings });
          const done =
            req.until === 'silent' ? readings.find((r) => r.silent) : req.machines.every((m) => heardSince(state, m, started)) ? readings[readings.length - 1] : undefined;
          if (done) return { machine: done.machine, readings, silentAfterMs: links.silentAfterMs, watchedMs: now - started };
          // Called off (the step it guarded is over): end quietly with a result; the week
          // does not wait for it.
          const calledOff = await Promise.race([ctx.sleep(250).then(() => false), ctx.cancelled.then(() => false, () => true)]);
          if (calledOff) return { machine: null, readings, silentAfterMs: links.silentAfterMs, watchedMs: Date.now() - started };
        }
      } finally {
        sub.unsubscribe();
        statusIter.stop?.();
      }
    },

    /**
     * What in a week's steps does not exist in this fleet's configuration: an agent unknown or on
     * another machine, an operation missing from its machine's catalogue. Empty when all is well.
     * A phase or week started by hand (`temporal workflow start`) is checked by this before any
     * action, as the CLI checks a plan.
     */
    async checkStepsAgainstFleet(req: { weeks: Array<{ id: string; steps: Array<{ id: string } & Partial<Record<StepKindName, unknown>>> }> }): Promise<string[]> {
      if (!deps.fleet) return [];
      const problems: string[] = [];
      for (const [wi, w] of (req?.weeks ?? []).entries()) {
        for (const [si, s] of (w?.steps ?? []).entries()) {
          try {
            ofKind(s, (kind, value, name) => {
              for (const i of kind.inputProblems(value, deps.fleet!)) problems.push(`weeks[${wi}].steps[${si}].${name}${i.field ? `.${i.field}` : ''}: ${i.reason}`);
            });
          } catch (err) {
            problems.push(`weeks[${wi}].steps[${si}]: ${(err as Error).message}`);
          }
        }
      }
      return problems;
    },

    async raiseAlert(alert: Alert): Promise<{ seq: number; channel: string }> {
      const ack = await publish(subjects.alert(alert.level), alert.id, { ...alert, channel: alertChannels[alert.level] });
      const hook = deps.alertWebhooks?.[alert.level];
      if (hook) {
        const res = await fetch(hook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `[L${alert.level} ${alertChannels[alert.level]}] ${alert.title}: ${alert.detail}`, alert }),
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) throw ApplicationFailure.create({ type: 'WebhookFailed', message: `level-${alert.level} alert webhook answered HTTP ${res.status}` });
      }
      Context.current().log.warn('alert raised', { level: alert.level, title: alert.title });
      return { seq: ack.seq, channel: alertChannels[alert.level] };
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
