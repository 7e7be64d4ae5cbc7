import { healthyAfter } from '../../rollback/engine';
import { onMachine } from '../../lib/machine';
import { AbortedWhileHeld, rolloutMachine } from '../holds';
import type { WeekStep } from '../messages';
import type { WeekRun } from '../run';
import type { StepEnd } from './index';

/**
 * A check step (plan/steps/check.ts): each agent probed with its integration check on its own
 * machine, one machine's agents after another and the machines side by side; any agent down or
 * failing its check fails the step, and the week rolls back.
 */
export async function check(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  const { agents } = step.check!;
  const machines = [...new Set(agents.map((a) => a.machine))];
  const failed: string[] = [];
  try {
    await Promise.all(
      machines.map(async (machine) => {
        const m = onMachine(machine, rolloutMachine(run));
        for (const a of agents.filter((x) => x.machine === machine)) {
          const readings = await m.probeAgent(`check ${a.name} on ${machine} (${step.id})`, { agent: a.name, responseThresholdMs: run.input.settings.thresholds.responseTimeMs, checkIntegration: true });
          if (!healthyAfter(readings)) failed.push(`${a.name}: ${readings.filter((r) => r.status === 'measured' && r.value === 0).map((r) => r.detail ?? r.metric).join('; ')}`);
        }
      }),
    );
  } catch (err) {
    if (err instanceof AbortedWhileHeld) return null;
    // A probe that failed for good is a check that could not be made: the week rolls back
    // rather than fail with its changes in place (as an operation that failed does).
    run.notify.alert(2, `${run.label}: check ${step.id} could not be made`, String(err));
    return { kind: 'rollback-week', reason: `check ${step.id} could not be made: ${String(err).slice(0, 300)}` };
  }
  run.notify.emit('check.done', { step: step.id, agents: agents.length, failed });
  if (!failed.length) return null;
  run.notify.alert(2, `${run.label}: check ${step.id} failed`, failed.join('; '));
  return { kind: 'rollback-week', reason: `check ${step.id} failed: ${failed.join('; ')}` };
}
