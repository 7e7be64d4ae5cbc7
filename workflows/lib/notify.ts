import { allHandlersFinished, CancellationScope, condition, patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import { publishLateEventsPatch } from './patches';
import type { Alert, ControlActivities, RolloutEvent } from '../../activities/control';

// No attempt limit: when NATS is down the rollout carries on (Temporal is the record of
// truth) and these retry until NATS is back; the publish id makes each land exactly once.
const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

/**
 * One try of a publish inside the workflow task (a local activity: one marker event, no task
 * of its own). Short, and never retried in place: a local activity that waits holds the
 * workflow task open, and so the rollout, which an unreachable NATS must not do.
 */
const controlInTask = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '3 seconds', retry: { maximumAttempts: 1 } });

export interface NotifierOptions {
  /**
   * Events are published by a local activity first (one history event instead of three, and
   * no workflow task for its completion); one that fails goes to the ordinary retrying
   * activity, and so does every later event until those are out, so that a NATS outage does
   * not put later events before earlier ones (only events already on their way when the
   * failure is seen may land first; each carries its sequence number in its id).
   */
  eventsInTask?: boolean;
  /**
   * With eventsInTask: the events emitted in one workflow activation go out together, one
   * local activity (publishEvents) and so one marker for all of them (a stage's "applied" and
   * the next one's "started" are one line of history, not two).
   */
  batchInTask?: boolean;
}

/**
 * How many microtask turns a batch stays open: the workflow's own code after an await that is
 * already resolved (waitWhilePaused when not paused, a setState) runs in the next turns of the
 * same activation, and its events belong in the same batch. Deterministic: the same code gives
 * the same batches on replay.
 */
const batchOpenTurns = 16;

/**
 * Rollout events and alerts to JetStream, without holding the rollout up: each publish is
 * started at once and awaited only by flush(), before the workflow ends. A publish belongs to
 * the record, not to the step that made it: it is started outside any cancellation scope (an
 * abort that cancels the step must not cancel the alert about it), and a failure is only seen
 * by flush().
 */
export class Notifier {
  private seq = 0;
  private readonly pending: Promise<unknown>[] = [];
  /** eventsInTask: the events whose local publish failed, and the later ones, in order, until the retrying activity has them out. */
  private readonly behind: RolloutEvent[] = [];
  private draining: Promise<void> | null = null;
  /** batchInTask: the events of this activation not yet handed to publishEvents. */
  private batch: RolloutEvent[] | null = null;
  private flushedUpTo = 0;

  constructor(
    private readonly context: Record<string, unknown>,
    private readonly options: NotifierOptions = {},
  ) {}

  private nextId(kind: string): string {
    const { workflowId, runId } = workflowInfo();
    this.seq += 1;
    return `${workflowId}:${runId}:${this.seq}:${kind}`;
  }

  private keep(start: () => Promise<unknown>): void {
    const p = CancellationScope.nonCancellable(start);
    p.catch(() => undefined);
    this.pending.push(p);
  }

  private publishRetrying(event: RolloutEvent): Promise<unknown> {
    return control.publishEvent.executeWithOptions({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumInterval: '1 minute' }, summary: `event ${event.kind}` }, [event]);
  }

  emit(kind: string, data: Record<string, unknown> = {}): void {
    const { workflowId } = workflowInfo();
    const event: RolloutEvent = { id: this.nextId(kind), workflowId, kind, at: new Date().toISOString(), data: { ...this.context, ...data } };
    if (!this.options.eventsInTask) {
      this.keep(() => this.publishRetrying(event));
      return;
    }
    if (this.behind.length) {
      this.behind.push(event);
      return;
    }
    if (this.options.batchInTask) {
      if (this.batch) {
        this.batch.push(event);
        return;
      }
      const batch = (this.batch = [event]);
      this.publishInTask(batch, async () => {
        for (let turn = 0; turn < batchOpenTurns; turn++) await Promise.resolve();
        this.batch = null;
        await controlInTask.publishEvents.executeWithOptions({ startToCloseTimeout: '3 seconds', retry: { maximumAttempts: 1 }, summary: `events ${batch.map((e) => e.kind).join(', ')}` }, [batch]);
      });
      return;
    }
    this.publishInTask([event], () => controlInTask.publishEvent.executeWithOptions({ startToCloseTimeout: '3 seconds', retry: { maximumAttempts: 1 }, summary: `event ${kind}` }, [event]));
  }

  /** One try inside the task; if it fails, these events and every later one go to the retrying activity, in order. */
  private publishInTask(events: RolloutEvent[], publish: () => Promise<unknown>): void {
    this.keep(async () => {
      try {
        await publish();
      } catch {
        this.behind.push(...events);
        this.draining ??= this.drainBehind();
        await this.draining;
      }
    });
  }

  /** The events left behind, one retrying activity each, in order (the same ids: JetStream keeps one of each). */
  private async drainBehind(): Promise<void> {
    try {
      while (this.behind.length) {
        await this.publishRetrying(this.behind[0]!).catch(() => undefined);
        this.behind.shift();
      }
    } finally {
      this.draining = null;
    }
  }

  alert(level: Alert['level'], title: string, detail: string, data: Record<string, unknown> = {}): void {
    const { workflowId } = workflowInfo();
    this.keep(() =>
      control.raiseAlert.executeWithOptions(
        { startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumInterval: '1 minute' }, summary: `level-${level} alert: ${title}` },
        [{ id: this.nextId(`alert${level}`), level, title, detail, workflowId, at: new Date().toISOString(), data: { ...this.context, ...data } }],
      ),
    );
  }

  async flush(): Promise<void> {
    const upTo = this.pending.length;
    await Promise.allSettled(this.pending.slice(0, upTo));
    this.flushedUpTo = Math.max(this.flushedUpTo, upTo);
  }

  /** Publishes started after the last flush began. */
  get unflushed(): boolean {
    return this.pending.length > this.flushedUpTo;
  }
}

const lateEventRounds = 3;

/**
 * Before a workflow ends or continues as new: every publish out, every handler done, and the
 * publishes those handlers started while it waited out too (a pause signal that arrives as the
 * week hands over to its new run emits "week.paused" then; without this it never left).
 */
export async function publishAllAndSettle(notify: Notifier): Promise<void> {
  await notify.flush();
  await condition(allHandlersFinished);
  // Histories from before the patch ended here; the patch is asked only when it matters. A
  // bounded number of rounds: a stream of signals (a flapping pause and resume) would
  // otherwise keep the workflow from ever ending; what arrives after them stays unpublished.
  for (let round = 0; round < lateEventRounds && notify.unflushed && patched(publishLateEventsPatch); round++) {
    await notify.flush();
    await condition(allHandlersFinished);
  }
}
