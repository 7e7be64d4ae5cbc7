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

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/** One publish a workflow asked for: an event or an alert, by its publish id. */
export interface PublishAsked {
  activity: 'publishEvent' | 'raiseAlert';
  id: string;
  /** The published object, where the history holds it (an activity's input; a local activity's marker holds only its result). */
  input: (Record<string, unknown> & { id: string }) | null;
}

/**
 * The publishes a history asked for: each publishEvent or raiseAlert activity scheduled, and
 * each publishEvent or publishEvents done by a local activity (workflows/lib/notify.ts), whose
 * marker names the activity and whose result names the event or events; the event ids end with the event's kind. A local
 * publish that failed has no result: it is asked again by an activity, counted there.
 */
export function publishesAsked(events: readonly HistoryEvent[]): PublishAsked[] {
  const out: PublishAsked[] = [];
  for (const e of events) {
    const sched = e.activityTaskScheduledEventAttributes;
    const name = sched?.activityType?.name;
    if (sched && (name === 'publishEvent' || name === 'raiseAlert')) {
      const input = JSON.parse(Buffer.from(sched.input!.payloads![0]!.data!).toString('utf8')) as Record<string, unknown> & { id: string };
      out.push({ activity: name, id: input.id, input });
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const decode = (key: string) => {
        const data = marker.details?.[key]?.payloads?.[0]?.data;
        return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>) : null;
      };
      const type = decode('data')?.activity_type;
      const result = type === 'publishEvent' || type === 'publishEvents' ? decode('result') : null;
      // publishEvents: one local activity for the events of one workflow task, its answer names them all.
      const ids = type === 'publishEvents' ? result?.ids : [result?.id];
      for (const id of Array.isArray(ids) ? ids : []) if (typeof id === 'string') out.push({ activity: 'publishEvent', id, input: null });
    }
  }
  return out;
}

/**
 * Compares what the workflows asked to publish (publishesAsked of every history on the
 * server) with what JetStream holds (by publish id). The stack must be the test's own: every
 * workflow on it counts.
 */
export async function checkEventDelivery(client: Client, nats: NatsConnection): Promise<DeliveryCheck> {
  const asked = new Set<string>();
  let retriedAttempts = 0;
  for await (const w of client.workflow.list()) {
    const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    for (const p of publishesAsked(history.events ?? [])) asked.add(p.id);
    for (const e of history.events ?? []) if ((e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retriedAttempts++;
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
