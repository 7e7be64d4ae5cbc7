import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { JetStreamClient } from 'nats';
import type { Logger } from '../../lib/logger';
import { subjects } from '../../lib/nats';

export interface ControlActivityDeps {
  js: JetStreamClient;
  logger: Logger;
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
    async publishEvent(event: RolloutEvent): Promise<{ stream: string; seq: number; duplicate: boolean }> {
      return publish(subjects.event(event.workflowId, event.kind), event.id, event);
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
