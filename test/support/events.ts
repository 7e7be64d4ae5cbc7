import type { Client } from '@temporalio/client';
import type { NatsConnection } from 'nats';
import { streams } from '../../lib/nats';

export interface DeliveryCheck {
  asked: number;
  stored: number;
  lost: string[];
  duplicated: string[];
  retriedAttempts: number;
}

/**
 * Compares what the workflows asked to publish (every publishEvent / raiseAlert activity in
 * every history on the server) with what JetStream holds (by publish id). The stack must be
 * the test's own: every workflow on it counts.
 */
export async function checkEventDelivery(client: Client, nats: NatsConnection): Promise<DeliveryCheck> {
  const asked = new Set<string>();
  let retriedAttempts = 0;
  for await (const w of client.workflow.list()) {
    const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled && ['publishEvent', 'raiseAlert'].includes(scheduled.activityType?.name ?? '')) {
        asked.add((JSON.parse(Buffer.from(scheduled.input!.payloads![0]!.data!).toString('utf8')) as { id: string }).id);
      }
      if ((e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retriedAttempts++;
    }
  }
  const jsm = await nats.jetstreamManager();
  const stored = new Map<string, number>();
  for (const stream of [streams.events.name, streams.alerts.name]) {
    const info = await jsm.streams.info(stream);
    if (info.state.messages === 0) continue;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const id = (await jsm.streams.getMessage(stream, { seq })).header.get('Nats-Msg-Id');
      stored.set(id, (stored.get(id) ?? 0) + 1);
    }
  }
  return {
    asked: asked.size,
    stored: stored.size,
    lost: [...asked].filter((id) => !stored.has(id)),
    duplicated: [...stored].filter(([, n]) => n > 1).map(([id]) => id),
    retriedAttempts,
  };
}
