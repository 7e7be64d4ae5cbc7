import { patched, workflowInfo } from '@temporalio/workflow';
import { defaultRollbackUndosAtOncePerMachine } from '../../config/schema/plan-defaults';
import { migrationWorkflowId, runKey } from '../lib/ids';
import { countWideRollback } from '../lib/metrics';
import { rollbackInChildrenPatch } from '../lib/patches';
import { undoInChildren } from '../rollback/children';
import { newRollbackRecord, rollBack as runEngine, type AppliedChange, type RollbackLevel, type RollbackRecord } from '../rollback/engine';
import { rollbackMachine } from './holds';
import type { WeekRun } from './run';

/** Undoes changes of this week with the one rollback engine; what a person accepts stays in `applied`. */
export async function rollBackWeek(run: WeekRun, level: RollbackLevel, reason: string, changes: AppliedChange[]): Promise<RollbackRecord> {
  const record = newRollbackRecord(level, reason);
  run.status.rollback = record;
  run.setState('rolling-back');
  if (level >= 2) countWideRollback(2);
  // The undos in child workflows, machines at once: the week's history and the time stay bounded.
  const runner = patched(rollbackInChildrenPatch)
    ? undoInChildren({ idPrefix: `${workflowInfo().workflowId}.rollback${level}`, perChild: run.history.undosPerChild, atOncePerMachine: run.input.settings.timings.rollbackUndosAtOncePerMachine ?? defaultRollbackUndosAtOncePerMachine, phase: run.input.phase, week: run.input.week.id })
    : undefined;
  await runEngine(
    changes,
    {
      level,
      reason,
      label: run.label,
      keyPrefix: runKey(`level${level}-rollback`),
      responseThresholdMs: run.input.settings.thresholds.responseTimeMs,
      notify: run.notify,
      machine: rollbackMachine(run),
      askPerson: async (p) => {
        run.pendingUndo = null;
        const agent = p.change.kind === 'migration' ? p.change.agent : undefined;
        return run.persons.wait({ ...(agent ? { agent } : {}), machine: p.change.machine, what: p.kind, detail: p.error }, () => run.pendingUndo);
      },
      onChange: (c, r) => {
        const i = run.status.applied.indexOf(c);
        if (r.result === 'accepted-as-is') {
          if (i >= 0) run.status.applied[i] = c.kind === 'migration' ? { ...c, stages: r.remainingStages, acceptedAsIs: true } : { ...c, acceptedAsIs: true };
        } else if (i >= 0) run.status.applied.splice(i, 1);
        // The row of this change's own migration (an agent may be in two migrate steps of a week).
        const id = c.kind === 'migration' ? migrationWorkflowId(workflowInfo().workflowId, c.agent, c.change) : null;
        const p = id ? run.status.agents.find((a) => a.workflowId === id) : undefined;
        if (p) {
          p.state = r.result === 'undone' ? 'undone-with-week' : 'accepted-as-is';
          if (r.result === 'accepted-as-is') p.stagesLeft = r.remainingStages;
          run.agentsChanged(p.machine);
        }
      },
    },
    record,
    runner,
  );
  return record;
}
