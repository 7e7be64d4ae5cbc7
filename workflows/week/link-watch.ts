import { CancellationScope, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { ControlActivities } from '../../activities/control';
import { planSteps } from '../lib/lazy-modules';
import { machineLost } from './holds';
import type { WeekRun } from './run';
import type { WeekStep } from './messages';

/**
 * The link watch runs as long as a step that works on the machines; it heartbeats every 250 ms, so a killed control
 * worker is noticed in seconds and the watch starts again on the next one.
 */
const links = proxyActivities<ControlActivities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['InvalidRequest'] },
});

/** Every machine a week's steps touch, by each step's kind (plan/steps/). */
export function weekMachines(steps: WeekStep[]): string[] {
  return [...new Set(steps.flatMap((s) => planSteps().ofKind(s, (kind, value) => kind.machines(value))))].sort();
}

/**
 * docs/domain.md: a cross-machine link silent for over 10 s counts as a failure. The week
 * pauses with a level-2 alert, as for a lost machine; when the link is heard again an alert
 * says so, and the week stays paused until a human resumes it.
 */
async function watchLinks(run: WeekRun, machines: string[]): Promise<void> {
  for (;;) {
    const lost = await links.watchMachineLinks.executeWithOptions(
      { startToCloseTimeout: '30 days', heartbeatTimeout: '10 seconds', summary: `watch the links to ${machines.join(', ')} (a silent link counts as failed)` },
      [{ machines, until: 'silent' }],
    );
    const machine = lost.machine;
    if (machine === null) return; // called off
    const reading = lost.readings.find((r) => r.machine === machine)!;
    const silentS = Math.round(reading.silentMs / 1000);
    const since = new Date(Date.now() - reading.silentMs).toISOString();
    run.status.links = { machine, state: 'silent', since };
    run.notify.emit('link.silent', { machine, silentMs: reading.silentMs, readings: lost.readings });
    await machineLost(run, 
      machine,
      `nothing heard from ${machine} for ${silentS} s (a cross-machine link silent for over ${lost.silentAfterMs / 1000} s counts as failed): its worker is down or the link to it is cut`,
      { silentMs: reading.silentMs },
    );
    const back = await links.watchMachineLinks.executeWithOptions(
      { startToCloseTimeout: '30 days', heartbeatTimeout: '10 seconds', summary: `wait for the link to ${machine} to come back` },
      [{ machines: [machine], until: 'heard' }],
    );
    if (back.machine === null) return;
    const downMs = Date.now() - Date.parse(since);
    run.status.links = { machine, state: 'restored', since: new Date().toISOString() };
    run.notify.emit('link.restored', { machine, downMs, readings: back.readings });
    run.notify.alert(1, `${run.label}: link to ${machine} is back`, `heard again after ${Math.round(downMs / 1000)} s silent; the week stays ${run.paused ? 'paused until resumed' : 'running'}`, { machine });
  }
}

/**
 * Runs a step that works on the machines (migrations, operations) with the links watched.
 * Timed holds (observe, validate) are not watched: nothing is in flight there, and the
 * validation counts a silent machine itself.
 */
export async function withLinkWatch<T>(run: WeekRun, step: () => Promise<T>): Promise<T> {
  const machines = weekMachines(run.input.week.steps);
  if (!machines.length || run.input.settings.watchLinks === false) return step();
  const scope = new CancellationScope();
  scope.run(() => watchLinks(run, machines)).catch((err: unknown) => {
    if (!isCancellation(err)) log.warn('link watch stopped', { error: String(err) });
  });
  try {
    return await step();
  } finally {
    scope.cancel();
  }
}
