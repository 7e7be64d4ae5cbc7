import { CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Alert, ControlActivities } from '../../activities/control';

// No attempt limit: when NATS is down the rollout carries on (Temporal is the record of
// truth) and these retry until NATS is back; the publish id makes each land exactly once.
const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

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

  constructor(private readonly context: Record<string, unknown>) {}

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

  emit(kind: string, data: Record<string, unknown> = {}): void {
    const { workflowId } = workflowInfo();
    this.keep(() =>
      control.publishEvent.executeWithOptions(
        { startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumInterval: '1 minute' }, summary: `event ${kind}` },
        [{ id: this.nextId(kind), workflowId, kind, at: new Date().toISOString(), data: { ...this.context, ...data } }],
      ),
    );
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
    await Promise.allSettled(this.pending);
  }
}
