import { stages } from '../../decisions/migration-steps';
import { onMachine } from './machine';

/** A change that is fully applied to an agent and can be undone as a whole. */
export interface AppliedChange {
  agent: string;
  machine: string;
  change: string;
  week: string;
}

/**
 * Undoes whole changes, newest first, each stage in reverse order, on each agent's own
 * machine. Keys make every undo idempotent, so a retried or repeated rollback is harmless.
 */
export async function undoChanges(changes: AppliedChange[], level: 'week' | 'phase', keyPrefix: string, onUndone: (c: AppliedChange) => void): Promise<void> {
  for (const c of [...changes].reverse()) {
    for (const { stage, name } of [...stages].reverse()) {
      await onMachine(c.machine).runAction(`${level} rollback: undo stage ${stage} of 3, ${name}, of ${c.change} on ${c.machine}, ${c.agent}`, {
        action: 'undo-stage',
        agent: c.agent,
        change: c.change,
        stage,
        idempotencyKey: `${keyPrefix}:${c.agent}:${c.change}:s${stage}:${level}-undo`,
      });
    }
    onUndone(c);
  }
}
