import { log } from '@temporalio/workflow';
import { runKey } from '../lib/ids';
import { retryOf } from '../lib/machine';
import { countAgentRollback } from '../lib/metrics';
import { newRollbackRecord, rollBack } from '../rollback/engine';
import type { MigrationOutcome } from './messages';
import type { MigrationRun } from './run';
import type { StepsEnd } from './steps';

const reasonOf = (end: Exclude<StepsEnd, { kind: 'migrated' }>): string => {
  switch (end.kind) {
    case 'trigger':
      return `${end.trigger.kind}: ${end.trigger.detail}`;
    case 'rejected':
      return `stage rejected by ${end.by}`;
    case 'operator-rollback':
      return `inconclusive verification; ${end.by} chose to roll back`;
    case 'aborted':
    case 'deadline':
    case 'skipped':
      return end.why;
    case 'failed':
      return `a step failed: ${end.message}`;
  }
};

/**
 * The level-1 rollback: the stages this migration registered, undone by the rollback engine
 * (newest first, read back, probed; a failed undo waits for a person here, in `needs-human`).
 * Returns how the migration ends: rolled back, rejected, or accepted as it is.
 */
export async function rollBackMigration(run: MigrationRun, end: Exclude<StepsEnd, { kind: 'migrated' }>): Promise<MigrationOutcome> {
  const { status, agent, machine, input } = run;
  const reason = reasonOf(end);
  const trigger = end.kind === 'trigger' ? end.trigger : null;
  if (trigger) log.warn('trigger fired', { agent, kind: trigger.kind, measured: trigger.measured, threshold: trigger.threshold });
  status.trigger = trigger;
  const record = newRollbackRecord(1, reason, trigger);
  status.rollback = record;
  run.setState('rolling-back');
  countAgentRollback(trigger?.kind ?? null, machine);
  await rollBack(
    [{ kind: 'migration', agent, machine, change: input.change, week: input.week ?? '', stages: [...run.compensations] }],
    {
      level: 1,
      reason,
      trigger,
      label: agent,
      keyPrefix: runKey('rollback'),
      responseThresholdMs: input.thresholds.responseTimeMs,
      notify: run.notify,
      machine: { queueWaitMs: input.timings.machineQueueWaitMs, retry: retryOf(input.timings), whenUnreachable: (u) => run.holdForMachine(u) },
      askPerson: async (p) => {
        run.setState('needs-human');
        run.pendingUndo = null;
        const decision = await run.persons.wait({ agent, machine, what: p.kind, detail: p.error }, () => run.pendingUndo);
        run.setState('rolling-back');
        return decision;
      },
      onChange: (_c, r) => {
        status.stagesApplied = r.remainingStages;
      },
    },
    record,
  );
  status.currentStage = null;
  return record.acceptedAsIs.length ? 'accepted-as-is' : end.kind === 'rejected' ? 'rejected' : 'rolled-back';
}
