import { stages } from '../../../../decisions/migration-steps';
import type { Reading } from '../../../../decisions/triggers';
import { onMachine, type MachineCallOptions } from '../../../lib/machine';

/** Something a week applied that a week or phase rollback can undo as a whole. */
export type AppliedChange =
  | { kind: 'migration'; agent: string; machine: string; change: string; week: string }
  | { kind: 'operation'; operation: string; machine: string; week: string };

/** A short name for records and reports: the agent, or machine/operation. */
export const appliedName = (c: AppliedChange): string => (c.kind === 'migration' ? c.agent : `${c.machine}/${c.operation}`);

/**
 * Undoes applied changes, newest first (each migration's stages in reverse order), on each
 * one's own machine. Keys make every undo idempotent, so a retried or repeated rollback is
 * harmless.
 */
export async function undoChanges(
  changes: AppliedChange[],
  level: 'week' | 'phase',
  keyPrefix: string,
  responseThresholdMs: number,
  onUndone: (c: AppliedChange, healthy: boolean) => void,
  machineOptions: MachineCallOptions = {},
): Promise<void> {
  for (const c of [...changes].reverse()) {
    const m = onMachine(c.machine, machineOptions);
    if (c.kind === 'operation') {
      await m.runOperation(`${level} rollback: undo ${c.operation} on ${c.machine}`, { name: c.operation, direction: 'undo', idempotencyKey: `${keyPrefix}:${c.machine}:${c.operation}:${level}-undo` });
    } else {
      for (const { stage, name } of [...stages].reverse()) {
        await m.runAction(`${level} rollback: undo stage ${stage} of 3, ${name}, of ${c.change} on ${c.machine}, ${c.agent}`, {
          action: 'undo-stage',
          agent: c.agent,
          change: c.change,
          stage,
          idempotencyKey: `${keyPrefix}:${c.agent}:${c.change}:s${stage}:${level}-undo`,
        });
      }
      // Each undo is verified by probing the agent on its machine.
      const health = await m.probeAgent(`probe ${c.agent} after the ${level} rollback`, { agent: c.agent, responseThresholdMs, checkIntegration: true });
      onUndone(c, healthyAfter(health));
      continue;
    }
    onUndone(c, true);
  }
}

/** Healthy after an undo: up, and its integration check passes (unmeasured readings do not count against it). */
export function healthyAfter(readings: Reading[]): boolean {
  return readings.every((r) => r.status !== 'measured' || (r.metric !== 'agentUp' && r.metric !== 'integration') || r.value === 1);
}
