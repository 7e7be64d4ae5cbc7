import { runKey } from '../../lib/ids';
import { onMachine } from '../../lib/machine';
import { AbortedWhileHeld, rolloutMachine } from '../holds';
import type { WeekRun } from '../run';
import { withLinkWatch } from '../link-watch';
import type { WeekStep } from '../messages';
import type { StepEnd } from './index';

/**
 * An operation of one machine's catalogue (deploying EdgeHub on pc2, say). Its undo is
 * registered before it runs, so an operation that timed out after taking effect is still
 * undone by a week or phase rollback; a failure rolls the week back.
 */
export async function operation(run: WeekRun, step: WeekStep): Promise<StepEnd> {
  const { machine, name } = step.operation!;
  run.status.applied.push({ kind: 'operation', operation: name, machine, week: run.input.week.id });
  try {
    await withLinkWatch(run, () =>
      onMachine(machine, rolloutMachine(run)).runOperation(`${step.title ?? name} (${name} on ${machine})`, {
        name,
        direction: 'run',
        idempotencyKey: runKey(`${machine}:${name}:run`),
      }),
    );
  } catch (err) {
    if (err instanceof AbortedWhileHeld) return null; // the abort decides what is undone
    run.notify.alert(2, `${run.label}: ${name} on ${machine} failed`, String(err));
    return { kind: 'rollback-week', reason: `operation ${name} on ${machine} failed` };
  }
  run.notify.emit('operation.applied', { machine, operation: name });
  return null;
}
